"""A service finishes what a rebuild killed after its flip left undone, and says so on /healthz.

A rebuild records at its flip the position its catch-up must run from (shared/readmodels/lease.py); killed
before the catch-up ended, it leaves what was recorded meanwhile missing from the generation in use. Every few
seconds the service looks at the lease: once the dead rebuild's lease has expired, its `finish` takes the
lease, applies the events after that position to the generation in use (version-guarded, so applying twice is
harmless) and clears the mark. A lease expiring further ahead than any live holder sets it counts as expired
(shared/readmodels/lease.py). Whether it expired is the database server's judgement, not this machine's
clock. Should that fail, or the lease document be unreadable (edited by hand), /healthz carries a
`rebuild_catch_up` alarm (not a 503: the service serves). Each service brings its own `finish` and alarm
text (services/casequery/rebuild_watch.py, services/disbursement/projections/rebuild.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI

from shared.readmodels.lease import LeaseUnreadable, RebuildLease

log = logging.getLogger(__name__)
WATCH_EVERY_S = 5.0  # one read of the lease document; the lease itself lasts 30 s

# Finish a pending catch-up with this lease once its rebuild's lease has expired; the last position applied.
Finish = Callable[[RebuildLease], Awaitable[int | None]]
# The /healthz alarm for this lease document, or None when no dead rebuild's catch-up is pending.
Alarm = Callable[[dict[str, Any] | None, RebuildLease], str | None]


class InterruptedRebuilds:
    """Watches one rebuild lease and completes an interrupted catch-up with the service's own `finish`."""

    def __init__(
        self, lease: RebuildLease, finish: Finish, alarm: Alarm, every: float = WATCH_EVERY_S
    ) -> None:
        self._lease, self._finish, self._alarm, self._every = lease, finish, alarm, every
        self.alarm: str | None = None

    def health(self) -> dict[str, Any]:
        """Return the /healthz field while a catch-up is pending (nothing otherwise)."""
        return {"rebuild_catch_up": self.alarm} if self.alarm else {}

    async def check_once(self) -> int | None:
        """Finish a pending catch-up whose rebuild's lease has expired; refresh the alarm."""
        try:
            return await self._finish(self._lease)
        except LeaseUnreadable:
            return None  # nothing can be finished from it: the alarm below names what is wrong
        finally:  # a completion that fails leaves the alarm up
            self.alarm = self._judge(await self._lease.read())

    def _judge(self, doc: dict[str, Any] | None) -> str | None:
        try:
            return self._alarm(doc, self._lease)
        except LeaseUnreadable as exc:  # raised in `finally`, it would keep the last alarm (likely none)
            return (
                f"重建租约文档无法解读，无法判断是否有中断的重建待补齐 / the rebuild lease document cannot be "
                f"read, so whether an interrupted rebuild's catch-up is pending is unknown: {exc}; fix or "
                f"remove the field by hand"
            )

    async def _watch(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # the database may be away for a moment: look again later
                log.exception("could not check for an interrupted rebuild (%s)", self._lease.holder)
            await asyncio.sleep(self._every)

    def around(
        self, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
    ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
        """Return the lifespan with the watch running inside it (stopped before the connections close)."""

        @contextlib.asynccontextmanager
        async def watched(app: FastAPI) -> AsyncIterator[None]:
            async with lifespan(app):
                task = asyncio.create_task(self._watch())
                try:
                    yield
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        return watched
