"""In-memory event recorder: the fake used by unit tests; passes the same contract suite."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from shared.contracts.envelope import EventEnvelope
from shared.eventstore.recorder import AppendResult, ConcurrencyError, NewEvent, Recording, envelopes_for


class InMemoryRecorder:
    """Holds events in lists; a lock makes appends atomic like one database transaction."""

    def __init__(self) -> None:
        self._all: list[EventEnvelope] = []
        self._streams: dict[str, list[EventEnvelope]] = {}
        self._commands: dict[str, list[EventEnvelope]] = {}
        self._lock = asyncio.Lock()

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
            stream.extend(recorded)
            self._all.extend(recorded)
            self._commands[recording.command_id] = recorded
            return AppendResult(recorded)

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
