"""The relay's /healthz checks: the loop runs, keeps up with the store, parks nothing, sets nothing aside."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shared.eventstore.mongo import MongoRecorder
from shared.messaging.relay import CheckpointStore, OutboxRelay, ParkedEvents


class RelayLoopStopped(Exception):
    """The publishing loop ended: nothing reaches Kafka any more."""


class RelayLagging(Exception):
    """The store's head is further ahead of the relayed position than the configured maximum."""


class RelayStalled(Exception):
    """Events wait, and the relay has made no progress for longer than allowed."""


class UnpublishableEventsParked(Exception):
    """The broker refused events for good; they are parked in relay_parked for an operator."""


class DocumentsSetAside(Exception):
    """The sequencer set aside documents that do not read as events (events_rejected), for an operator."""


@dataclass
class RelayHealth:
    """Health of one relay process; each check raises when its part is unhealthy."""

    relay: OutboxRelay
    recorder: MongoRecorder
    checkpoints: CheckpointStore
    parked: ParkedEvents
    max_lag: int
    stall_seconds: float
    task: asyncio.Task[None] | None = None
    rejected: Callable[[], Awaitable[int]] | None = None  # unresolved documents in events_rejected
    CHECKS: ClassVar[tuple[str, ...]] = ("loop", "lag", "parked_events", "rejected_documents")
    _seen: dict[str, Any] = field(default_factory=dict)

    async def loop_running(self) -> None:
        """Raise when the relay loop is not running."""
        if self.task is None or self.task.done():
            raise RelayLoopStopped()

    async def keeping_up(self) -> None:
        """Raise when the active relay lags too far behind the store, or stopped making progress."""
        if self.relay.status.state == "standby":
            self._seen["lag"] = None  # the active instance answers for the lag
            return
        # The head this process numbered to counts too: the stored head moves at most every RELAY_HEAD_EVERY_S.
        head = max(await self.recorder.head_position(), self.relay.sequenced_head or 0)
        lag = max(0, head - (await self.checkpoints.load()).position)
        self._seen["lag"] = lag
        if lag > self.max_lag:
            raise RelayLagging()
        # No progress for that long (nothing published, nor found caught up): stalled, lag or not (a sequencer
        # that cannot number leaves the lag at 0).
        if self.relay.status.seconds_since_progress() > self.stall_seconds:
            raise RelayStalled()

    async def nothing_parked(self) -> None:
        """Raise when events wait in relay_parked (an alarm until an operator resolves them)."""
        count = await self.parked.unresolved()
        self._seen["parked"] = count
        if count:
            raise UnpublishableEventsParked()

    async def nothing_set_aside(self) -> None:
        """Raise when documents the sequencer set aside wait in events_rejected (an alarm until resolved)."""
        count = await self.rejected() if self.rejected else 0
        self._seen["rejected"] = count
        if count:
            raise DocumentsSetAside()

    def checks(self) -> dict[str, Any]:
        """Return the named checks for the health router."""
        return {
            "loop": self.loop_running,
            "lag": self.keeping_up,
            "parked_events": self.nothing_parked,
            "rejected_documents": self.nothing_set_aside,
        }

    def details(self) -> dict[str, Any]:
        """Return what /healthz shows besides the checks."""
        status = self.relay.health()
        if self.task is None or self.task.done():
            status["state"] = "stopped"
        status.update(
            lag=self._seen.get("lag"),
            parked_unresolved=self._seen.get("parked"),
            rejected_unresolved=self._seen.get("rejected"),
        )
        return {"published": self.relay.published_total, "relay": status, "role": status["state"]}
