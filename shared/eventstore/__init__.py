"""The event store: the source of truth. A recorder port, a MongoDB recorder and an in-memory fake."""

from shared.eventstore.recorder import (
    AppendResult,
    ConcurrencyError,
    EventRecorder,
    EventTooLarge,
    NewEvent,
    Recording,
)

__all__ = ["AppendResult", "ConcurrencyError", "EventRecorder", "EventTooLarge", "NewEvent", "Recording"]
