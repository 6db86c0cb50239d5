"""In-memory event recorder: the fake used by unit tests; passes the same contract suite.

It chains events as the MongoDB store's sequencer does (chain.py), at append time since it numbers
them then, so code that verifies the chain runs against the fake too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from shared.contracts.envelope import EventEnvelope
from shared.eventstore.chain import GENESIS, ChainedEvent, ChainHead, envelope_fields, event_hash
from shared.eventstore.recorder import (
    Appending,
    AppendResult,
    ConcurrencyError,
    NewEvent,
    Recording,
    append_one_by_one,
    envelopes_for,
)


class InMemoryRecorder:
    """Holds events in lists; a lock makes appends atomic like one database transaction."""

    def __init__(self) -> None:
        self._all: list[EventEnvelope] = []
        self._hashes: list[str] = []  # the chain hash of each event in _all
        self._streams: dict[str, list[EventEnvelope]] = {}
        self._commands: dict[str, list[EventEnvelope]] = {}
        self._lock = asyncio.Lock()

    def saw(self, envelope: EventEnvelope) -> None:
        """Nothing to note: appends here check versions under one lock."""

    async def append(self, recording: Recording, events: Sequence[NewEvent]) -> AppendResult:
        """Append all events or none."""
        async with self._lock:
            if recording.command_id in self._commands:
                return AppendResult(self._commands[recording.command_id], duplicate=True)
            stream = self._streams.setdefault(recording.stream_id, [])
            if len(stream) != recording.expected_version:
                raise ConcurrencyError(recording.stream_id, recording.expected_version, len(stream))
            recorded = [
                e.model_copy(update={"position": len(self._all) + i})
                for i, e in enumerate(envelopes_for(recording, events, datetime.now(UTC)), start=1)
            ]
            for e in recorded:
                previous = self._hashes[-1] if self._hashes else GENESIS
                self._hashes.append(event_hash(previous, envelope_fields(e)))
            stream.extend(recorded)
            self._all.extend(recorded)
            self._commands[recording.command_id] = recorded
            return AppendResult(recorded)

    async def command_events(self, command_id: str) -> list[EventEnvelope]:
        """Return the events a command recorded (empty when it recorded none): a retry finds its own."""
        return list(self._commands.get(command_id, []))

    async def append_in_order(self, appends: Sequence[Appending]) -> list[AppendResult]:
        """Append several commands in turn, each all or none; stop at the first not stored."""
        return await append_one_by_one(self, appends)

    async def read_stream(
        self, stream_id: str, from_version: int = 1, recorded_until: datetime | None = None
    ) -> list[EventEnvelope]:
        """Return a stream's events in version order."""
        return [
            e
            for e in self._streams.get(stream_id, [])
            if e.version >= from_version and (recorded_until is None or e.recorded_at <= recorded_until)
        ]

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[EventEnvelope]:
        """Return events in global order after a position."""
        return self._all[after_position : after_position + limit]

    async def stream_version(self, stream_id: str) -> int:
        """Return the stream's current version."""
        return len(self._streams.get(stream_id, []))

    def chain(self) -> InMemoryRecorder:
        """Return the chain source (the recorder itself)."""
        return self

    async def chain_head(self) -> ChainHead:
        """Return the last position, its hash, and the chain's first position (always 1 here)."""
        return ChainHead(len(self._all), self._hashes[-1] if self._hashes else GENESIS, 1)

    async def stored_hash(self, position: int) -> str | None:
        """Return the hash of the event at a position."""
        return self._hashes[position - 1] if 0 < position <= len(self._hashes) else None

    async def chained_events(self, after: int, up_to: int) -> AsyncIterator[ChainedEvent]:
        """Yield events with positions in (after, up_to] with their hashes."""
        for i in range(max(after, 0), min(up_to, len(self._all))):
            e = self._all[i]
            yield ChainedEvent(
                position=i + 1,
                event_id=str(e.event_id),
                bureau=e.bureau,
                fields=envelope_fields(e),
                hash=self._hashes[i],
                prev_hash=self._hashes[i - 1] if i else GENESIS,
            )
