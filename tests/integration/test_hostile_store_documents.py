"""Documents written straight into the event store (past the recorder) on a real SecantusDB: the sequencer
never numbers what cannot be read as an event, the relay parks what has no topic, and stream readers pass
over documents that are neither pending nor numbered.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.relay.settings import RelaySettings
from shared.audit.walk import verify_chain
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import ALL_TOPICS
from shared.eventstore.mongo import EVENTS, MongoChain, MongoRecorder, to_document
from shared.eventstore.recorder import ConcurrencyError
from shared.eventstore.sequencer import Sequencer
from shared.eventstore.unreadable import REJECTED, UnreadableEvent
from shared.messaging.kafka import ensure_topics
from shared.metrics import metrics
from shared.testing.recorder_contract import ACTOR, event, recording
from tests.conftest import Servers
from tests.integration.test_relay_supervision import (
    append_cases,
    healthz,
    keys_on_topic,
    relay_service,
    running_relay,
)
from tests.support import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def topics(infra: Servers) -> None:
    await ensure_topics(RelaySettings(kafka_bootstrap_servers=infra.bootstrap), ALL_TOPICS)


async def settle(sequencer: Sequencer) -> None:
    while await sequencer.sequence_once():
        pass


def envelope(stream_id: str, version: int = 1, stream_type: str = "case") -> EventEnvelope:
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="Tested",
        schema_version=1,
        stream_id=stream_id,
        stream_type=stream_type,
        version=version,
        bureau="finance",
        occurred_at=now,
        recorded_at=now,
        actor=ACTOR,
        correlation_id=uuid.uuid4(),
        data={"n": version},
    )


def hostile(variant: str, stream_id: str, version: int = 1) -> dict[str, Any]:
    """A pending document as attack2_pending.py writes it: like a real one, but not an event."""
    real = to_document(envelope(stream_id, version), f"adv:{uuid.uuid4()}", 0)
    if variant == "missing_fields":
        return {
            "_id": str(uuid.uuid4()),
            "stream_id": stream_id,
            "version": version,
            "pending": real["pending"],
        }
    if variant == "wrong_types":
        return real | {"actor": "not-an-object", "occurred_at": "yesterday", "schema_version": "one"}
    if variant == "version_as_text":
        return real | {"version": str(version)}
    if variant == "too_large":  # 16 MiB less a little: numbering it would push it past MongoDB's limit
        return real | {"data": {"blob": "x" * (16 * 1024 * 1024 - 1200)}}
    assert variant == "position_in_advance"
    return real | {"position": 10_000}


async def rejected_reasons(db: AsyncDatabase) -> dict[str, str]:
    return {d["_id"]: d["reason"] async for d in db[REJECTED].find()}


@pytest.mark.parametrize(
    ("variant", "why"),
    [
        ("missing_fields", "event_type: Field required"),
        ("wrong_types", "actor: Input should be"),
        ("version_as_text", "version: stored as str"),
        ("position_in_advance", "carries position"),
        ("too_large", "too close to MongoDB's 16 MiB to be numbered"),
    ],
)
async def test_a_pending_document_that_is_not_an_event_is_set_aside_unnumbered_and_the_order_stays_gap_free(
    mongo_db: AsyncDatabase, variant: str, why: str
) -> None:
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    rejected_before = metrics().eventstore_rejected_documents._value.get()
    # Given real events around a document written past the recorder, pending like theirs
    await recorder.append(recording("before", 0), [event(1)])
    junk = hostile(variant, f"junk-{uuid.uuid4().hex[:6]}")
    await mongo_db[EVENTS].insert_one(copy.deepcopy(junk))
    await recorder.append(recording("after", 0), [event(2)])
    # When the sequencer runs
    await settle(sequencer)
    # Then only the real events are numbered, 1 and 2, and the chain is intact
    page = await recorder.read_all(0, 100)
    assert [(e.stream_id, e.position) for e in page] == [("before", 1), ("after", 2)]
    report = await verify_chain(MongoChain(mongo_db))
    assert report.intact and report.verified_up_to == 2 and report.unused_positions == 0
    # and the document is out of the store, set aside whole with the reason, and counted
    assert await mongo_db[EVENTS].find_one({"_id": junk["_id"]}) is None
    kept = await mongo_db[REJECTED].find_one({"_id": junk["_id"]})
    assert kept is not None and kept["document"]["stream_id"] == junk["stream_id"]
    assert why in kept["reason"] and kept["rejected_at"] is not None
    assert metrics().eventstore_rejected_documents._value.get() == rejected_before + 1
    assert await MongoChain(mongo_db).rejected() == 1


async def test_a_set_aside_document_frees_its_stream_version_for_the_real_event(
    mongo_db: AsyncDatabase,
) -> None:
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    # Given a stream at version 1 and an unreadable pending document holding its version 2
    await recorder.append(recording("taken", 0), [event(1)])
    await settle(sequencer)
    await mongo_db[EVENTS].insert_one(hostile("wrong_types", "taken", version=2))
    # While it is there, an append expecting version 1 is refused as a conflict (HTTP 409): nothing is written
    with pytest.raises(ConcurrencyError):
        await MongoRecorder(mongo_db.client, mongo_db).append(recording("taken", 1), [event(2)])
    # When the sequencer sets it aside, the same append goes through and is numbered right after version 1
    await settle(sequencer)
    appended = await recorder.append(recording("taken", 1), [event(2)])
    await settle(sequencer)
    stream = await recorder.read_stream("taken")
    assert [(e.version, e.data["n"], e.position) for e in stream] == [(1, 1, 1), (2, 2, 2)]
    assert stream[1].event_id == appended.events[0].event_id
    assert (await verify_chain(MongoChain(mongo_db))).intact


async def test_a_pending_event_whose_stream_type_has_no_topic_is_parked_and_the_relay_goes_on(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    prefix = f"nowhere-{uuid.uuid4().hex[:8]}"
    # Given an event of a stream type no topic carries (a valid envelope otherwise)
    spaceship = envelope(f"{prefix}-ship", stream_type="spaceship")
    await mongo_db[EVENTS].insert_one(to_document(spaceship, f"adv:{uuid.uuid4()}", 0))
    async with running_relay(mongo_db, infra.bootstrap) as running:
        # When events are appended after it
        await append_cases(mongo_db, f"{prefix}-next", 3)
        # Then they are published, and it is parked with its reason
        found = await asyncio.to_thread(keys_on_topic, infra.bootstrap, f"{prefix}-next", 3, 60)
        assert sorted(found.values()) == [1, 1, 1]
        parked = await mongo_db.relay_parked.find_one({"_id": str(spaceship.event_id)})
        assert parked is not None and "no topic for stream type 'spaceship'" in parked["reason"]
        assert parked["position"] == 1 and running.relay.status.parked == 1


async def test_a_relay_stalled_on_an_unreadable_numbered_event_names_its_position_and_id(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    # Given numbered events, the second edited afterwards so that it no longer reads as an envelope
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    for i in range(3):
        await recorder.append(recording(f"edited-{i}", 0), [event(i)])
    await settle(Sequencer(mongo_db))
    second = await mongo_db[EVENTS].find_one({"position": 2})
    assert second is not None
    await mongo_db[EVENTS].update_one({"_id": second["_id"]}, {"$unset": {"actor": ""}})
    # When the relay reads the global order
    async with running_relay(mongo_db, infra.bootstrap) as running:

        async def stalled() -> str | None:
            return running.relay.status.last_error

        error = await eventually(stalled, 30, "the relay to report its error")
    # Then its error names the position and the event id, and why
    assert "UnreadableEvent" in error and "position 2" in error and second["_id"] in error
    assert "actor: Field required" in error


async def test_a_document_neither_pending_nor_numbered_is_not_read_as_part_of_its_stream(
    mongo_db: AsyncDatabase,
) -> None:
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    # Given a stream at version 3 and a document at its version 4 that is neither pending nor numbered
    for v in range(3):
        await recorder.append(recording("victim", v), [event(v + 1)])
    await settle(sequencer)
    last = await mongo_db[EVENTS].find_one({"stream_id": "victim", "version": 3})
    assert last is not None
    stray = {k: v for k, v in last.items() if k not in ("position", "hash", "prev_hash")}
    stray.update(_id=str(uuid.uuid4()), version=4, data={"n": "INJECTED"}, command_id=f"adv:{uuid.uuid4()}")
    await mongo_db[EVENTS].insert_one(stray)
    # Then a fresh reader sees versions 1-3 only, as the stream's version too
    fresh = MongoRecorder(mongo_db.client, mongo_db)
    assert [e.version for e in await fresh.read_stream("victim")] == [1, 2, 3]
    assert await fresh.stream_version("victim") == 3
    # and nothing is built on it: an append expecting version 4 finds no such event, one expecting 3 collides
    with pytest.raises(ConcurrencyError):
        await fresh.append(recording("victim", 4), [event(5)])
    with pytest.raises(ConcurrencyError):
        await fresh.append(recording("victim", 3), [event(4), event(5)])
    assert await mongo_db[EVENTS].count_documents({"stream_id": "victim"}) == 4
    # and the audit names it
    strays, first = await MongoChain(mongo_db).strays()
    assert strays == 1 and first[0]["_id"] == stray["_id"] and first[0]["version"] == 4


async def test_make_verify_fails_and_names_a_document_neither_pending_nor_numbered(
    mongo_db: AsyncDatabase, infra: Servers
) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    await recorder.append(recording("listed", 0), [event(1)])
    await settle(Sequencer(mongo_db))
    await mongo_db[EVENTS].insert_one({"_id": "stray-1", "stream_id": "listed", "version": 2})
    await mongo_db[REJECTED].insert_one({"_id": "old-junk", "document": {}, "reason": "x"})
    env = {**os.environ, "MONGODB_URI": infra.mongo_uri, "MONGODB_DATABASE": mongo_db.name}

    async def run(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shared.audit.verify", *args, env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode or 0, out.decode()

    code, text = await run()
    assert code == 1 and text.startswith("intact up to position 1, head hash ")
    assert "STRAY: 1 document(s)" in text and "'stray-1' (stream 'listed', version 2)" in text
    assert "1 unreadable document(s) set aside unnumbered in events_rejected" in text
    # A partial walk skips the scan of the whole collection
    code, text = await run("--limit", "1")
    assert code == 0 and "STRAY" not in text


async def test_an_event_with_envelope_fields_this_version_does_not_know_is_numbered_never_set_aside(
    mongo_db: AsyncDatabase,
) -> None:
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    # Given an event a newer writer recorded mid-upgrade, with an envelope field this code does not know
    newer = to_document(envelope(f"newer-{uuid.uuid4().hex[:6]}"), f"cmd:{uuid.uuid4()}", 0) | {"tenant": "x"}
    await mongo_db[EVENTS].insert_one(newer)
    # When the sequencer runs, it is numbered (it is an event: moving it out would lose it) ...
    await settle(sequencer)
    stored = await mongo_db[EVENTS].find_one({"_id": newer["_id"]})
    assert stored is not None and stored["position"] == 1 and await MongoChain(mongo_db).rejected() == 0
    # ... the relay is not handed it from memory, and reading it back stops on it, saying where and why
    assert sequencer.numbered == []
    with pytest.raises(UnreadableEvent, match=r"position 1 .*tenant: Extra inputs are not permitted"):
        await recorder.read_all(0, 100)


async def test_the_relay_health_raises_an_alarm_for_a_document_set_aside_until_it_is_resolved(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    async with relay_service(infra, mongo_db) as (_, http):
        await mongo_db[EVENTS].insert_one(hostile("missing_fields", f"junk-{uuid.uuid4().hex[:6]}"))

        async def alarmed() -> dict[str, Any] | None:
            status, body = await healthz(http)
            return body if status == 503 and body["checks"]["rejected_documents"] != "ok" else None

        body = await eventually(alarmed, 30, "the set-aside document on /healthz")
        assert body["checks"]["rejected_documents"] == "down: DocumentsSetAside"
        assert body["relay"]["rejected_unresolved"] == 1 and body["checks"]["loop"] == "ok"
        # An operator looked into it and set resolved_at: the alarm ends
        await mongo_db[REJECTED].update_many({}, {"$set": {"resolved_at": datetime.now(UTC)}})
        status, body = await healthz(http)
        assert status == 200 and body["checks"]["rejected_documents"] == "ok", body
