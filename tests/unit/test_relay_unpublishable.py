"""The relay parks an event no topic carries and publishes the others; the sequencer's document checks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.structs import RecordMetadata
from bson.int64 import Int64
from pydantic import ValidationError
from pymongo.errors import BulkWriteError

from services.relay.health import RelayHealth, RelayStalled
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import CASE_EVENTS
from shared.eventstore.mongo import from_document, numbered_envelope, recorded, to_document
from shared.eventstore.unreadable import UnreadableEvent, structural_fault, why_unreadable
from shared.messaging.relay import OutboxRelay
from shared.messaging.relay_faults import only_duplicates
from shared.messaging.relay_records import Checkpoint, RelayStatus
from shared.testing.recorder_contract import ACTOR


def envelope(stream_type: str = "case", position: int = 1, bureau: str = "finance") -> EventEnvelope:
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="Tested",
        schema_version=1,
        stream_id=f"s-{uuid.uuid4().hex[:6]}",
        stream_type=stream_type,
        version=1,
        position=position,
        bureau=bureau,
        occurred_at=now,
        recorded_at=now,
        actor=ACTOR,
        correlation_id=uuid.uuid4(),
        data={},
    )


class Client:
    async def add_topic(self, topic: str) -> None:
        return None


class Producer:
    """Acknowledges every record at once, counting offsets per topic."""

    def __init__(self) -> None:
        self.client, self.sent = Client(), list[tuple[str, bytes]]()

    async def send(self, topic: str, **record: Any) -> asyncio.Future[RecordMetadata]:
        self.sent.append((topic, record["key"]))
        future: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        future.set_result(
            RecordMetadata(
                topic=topic,
                partition=0,
                topic_partition=None,
                offset=len(self.sent) - 1,
                timestamp=-1,
                timestamp_type=0,
                log_start_offset=0,
            )
        )
        return future


class Parked:
    def __init__(self) -> None:
        self.parked: list[tuple[EventEnvelope, str]] = []

    async def park(self, e: EventEnvelope, reason: str) -> None:
        self.parked.append((e, reason))


async def test_an_event_whose_stream_type_has_no_topic_is_parked_and_the_others_are_published() -> None:
    producer, parked = Producer(), Parked()
    relay = OutboxRelay(
        recorder=None,  # type: ignore[arg-type]
        sequencer=None,  # type: ignore[arg-type]
        checkpoints=None,  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
        parked=parked,  # type: ignore[arg-type]
    )
    before, ship, after = envelope(position=1), envelope("spaceship", 2), envelope(position=3)
    produced = await relay._publish([before, ship, after], Checkpoint())
    assert [key for _, key in producer.sent] == [before.stream_id.encode(), after.stream_id.encode()]
    assert [(e.event_id, reason) for e, reason in parked.parked] == [
        (ship.event_id, "ValueError: no topic for stream type 'spaceship'")
    ]
    assert produced == {CASE_EVENTS: 2} and relay.status.parked == 1


async def test_an_event_whose_bureau_gives_no_legal_feed_topic_is_parked_not_retried_for_ever() -> None:
    producer, parked, created = Producer(), Parked(), list[str]()

    async def ensure_topic(topic: str) -> None:
        created.append(topic)

    relay = OutboxRelay(
        recorder=None,  # type: ignore[arg-type]
        sequencer=None,  # type: ignore[arg-type]
        checkpoints=None,  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
        parked=parked,  # type: ignore[arg-type]
        ensure_topic=ensure_topic,
    )
    odd, fine = envelope(position=1, bureau="no such/bureau"), envelope(position=2)
    produced = await relay._publish([odd, fine], Checkpoint())
    assert created == ["bureau.finance.events.v1"]
    assert produced == {CASE_EVENTS: 1, "bureau.finance.events.v1": 1}
    assert [(e.event_id, reason) for e, reason in parked.parked] == [
        (odd.event_id, "ValueError: bureau 'no such/bureau' gives no legal Kafka topic name")
    ]


def test_a_numbered_document_that_cannot_be_read_names_its_position_and_event_id() -> None:
    doc = to_document(envelope(), "c", 0) | {"position": 7}
    doc.pop("pending")
    assert numbered_envelope(doc).position == 7
    del doc["actor"]
    with pytest.raises(UnreadableEvent) as caught:
        numbered_envelope(doc)
    assert f"position 7 (event id {doc['_id']!r})" in str(caught.value) and "actor: Field required" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({}, None),
        ({"position": 3}, "a pending document carries position, which only the sequencer writes"),
        ({"hash": "h", "prev_hash": "p"}, "a pending document carries hash, prev_hash"),
        ({"version": "2"}, "version: stored as str, not an integer"),
        ({"version": True}, "version: stored as bool, not an integer"),
        ({"stream_id": 5}, "stream_id: stored as int, not a string"),
        ({"version": Int64(1)}, None),  # a NumberLong version is the same index key as an int32 one
        ({"data": {"flags": [0] * 100_000}}, None),  # 200 KB of JSON, 1 MB of BSON: a real event, kept
    ],
)
def test_a_pending_document_with_fields_only_the_sequencer_writes_or_odd_keys_is_unfit(
    change: dict[str, Any], fault: str | None
) -> None:
    doc = to_document(envelope(), "c", 0) | change
    found = structural_fault(doc)
    assert found is None if fault is None else (found or "").startswith(fault)


def test_a_validation_error_reads_as_one_line_per_field() -> None:
    doc = to_document(envelope(), "c", 0) | {"actor": "x", "schema_version": "one"}
    with pytest.raises(ValidationError) as caught:
        from_document(doc)
    line = why_unreadable(caught.value)
    assert "\n" not in line and "schema_version: Input should be a valid integer" in line
    assert "actor: Input should be a valid dictionary" in line


def test_only_pending_or_numbered_documents_are_events() -> None:
    assert recorded({"pending": 1}) and recorded({"position": 1}) and not recorded({"version": 4})


def test_only_a_duplicate_position_is_a_lease_race_any_other_refused_numbering_is_a_fault() -> None:
    race = BulkWriteError({"writeErrors": [{"index": 0, "code": 11000, "errmsg": "E11000 duplicate key"}]})
    too_large = BulkWriteError({"writeErrors": [{"index": 0, "code": 10334, "errmsg": "too large"}]})
    assert only_duplicates(race) and not only_duplicates(too_large)


async def test_a_relay_that_makes_no_progress_is_stalled_even_with_nothing_numbered() -> None:
    class Relay:
        status = RelayStatus(state="active")
        sequenced_head = 0

    class Store:
        async def head_position(self) -> int:
            return 0

        async def load(self) -> Any:
            return SimpleNamespace(position=0)

    relay = Relay()
    health = RelayHealth(relay, Store(), Store(), None, max_lag=10, stall_seconds=60)  # type: ignore[arg-type]
    await health.keeping_up()  # lag 0, progress just now: healthy
    relay.status.last_progress -= 61  # a sequencer whose numbering fails every round leaves the lag at 0
    with pytest.raises(RelayStalled):
        await health.keeping_up()
