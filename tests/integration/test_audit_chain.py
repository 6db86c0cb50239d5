"""Tampering with stored events through plain pymongo is detected and named, on a real SecantusDB."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.audit.walk import CONTENT_EDITED, OUT_OF_ORDER, POSITION_MISSING, Report, verify_chain
from shared.eventstore.chain import GENESIS
from shared.eventstore.mongo import EVENTS, HEAD_ID, META, MongoChain, MongoRecorder, to_document
from shared.eventstore.recorder import envelopes_for
from shared.eventstore.sequencer import LEASE_ID, Sequencer
from shared.testing.recorder_contract import event, recording
from tests.conftest import Servers

pytestmark = pytest.mark.integration


async def record(db: AsyncDatabase, streams: int, per_stream: int) -> None:
    """Append events to several streams and number them all."""
    recorder, sequencer = MongoRecorder(db.client, db), Sequencer(db)
    for v in range(per_stream):
        for s in range(streams):
            await recorder.append(recording(f"case-{s}", v), [event(v)])
    while await sequencer.sequence_once():
        pass


async def verify(db: AsyncDatabase, batch_size: int = 7) -> Report:
    return await verify_chain(MongoChain(db, batch_size))  # small windows: the walk crosses many


async def at(db: AsyncDatabase, position: int) -> dict:
    doc = await db[EVENTS].find_one({"position": position})
    assert doc is not None
    return doc


async def test_an_untouched_store_is_intact_up_to_the_head_hash(mongo_db: AsyncDatabase) -> None:
    await record(mongo_db, streams=4, per_stream=5)
    report = await verify(mongo_db)
    head = await mongo_db[META].find_one({"_id": HEAD_ID})
    assert head is not None and head["chain_start"] == 1
    assert report.intact and report.complete and report.events == 20
    assert (report.verified_up_to, report.verified_hash) == (20, head["hash"])


async def test_one_edited_field_is_detected_and_named(mongo_db: AsyncDatabase) -> None:
    await record(mongo_db, streams=4, per_stream=5)
    target = await at(mongo_db, 13)
    await mongo_db[EVENTS].update_one({"_id": target["_id"]}, {"$set": {"data.n": 42}})
    report = await verify(mongo_db)
    assert report.broken is not None
    assert (report.broken.position, report.broken.event_id, report.broken.what) == (
        13,
        target["_id"],
        CONTENT_EDITED,
    )
    assert report.verified_up_to == 12


async def test_a_deleted_event_is_detected_and_named(mongo_db: AsyncDatabase) -> None:
    await record(mongo_db, streams=4, per_stream=5)
    await mongo_db[EVENTS].delete_one({"position": 9})
    report = await verify(mongo_db)
    assert report.broken is not None and (report.broken.position, report.broken.what) == (9, POSITION_MISSING)


async def test_two_swapped_positions_are_detected_and_named(mongo_db: AsyncDatabase) -> None:
    await record(mongo_db, streams=4, per_stream=5)
    a, b = await at(mongo_db, 6), await at(mongo_db, 15)
    # Through a spare position: the position index is unique.
    await mongo_db[EVENTS].update_one({"_id": a["_id"]}, {"$set": {"position": 10**9}})
    await mongo_db[EVENTS].update_one({"_id": b["_id"]}, {"$set": {"position": 6}})
    await mongo_db[EVENTS].update_one({"_id": a["_id"]}, {"$set": {"position": 15}})
    report = await verify(mongo_db)
    assert report.broken is not None
    assert (report.broken.position, report.broken.event_id, report.broken.what) == (6, b["_id"], OUT_OF_ORDER)


async def test_a_head_recovered_after_a_crash_keeps_the_chain(mongo_db: AsyncDatabase) -> None:
    # Given a sequencer that numbered events and died before moving the head (head and its hash behind)
    await record(mongo_db, streams=3, per_stream=2)
    stale = await at(mongo_db, 3)
    await mongo_db[META].update_one({"_id": HEAD_ID}, {"$set": {"position": 3, "hash": stale["hash"]}})
    await mongo_db[META].delete_one({"_id": LEASE_ID})  # its lease ran out
    # When another sequencer takes over and numbers more events
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    await recorder.append(recording("late", 0), [event(1)])
    while await sequencer.sequence_once():
        pass
    # Then the chain runs on from the recovered head hash without a break
    report = await verify(mongo_db)
    assert report.intact and report.complete and report.verified_up_to == 7


async def test_a_store_from_before_the_chain_starts_it_after_its_head(mongo_db: AsyncDatabase) -> None:
    # Given events numbered before the chain existed (no hashes; the head document without chain fields)
    old = envelopes_for(recording("old", 0), [event(1), event(2), event(3)], datetime.now(UTC))
    docs = [to_document(e.model_copy(update={"position": i}), "old", i) for i, e in enumerate(old, start=1)]
    for d in docs:
        d.pop("pending")
    await mongo_db[EVENTS].insert_many(docs)
    await mongo_db[META].replace_one({"_id": HEAD_ID}, {"position": 3})
    # When the upgraded sequencer numbers new events
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    await recorder.append(recording("new", 0), [event(1), event(2)])
    while await sequencer.sequence_once():
        pass
    # Then the chain starts at position 4, from GENESIS, and verify says the older positions predate it
    head = await mongo_db[META].find_one({"_id": HEAD_ID})
    assert head is not None and head["chain_start"] == 4
    assert (await at(mongo_db, 4))["prev_hash"] == GENESIS
    report = await verify(mongo_db)
    assert report.intact and report.events == 2 and report.verified_up_to == 5
    assert "positions 1-3 predate the chain" in report.summary()


async def test_make_verify_prints_the_verdict_and_fails_on_a_break(
    mongo_db: AsyncDatabase, infra: Servers
) -> None:
    await record(mongo_db, streams=2, per_stream=3)
    env = {**os.environ, "MONGODB_URI": infra.mongo_uri, "MONGODB_DATABASE": mongo_db.name}

    async def run() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shared.audit.verify", env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode or 0, out.decode()

    code, out = await run()
    assert code == 0 and out.startswith("intact up to position 6, head hash ") and "events/s" in out
    await mongo_db[EVENTS].update_one({"position": 2}, {"$set": {"bureau": "innovation"}})
    code, out = await run()
    assert code == 1 and "BROKEN at position 2" in out and CONTENT_EDITED in out
