"""The recorder port: append with optimistic concurrency, read a stream, read all in global order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from shared.contracts.envelope import Actor, EventEnvelope

# The largest serialized envelope (UTF-8 JSON, as the relay publishes it) a recorder accepts. Fixed, not a
# setting: every event must fit in one Kafka record under the broker's and the producer's default limits
# (1 MB), with room for headers and batching, so a recorded event can always be relayed.
MAX_EVENT_BYTES = 256 * 1024


class EventTooLarge(Exception):
    """An event's serialized envelope exceeds MAX_EVENT_BYTES: nothing of the command was recorded."""

    def __init__(self, stream_id: str, event_type: str, size: int, limit: int = MAX_EVENT_BYTES) -> None:
        self.stream_id, self.event_type, self.size, self.limit = stream_id, event_type, size, limit
        super().__init__(
            f"event {event_type} of stream {stream_id} is {size} bytes serialized;"
            f" the limit is {limit} bytes ({limit // 1024} KiB)"
        )


class ConcurrencyError(Exception):
    """The stream is not at the expected version: another command got there first."""

    def __init__(self, stream_id: str, expected: int, actual: int | None = None) -> None:
        self.stream_id, self.expected, self.actual = stream_id, expected, actual
        found = "" if actual is None else f", found {actual}"
        super().__init__(f"stream {stream_id} expected at version {expected}{found}")


@dataclass(frozen=True)
class NewEvent:
    """An event to append: its type, schema version and payload."""

    event_type: str
    schema_version: int
    data: dict[str, Any]
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Recording:
    """What one command records: metadata shared by all its events."""

    stream_id: str
    stream_type: str
    expected_version: int
    bureau: str
    actor: Actor
    command_id: str
    correlation_id: UUID
    causation_id: UUID | None = None


Appending = tuple[Recording, Sequence[NewEvent]]  # one command's events, as `append` takes them


@dataclass(frozen=True)
class AppendResult:
    """The recorded events; `duplicate` when the command had already been recorded."""

    events: list[EventEnvelope]
    duplicate: bool = False


class EventRecorder(Protocol):
    """Port of the event store, implemented by MongoDB and by the in-memory fake."""

    async def append(self, recording: Recording, events: Sequence[NewEvent]) -> AppendResult:
        """Append all events or none; raise ConcurrencyError when the stream moved on, EventTooLarge for a big one."""
        ...

    async def append_in_order(self, appends: Sequence[Appending]) -> list[AppendResult]:
        """Append several commands in turn, each all or none, in one write where the store can.

        The first is answered as `append` answers it (ConcurrencyError, EventTooLarge, or a duplicate when
        already recorded). The result holds the first's and then each later one's that was stored, up to the
        first that was not (refused, too large, or already recorded): that one and those after it are not
        stored, and their caller appends them its usual way.
        """
        ...

    async def read_stream(
        self, stream_id: str, from_version: int = 1, recorded_until: datetime | None = None
    ) -> list[EventEnvelope]:
        """Return a stream's events in version order."""
        ...

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[EventEnvelope]:
        """Return events in global order after a position; never skips a committed event."""
        ...

    async def stream_version(self, stream_id: str) -> int:
        """Return the stream's current version (0 when it does not exist)."""
        ...

    async def command_events(self, command_id: str) -> list[EventEnvelope]:
        """Return the events a command recorded (empty when it recorded none): a retry finds its own."""
        ...

    def saw(self, envelope: EventEnvelope) -> None:
        """Note that the event's stream reached its version (a consumer got it): an append expecting it exists."""
        ...


def to_millis(moment: datetime) -> datetime:
    """Truncate to milliseconds, the precision of BSON dates, so what we return equals what we read."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


EVENT_IDS = uuid.UUID("6f1c2a4e-8a51-4c1e-9d0b-2f4b7c3e5a10")  # namespace of derived event ids


def event_id_for(command_id: str, seq: int) -> UUID:
    """Return the id of a command's seq-th event: the same on every retry of the command.

    Deriving it makes a retried command collide on the event id itself, so idempotency needs no index
    of its own, and consumers deduplicating by event id see a retry as the same event.
    """
    return uuid.uuid5(EVENT_IDS, f"{command_id}#{seq}")


def ensure_publishable_size(envelopes: Sequence[EventEnvelope]) -> None:
    """Raise EventTooLarge when an envelope's serialized form exceeds MAX_EVENT_BYTES."""
    for e in envelopes:
        size = len(e.model_dump_json().encode())
        if size > MAX_EVENT_BYTES:
            raise EventTooLarge(e.stream_id, e.event_type, size)


def envelopes_for(recording: Recording, events: Sequence[NewEvent], now: datetime) -> list[EventEnvelope]:
    """Build the envelopes of a command's events, numbered after the expected version; size-checked."""
    envelopes = [
        EventEnvelope(
            event_id=event_id_for(recording.command_id, i - 1),
            event_type=e.event_type,
            schema_version=e.schema_version,
            stream_id=recording.stream_id,
            stream_type=recording.stream_type,
            version=recording.expected_version + i,
            bureau=recording.bureau,
            occurred_at=to_millis(e.occurred_at),
            recorded_at=to_millis(now),
            actor=recording.actor,
            correlation_id=recording.correlation_id,
            causation_id=recording.causation_id,
            data=e.data,
        )
        for i, e in enumerate(events, start=1)
    ]
    ensure_publishable_size(envelopes)
    return envelopes


async def append_one_by_one(recorder: EventRecorder, appends: Sequence[Appending]) -> list[AppendResult]:
    """`append_in_order` as separate appends: for a store without one write, or commands it cannot join."""
    first, *later = appends
    results = [await recorder.append(*first)]
    if results[0].duplicate:
        return results
    for recording, events in later:
        try:
            result = await recorder.append(recording, events)
        except (ConcurrencyError, EventTooLarge):
            break
        if result.duplicate:
            break
        results.append(result)
    return results
