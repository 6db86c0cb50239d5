"""`python -m shared.auth.integration_keys_cli` on a real SecantusDB: an operator generates, registers, lists
and revokes an integration's key; the private key file is the owner's only. The demo keys `make run` seeds
survive restarts and verify."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.integration_keys import IntegrationKeyDirectory
from shared.auth.integration_keys_cli import DEMO_INTEGRATION, seed_demo_signing_keys
from shared.auth.keys import Bureau, BureauDirectory
from shared.auth.signing import verify_message
from tests.conftest import Servers
from tests.kafka_client import IntakeSigner

pytestmark = pytest.mark.integration


def cli(infra: Servers, db: AsyncDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MONGODB_URI": infra.mongo_uri, "MONGODB_DATABASE": db.name}
    command = [sys.executable, "-m", "shared.auth.integration_keys_cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_operator_generates_registers_lists_and_revokes_a_key(
    infra: Servers, mongo_db: AsyncDatabase, tmp_path: Path
) -> None:
    await BureauDirectory(mongo_db).register(Bureau(id="finance", name_zh="财政金融局", name_en="Finance"))
    pem = tmp_path / "oa.pem"

    generated = await asyncio.to_thread(cli, infra, mongo_db, "keygen", "--out", str(pem))
    public_key = generated.stdout.strip()
    registered = await asyncio.to_thread(
        cli,
        infra,
        mongo_db,
        "register",
        "finance",
        "--integration",
        "财政一体化系统",
        "--public-key",
        public_key,
    )
    key_id = registered.stdout.strip()
    revoked = await asyncio.to_thread(cli, infra, mongo_db, "revoke", "finance", key_id)
    listed = await asyncio.to_thread(cli, infra, mongo_db, "list", "finance")

    assert stat.S_IMODE(pem.stat().st_mode) == 0o600 and pem.read_text().startswith("-----BEGIN PRIVATE KEY")
    key = await IntegrationKeyDirectory(mongo_db).get(key_id)
    assert key is not None and key.public_key == public_key and key.integration == "财政一体化系统"
    assert revoked.returncode == 0 and key.revoked
    assert listed.stdout.startswith(f"{key_id}\t财政一体化系统\trevoked ")


async def test_cli_refuses_an_unknown_bureau_a_bad_key_and_an_existing_key_file(
    infra: Servers, mongo_db: AsyncDatabase, tmp_path: Path
) -> None:
    await BureauDirectory(mongo_db).register(Bureau(id="finance", name_zh="财政金融局", name_en="Finance"))
    existing = tmp_path / "taken.pem"
    existing.write_text("keep me")

    unknown = await asyncio.to_thread(cli, infra, mongo_db, "list", "nowhere")
    bad = await asyncio.to_thread(
        cli, infra, mongo_db, "register", "finance", "--integration", "oa", "--public-key", "AAAA"
    )
    overwrite = await asyncio.to_thread(cli, infra, mongo_db, "keygen", "--out", str(existing))

    assert unknown.returncode != 0 and "unknown bureau 'nowhere'" in unknown.stderr
    assert bad.returncode != 0 and "32 bytes" in bad.stderr
    assert overwrite.returncode != 0 and existing.read_text() == "keep me"


async def test_demo_seeding_reuses_its_key_across_restarts_and_replaces_a_revoked_one(
    mongo_db: AsyncDatabase, tmp_path: Path
) -> None:
    first = await seed_demo_signing_keys(mongo_db, tmp_path / "signing", ["finance", "innovation"])
    again = await seed_demo_signing_keys(mongo_db, tmp_path / "signing", ["finance", "innovation"])
    directory = IntegrationKeyDirectory(mongo_db, cache_seconds=0)
    await directory.revoke("finance", first["finance"]["key_id"])

    rotated = await seed_demo_signing_keys(mongo_db, tmp_path / "signing", ["finance", "innovation"])

    assert again == first and first["finance"]["key_id"] != first["innovation"]["key_id"]
    assert rotated["innovation"] == first["innovation"]
    assert rotated["finance"]["key_id"] != first["finance"]["key_id"]
    pem = await asyncio.to_thread(Path(rotated["finance"]["private_key"]).read_bytes)
    private = load_pem_private_key(pem, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    signer = IntakeSigner(private, rotated["finance"]["key_id"], "finance")
    sender = await verify_message(
        directory, body=b"{}", headers=signer.headers(b"{}"), claimed_bureau="finance"
    )
    assert sender.integration == DEMO_INTEGRATION
