"""The relay on a real Tansu and SecantusDB: it survives unexpected errors, says on /healthz when it cannot
keep up, sets aside an event the broker refuses, and a second instance stands by instead of double-publishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import NotLeaderForPartitionError
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from services.relay.bootstrap import build_app
from services.relay.settings import RelaySettings
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import ALL_TOPICS, CASE_EVENTS
from shared.eventstore.mongo import EVENTS, MongoRecorder, to_document
from shared.eventstore.sequencer import Sequencer
from shared.eventstore.watch import AppendWatcher
from shared.messaging.kafka import ensure_topics
from shared.messaging.relay import CheckpointStore, OutboxRelay, ParkedEvents
from shared.testing.recorder_contract import ACTOR, event, recording
from tests.conftest import Servers
from tests.support import eventually

pytestmark = pytest.mark.integration


def keys_on_topic(
    bootstrap: str, prefix: str, expected: int, timeout: float, linger: float = 2.0
) -> Counter[str]:
    """Count the records on case.events.v1 per key starting with prefix, reading from the beginning.

    Reads until `expected` such records arrived, then `linger` seconds more so duplicates would show.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4()}"})
    partitions = consumer.list_topics(CASE_EVENTS, timeout=10).topics[CASE_EVENTS].partitions
    consumer.assign([TopicPartition(CASE_EVENTS, p, OFFSET_BEGINNING) for p in partitions])
    found: Counter[str] = Counter()
    deadline, stop_at = time.monotonic() + timeout, float("inf")
    try:
        while time.monotonic() < min(deadline, stop_at):
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                key = (message.key() or b"").decode()
                if key.startswith(prefix):
                    found[key] += 1
            if sum(found.values()) >= expected and stop_at == float("inf"):
                stop_at = time.monotonic() + linger
    finally:
        consumer.close()
    return found


async def append_cases(db: AsyncDatabase, prefix: str, count: int) -> list[str]:
    """Open `count` one-event streams named prefix-i; return their ids."""
    recorder = MongoRecorder(db.client, db)
    streams = [f"{prefix}-{i}" for i in range(count)]
    for i, stream in enumerate(streams):
        await recorder.append(recording(stream, 0), [event(i)])
    return streams


@dataclass
class RunningRelay:
    relay: OutboxRelay
    task: asyncio.Task[None]


class FailsOnce:
    """A producer whose send of one stream's first record fails, as when no leader is known in time."""

    def __init__(self, producer: AIOKafkaProducer, stream_id: str) -> None:
        self._producer, self._key, self.failed = producer, stream_id.encode(), False

    async def send(self, topic: str, **record: Any) -> asyncio.Future[Any]:
        if record["key"] == self._key and not self.failed:
            self.failed = True
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_exception(NotLeaderForPartitionError())
            return future
        return await self._producer.send(topic, **record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)


@asynccontextmanager
async def running_relay(
    db: AsyncDatabase, bootstrap: str, lease_seconds: float = 15.0, fails_once_for: str | None = None
) -> AsyncIterator[RunningRelay]:
    """An OutboxRelay in this process, as services/relay runs it."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    relay = OutboxRelay(
        recorder=MongoRecorder(db.client, db),
        sequencer=Sequencer(db, lease_seconds=lease_seconds),
        checkpoints=CheckpointStore(db, "kafka", lease_seconds=lease_seconds),
        producer=(  # type: ignore[arg-type]
            producer if fails_once_for is None else FailsOnce(producer, fails_once_for)
        ),
        parked=ParkedEvents(db),
        batch_size=50,
    )
    watcher = AppendWatcher(db[EVENTS])
    await producer.start()
    watcher.start()
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(watcher, stop))
    try:
        yield RunningRelay(relay, task)
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await watcher.stop()
        await producer.stop()


@asynccontextmanager
async def relay_service(
    infra: Servers, db: AsyncDatabase, **settings: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The relay service's app in this process, its lifespan running; yields (app state, /healthz client)."""
    app = build_app(
        RelaySettings(
            kafka_bootstrap_servers=infra.bootstrap,
            mongodb_uri=infra.mongo_uri,
            mongodb_database=db.name,
            **settings,
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relay") as http,
    ):
        yield app.state, http


async def healthz(http: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    answer = await http.get("/healthz")
    return answer.status_code, answer.json()


@pytest.fixture
async def topics(infra: Servers) -> None:
    await ensure_topics(RelaySettings(kafka_bootstrap_servers=infra.bootstrap), ALL_TOPICS)


async def test_relay_keeps_publishing_after_an_unexpected_exception_in_its_loop(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    prefix = f"boom-{uuid.uuid4().hex[:8]}"
    async with running_relay(mongo_db, infra.bootstrap) as running:
        # Given a relay whose next two rounds fail with an error nobody anticipated
        sequence_once = running.relay._sequencer.sequence_once
        failures = iter([RuntimeError("unexpected"), RuntimeError("unexpected again")])

        async def flaky() -> int:
            failure = next(failures, None)
            if failure:
                raise failure
            return await sequence_once()

        running.relay._sequencer.sequence_once = flaky  # type: ignore[method-assign]
        # When events are appended
        await append_cases(mongo_db, prefix, 5)
        # Then the loop is still alive and they are published
        found = await asyncio.to_thread(keys_on_topic, infra.bootstrap, prefix, 5, 60)
        assert sorted(found.values()) == [1] * 5
        assert not running.task.done()
        assert running.relay.status.errors >= 2 and "RuntimeError" in (running.relay.status.last_error or "")


async def test_relay_healthz_answers_503_when_its_loop_has_stopped(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    async with relay_service(infra, mongo_db) as (state, http):
        # Given a healthy relay that took the publisher lease (healthy already while it starts)
        status, body = await eventually(lambda: _when_active(healthz(http)), 30, "the relay to be active")
        assert body["relay"]["state"] == "active"
        # When its loop ends
        state.relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.relay_task
        # Then /healthz says so
        status, body = await healthz(http)
        assert status == 503
        assert body["checks"]["loop"] == "down: RelayLoopStopped" and body["relay"]["state"] == "stopped"


@pytest.mark.parametrize(
    ("settings", "verdict"),
    [({"max_lag": 2}, "down: RelayLagging"), ({"stall_seconds": 1.0}, "down: RelayStalled")],
)
async def test_relay_healthz_answers_503_when_it_falls_behind_the_store(
    infra: Servers, mongo_db: AsyncDatabase, topics: None, settings: dict[str, Any], verdict: str
) -> None:
    async with relay_service(infra, mongo_db, **settings) as (state, http):
        await eventually(lambda: _when_ok(healthz(http)), 30, "the relay to be healthy")

        # Given a relay that sequences but cannot publish anything
        async def refuse(*_: object) -> None:
            raise RuntimeError("cannot publish")

        state.relay._publish = refuse
        # When events pile up in the store
        await append_cases(mongo_db, f"lag-{uuid.uuid4().hex[:8]}", 5)

        # Then /healthz answers 503 naming why, while the loop itself runs on
        async def unhealthy() -> dict[str, Any] | None:
            status, body = await healthz(http)
            return body if status == 503 and body["checks"]["lag"] == verdict else None

        body = await eventually(unhealthy, 30, verdict)
        assert body["checks"]["loop"] == "ok"
        lagging = await eventually(lambda: _lagging_by(healthz(http), 5), 10, "all five events to be behind")
        assert lagging["checks"]["lag"] == verdict


async def test_an_event_the_broker_refuses_is_parked_and_the_events_after_it_are_published(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    prefix = f"big-{uuid.uuid4().hex[:8]}"
    # Given a 2 MB event in the store (written past the recorder's size cap, as an older version allowed)
    huge = EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="ClarificationRecorded",
        schema_version=1,
        stream_id=f"{prefix}-huge",
        stream_type="case",
        version=1,
        bureau="finance",
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        actor=ACTOR,
        correlation_id=uuid.uuid4(),
        data={"summary": "x" * 2_000_000},
    )
    await mongo_db[EVENTS].insert_one(to_document(huge, "old-command", 0))
    async with relay_service(infra, mongo_db) as (_, http):
        # When events are appended after it
        await append_cases(mongo_db, f"{prefix}-next", 3)
        # Then they are published, and the refused one is parked with its reason and raised on /healthz
        found = await asyncio.to_thread(keys_on_topic, infra.bootstrap, f"{prefix}-next", 3, 60)
        assert sorted(found.values()) == [1, 1, 1]
        parked = await mongo_db.relay_parked.find_one({"_id": str(huge.event_id)})
        assert parked is not None and "MessageSizeTooLargeError" in parked["reason"]
        assert parked["stream_id"] == huge.stream_id and parked["size"] > 2_000_000
        status, body = await healthz(http)
        assert status == 503 and body["checks"]["parked_events"] == "down: UnpublishableEventsParked"
        assert body["relay"]["parked_unresolved"] == 1 and body["checks"]["loop"] == "ok"


async def test_the_first_event_of_a_new_bureau_does_not_hold_back_its_record_on_the_case_topic(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    # Given a relay just started: its producer knows every topic from its start-up metadata. It lingers
    # 200 ms, so the case record is still waiting when the new bureau's feed topic is created and sent to.
    async with relay_service(infra, mongo_db, linger_ms=200):
        # When the first event of a new bureau is appended
        stream = f"newbureau-{uuid.uuid4().hex[:8]}"
        await MongoRecorder(mongo_db.client, mongo_db).append(
            recording(stream, 0, bureau=f"t{uuid.uuid4().hex[:8]}"), [event()]
        )
        # Then its record on case.events.v1 comes at once, not after the producer gives up on it (40 s)
        found = await asyncio.to_thread(keys_on_topic, infra.bootstrap, stream, 1, 15, 0.5)
    assert found == {stream: 1}


async def test_a_failed_send_republishes_from_that_event_not_from_the_last_saved_progress(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    # Given six events the relay publishes in one batch, the fourth of which the broker does not acknowledge
    prefix = f"unacked-{uuid.uuid4().hex[:8]}"
    streams = await append_cases(mongo_db, prefix, 6)
    async with running_relay(mongo_db, infra.bootstrap, fails_once_for=streams[3]) as running:
        found = await asyncio.to_thread(keys_on_topic, infra.bootstrap, prefix, 7, 60)
        assert running.relay.status.errors >= 1  # the send did fail
    # Then nothing is lost, and the events acknowledged before the failed one are not published again
    assert {s: found[s] for s in streams[:3]} == dict.fromkeys(streams[:3], 1)
    assert all(found[s] >= 1 for s in streams[3:]), found


async def test_a_second_relay_stands_by_and_takes_over_when_the_active_one_stops(
    infra: Servers, mongo_db: AsyncDatabase, topics: None
) -> None:
    prefix, lease = f"pair-{uuid.uuid4().hex[:8]}", 3.0
    async with running_relay(mongo_db, infra.bootstrap, lease) as first:
        await eventually(lambda: _state(first, "active"), 30, "the first relay to publish")
        async with running_relay(mongo_db, infra.bootstrap, lease) as second:
            # Given two relay instances on one store
            await eventually(lambda: _state(second, "standby"), 30, "the second relay to stand by")
            # When events are appended, then each reaches the topic once
            await append_cases(mongo_db, f"{prefix}-a", 20)
            found = await asyncio.to_thread(keys_on_topic, infra.bootstrap, f"{prefix}-a", 20, 60)
            assert len(found) == 20 and set(found.values()) == {1}
            assert second.relay.published_total == 0

            # When the active one dies without handing over (a crash: the lease is not released)
            first.task.cancel()
            stopped_at = time.monotonic()
            await append_cases(mongo_db, f"{prefix}-b", 10)
            # Then the standby takes over within about the lease time and publishes the rest, once
            await eventually(lambda: _state(second, "active"), lease * 5, "the standby to take over")
            assert time.monotonic() - stopped_at < lease * 5
            found = await asyncio.to_thread(keys_on_topic, infra.bootstrap, prefix, 30, 60)
            assert len(found) == 30 and set(found.values()) == {1}


async def _state(running: RunningRelay, state: str) -> bool:
    return running.relay.status.state == state


async def _when_active(probe: Any) -> tuple[int, dict[str, Any]] | None:
    status, body = await probe
    return (status, body) if status == 200 and body["relay"]["state"] == "active" else None


async def _lagging_by(probe: Any, events: int) -> dict[str, Any] | None:
    _status, body = await probe
    return body if body["relay"].get("lag") == events else None


async def _when_ok(probe: Any) -> tuple[int, dict[str, Any]] | None:
    status, body = await probe
    return (status, body) if status == 200 else None
