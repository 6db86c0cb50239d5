"""The audit route through the gateway, and the chain staying put through a rebuild and a replay."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Role
from shared.devstack.stack import Stack
from shared.eventstore.mongo import EVENTS, HEAD_ID, META
from shared.messaging.relay import CHECKPOINTS
from tests.api import Api
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration


async def chain_snapshot(db: AsyncDatabase, up_to: int) -> dict[int, tuple[str, str, str]]:
    """Return position -> (event id, hash, previous hash) of every event up to a position."""
    cursor = db[EVENTS].find({"position": {"$lte": up_to}}, {"hash": 1, "prev_hash": 1, "position": 1})
    return {d["position"]: (d["_id"], d["hash"], d["prev_hash"]) async for d in cursor}


async def head(db: AsyncDatabase) -> dict:
    doc = await db[META].find_one({"_id": HEAD_ID})
    assert doc is not None
    return doc


async def test_an_admin_verifies_the_chain_through_the_gateway_and_staff_are_refused(
    api: Api, stack: Stack, stack_db: AsyncDatabase
) -> None:
    answer = await api.finance.post("/api/v1/cases", json=case_body(901))
    assert answer.status_code == 201
    await api.wait_for_case(answer.json()["case_id"])

    async def sequenced() -> int | None:
        return (await head(stack_db))["position"] or None

    await eventually(sequenced, 30, "the case's events to be sequenced")
    verdict = await api.finance.get("/api/v1/audit/verify")
    assert verdict.status_code == 200, verdict.text
    body = verdict.json()
    assert body["intact"] and body["complete"] and body["broken"] is None
    assert body["verified_up_to"] >= 1 and body["summary"].startswith("intact up to position")

    staff_key = await ApiKeyStore(stack_db).issue("finance", Role.STAFF, "audit test staff")
    async with httpx.AsyncClient(
        base_url=stack.config.url("gateway"), headers={"Authorization": f"Bearer {staff_key}"}, timeout=30
    ) as staff:
        refused = await staff.get("/api/v1/audit/verify")
    assert refused.status_code == 403 and "bureau admins and zone operators only" in refused.json()["detail"]


async def test_a_rebuild_and_a_replay_change_no_hash(api: Api, stack: Stack, stack_db: AsyncDatabase) -> None:
    # Given cases recorded and sequenced
    for n in range(911, 916):
        assert (await api.finance.post("/api/v1/cases", json=case_body(n))).status_code == 201

    async def all_sequenced() -> dict | None:
        pending = await stack_db[EVENTS].count_documents({"pending": {"$exists": True}})
        return None if pending else await head(stack_db)

    before_head = await eventually(all_sequenced, 60, "every event to be sequenced")
    before = await chain_snapshot(stack_db, before_head["position"])
    assert len(before) == before_head["position"] - before_head["chain_start"] + 1

    # When the case view is rebuilt from the store
    env = {**os.environ, "MONGODB_URI": stack.config.mongo_uri, "MONGODB_DATABASE": stack.config.database}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.casequery.rebuild",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, err.decode()
    # And every event is replayed to Kafka from position 0 by a relay restarted with its progress reset
    stack.services["relay"].stop()
    await stack_db[CHECKPOINTS].update_one({"_id": "kafka"}, {"$set": {"position": 0, "owner": None}})
    await asyncio.to_thread(stack.start_service, "relay")

    async def replayed() -> int | None:
        doc = await stack_db[CHECKPOINTS].find_one({"_id": "kafka"})
        return doc["position"] if doc and doc["position"] >= before_head["position"] else None

    await eventually(replayed, 120, "the relay to publish every event again")

    # Then no hash changed, and the chain verifies
    assert await chain_snapshot(stack_db, before_head["position"]) == before
    verdict = (await api.finance.get("/api/v1/audit/verify")).json()
    assert verdict["intact"] and verdict["verified_up_to"] >= before_head["position"]
