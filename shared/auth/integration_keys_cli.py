"""Ops: integration signing keys from the shell (uses MONGODB_URI, as `python -m shared.auth`), and the demo
keys `make run` seeds so a developer can sign intake messages with nothing to type.

python -m shared.auth.integration_keys_cli keygen --out finance-oa.pem     # a bureau's side: new key pair
python -m shared.auth.integration_keys_cli register finance --integration 财政一体化系统 --public-key @pub.txt
python -m shared.auth.integration_keys_cli list finance
python -m shared.auth.integration_keys_cli revoke finance ik_0123456789abcdef
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.integration_keys import IntegrationKeyDirectory, InvalidPublicKey, KeyAlreadyRegistered
from shared.auth.keys import BureauDirectory
from shared.config import ConnectionSettings
from shared.service import Mongo

DEMO_INTEGRATION = "演示对接系统 (make run)"


def keygen(out: Path) -> str:
    """Write a new private key (PEM, owner-only) to out; return its public key as raw base64."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite a key
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    return public_key_of(private)


def public_key_of(private: Ed25519PrivateKey) -> str:
    """Return the public half as raw base64, the form the directory stores."""
    return base64.b64encode(private.public_key().public_bytes_raw()).decode()


async def seed_demo_signing_keys(
    db: AsyncDatabase, key_dir: Path, bureaus: Iterable[str]
) -> dict[str, dict[str, str]]:
    """Per demo bureau: a private key file in key_dir and its registered key id, reused across restarts
    (a key revoked meanwhile, or registered elsewhere, is replaced by a new one)."""
    directory = IntegrationKeyDirectory(db, cache_seconds=0)
    await directory.ensure_indexes()
    seeded: dict[str, dict[str, str]] = {}
    for bureau in bureaus:
        path = key_dir / f"{bureau}-demo-integration.pem"
        public = await asyncio.to_thread(_load, path)
        mine = [k for k in await directory.of_bureau(bureau) if k.public_key == public and not k.revoked]
        if mine:
            key_id = mine[0].key_id
        else:
            public = await asyncio.to_thread(_replace, path)
            key_id = (await directory.register(bureau, DEMO_INTEGRATION, public, "make run")).key_id
        seeded[bureau] = {"key_id": key_id, "private_key": str(path)}
    return seeded


def _replace(path: Path) -> str:
    """Write a new key at path (the old one was revoked, unknown or another bureau's); return its public key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return keygen(path)


def _load(path: Path) -> str | None:
    """Return the public key of the private key stored at path, or None."""
    if not path.exists():
        return None
    private = load_pem_private_key(path.read_bytes(), password=None)
    return public_key_of(private) if isinstance(private, Ed25519PrivateKey) else None


def _text(value: str) -> str:
    """Return the argument, or the content of the file it names with a leading @."""
    return Path(value[1:]).read_text() if value.startswith("@") else value


async def _run(args: argparse.Namespace) -> None:
    mongo = Mongo.from_settings(ConnectionSettings())
    directory = IntegrationKeyDirectory(mongo.db, cache_seconds=0)
    try:
        if not await BureauDirectory(mongo.db).exists(args.bureau):
            raise SystemExit(f"unknown bureau {args.bureau!r}: register it first")
        if args.command == "register":
            await directory.ensure_indexes()
            try:
                key = await directory.register(args.bureau, args.integration, _text(args.public_key), "cli")
            except (InvalidPublicKey, KeyAlreadyRegistered) as exc:
                raise SystemExit(f"refused: {exc}") from None
            print(key.key_id)
        elif args.command == "list":
            for key in await directory.of_bureau(args.bureau):
                state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
                print(f"{key.key_id}\t{key.integration}\t{state}\t{key.public_key}")
        else:
            if await directory.revoke(args.bureau, args.key_id, "cli") is None:
                raise SystemExit(f"bureau {args.bureau!r} has no key {args.key_id!r}")
            print(f"{args.key_id} revoked")
    finally:
        await mongo.client.close()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.auth.integration_keys_cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("keygen", help="write a new private key (PEM) and print its public key")
    gen.add_argument("--out", type=Path, required=True)
    register = sub.add_parser(
        "register", help="register a bureau integration's public key; prints the key id"
    )
    register.add_argument("bureau")
    register.add_argument("--integration", required=True)
    register.add_argument("--public-key", required=True, help="raw base64 or PEM; @file reads it from a file")
    listing = sub.add_parser("list", help="list a bureau's keys")
    listing.add_argument("bureau")
    revoke = sub.add_parser("revoke", help="revoke a key (its messages go to the DLQ from then on)")
    revoke.add_argument("bureau")
    revoke.add_argument("key_id")
    args = parser.parse_args()
    if args.command == "keygen":
        try:
            print(keygen(args.out))
        except FileExistsError:
            raise SystemExit(f"refused: {args.out} exists (a key is never overwritten)") from None
        return
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
