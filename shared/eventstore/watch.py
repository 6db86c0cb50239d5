"""Wake a tailing loop when events are appended (MongoDB change stream), with a polling fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from shared.metrics import metrics

log = logging.getLogger(__name__)


class AppendWatcher:
    """Sets a flag on every insert into a collection; `wait` returns early when it is set."""

    def __init__(self, collection: AsyncCollection, settle_s: float = 0.02) -> None:
        self._collection = collection
        self._settle_s = settle_s
        self._flag = asyncio.Event()
        # Set while the loop waits: only then is a round trip to the server worth it. While the loop works,
        # its own writes would wake a pending request for nothing, and inserts meanwhile keep in the stream.
        self._waiting = asyncio.Event()
        # The ids of the documents whose inserts woke the waiter since it last took them.
        self._inserted: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching in the background."""
        self._task = asyncio.create_task(self._watch(), name="append-watcher")

    async def stop(self) -> None:
        """Stop watching."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, timeout: float) -> bool:
        """Return True when something was appended since the last call, False after timeout."""
        self._waiting.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flag.wait(), timeout)
        finally:
            self._waiting.clear()
        woken = self._flag.is_set()
        self._flag.clear()
        return woken

    def take_inserted(self) -> set[str]:
        """Return the ids of the documents inserted since the last call (as far as the stream told)."""
        inserted, self._inserted = self._inserted, set()
        return inserted

    def _note(self, change: Any) -> None:
        key = (change or {}).get("documentKey", {}).get("_id")
        if key is not None:
            self._inserted.add(str(key))

    async def _watch(self) -> None:
        pipeline = [{"$match": {"operationType": "insert"}}]
        while True:
            try:
                async with await self._collection.watch(pipeline) as stream:
                    while True:
                        # Ask the server only while the loop waits: inserts meanwhile keep in the stream and
                        # come in one answer, so a busy store costs about one round trip per loop turn.
                        await self._waiting.wait()
                        change = await stream.try_next()
                        if change is None:
                            metrics().relay_wakeups.labels("empty").inc()
                            # An empty answer: the server woke the stream for a write it then filtered out
                            # (SecantusDB does so for any write on the server, e.g. the sequencer's). Let a
                            # burst of them pass before asking again; an insert meanwhile is in the next answer.
                            await asyncio.sleep(self._settle_s)
                            continue
                        # Inserts that came in the same answer happened before the wake-up: the loop's
                        # next turn sees them too, so they need no wake-up of their own.
                        metrics().relay_wakeups.labels("inserts").inc()
                        self._note(change)
                        while _cached(stream):
                            self._note(await stream.try_next())
                        self._flag.set()
            except PyMongoError as exc:
                # Polling on the caller's timeout keeps working meanwhile.
                log.warning("change stream interrupted (%s); reopening", exc)
                self._flag.set()
                await asyncio.sleep(1.0)


def _cached(stream: Any) -> int:
    """Return how many changes the stream holds locally (answered, not yet taken); 0 if it cannot tell."""
    return len(getattr(getattr(stream, "_cursor", None), "_data", ()))
