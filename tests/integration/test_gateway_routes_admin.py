"""README's bureau-admin routes through the gateway: the list of integration signing keys, and verifying the
event store's hash chain a page at a time."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Role
from tests.api import Api
from tests.integration.test_people_gateway import person, signed_in
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration
KEYS = "/api/v1/integrations/keys"
VERIFY = "/api/v1/audit/verify"


def public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


async def register(client: httpx.AsyncClient, integration: str, headers: dict[str, str] | None = None) -> Any:
    answer = await client.post(
        KEYS, json={"integration": integration, "public_key": public_key()}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_integration_keys_lists_the_bureaus_keys_oldest_first_revoked_ones_included(
    admin: httpx.AsyncClient, api: Api, stack_db: AsyncDatabase
) -> None:
    first = await register(admin, "财政一体化系统")
    clerk = await person(admin, "赵经办", "clerk", "zhao6501", role="admin")
    second = await register(admin, "国库集中支付系统", headers=await signed_in(admin, "zhao6501"))
    revoked = await admin.delete(f"{KEYS}/{first['key_id']}")
    assert revoked.status_code == 200, revoked.text

    listed = await admin.get(KEYS)

    assert listed.status_code == 200, listed.text
    assert [k["key_id"] for k in listed.json()] == [first["key_id"], second["key_id"]]
    old, new = listed.json()
    assert (old["integration"], old["public_key"], old["revoked"]) == (
        "财政一体化系统",
        first["public_key"],
        True,
    )
    assert old["revoked_at"].endswith("+08:00") and old["revoked_by"]
    assert (new["revoked"], new["revoked_at"], new["revoked_by"]) == (False, None, None)
    assert new["registered_by"] == clerk and {old["bureau"], new["bureau"]} == {admin.bureau}  # type: ignore[attr-defined]
    others = await api.innovation.get(KEYS)
    assert others.status_code == 200
    assert {k["key_id"] for k in others.json()}.isdisjoint({first["key_id"], second["key_id"]})
    viewer = await ApiKeyStore(stack_db).issue(admin.bureau, Role.VIEWER, "keys reader")  # type: ignore[attr-defined]
    refused = await admin.get(KEYS, headers={"Authorization": f"Bearer {viewer}"})
    assert refused.status_code == 403 and refused.json()["detail"]


async def test_audit_verify_walks_the_chain_a_page_at_a_time_from_where_the_last_page_stopped(
    admin: httpx.AsyncClient,
) -> None:
    assert (await admin.post("/api/v1/cases", json=case_body(6502))).status_code == 201

    async def several_events() -> dict[str, Any] | None:
        whole = await admin.get(VERIFY)
        assert whole.status_code == 200, whole.text
        return whole.json() if whole.json()["head_position"] > whole.json()["chain_start"] + 1 else None

    whole = await eventually(several_events, 60, "a chain of several events")
    assert whole["intact"] and whole["complete"] and whole["next_from"] is None
    start = whole["chain_start"]

    first = await admin.get(VERIFY, params={"from": start, "limit": 2})

    assert first.status_code == 200, first.text
    page = first.json()
    assert (page["intact"], page["complete"], page["broken"]) == (True, False, None)
    assert (page["from_position"], page["verified_up_to"]) == (start, start + 1)
    assert page["next_from"] == start + 2 and page["verified_hash"]

    rest = (await admin.get(VERIFY, params={"from": page["next_from"]})).json()

    assert (rest["intact"], rest["complete"], rest["next_from"]) == (True, True, None)
    assert rest["from_position"] == page["next_from"] and rest["verified_up_to"] == rest["head_position"]
    assert rest["summary"].startswith("intact up to position")
    for wrong in ({"limit": 0}, {"limit": 200_001}, {"from": 0}, {"from": "start"}):
        refused = await admin.get(VERIFY, params=wrong)
        assert refused.status_code == 422, (wrong, refused.text)
