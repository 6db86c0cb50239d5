"""Wake a tailing loop when events are appended (MongoDB change stream), with a polling fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


class AppendWatcher:
    """Sets a flag on every insert into a collection; `wait` returns early when it is set."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection
        self._flag = asyncio.Event()
        self._taken = asyncio.Event()  # set when a waiter took the flag: only then is it worth asking again
        self._taken.set()
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

    async def wait(self, timeout: float) -> None:
        """Return when something was appended since the last call, or after timeout."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flag.wait(), timeout)
        self._flag.clear()
        self._taken.set()

    async def _watch(self) -> None:
        pipeline = [{"$match": {"operationType": "insert"}}]
        while True:
            try:
                async with await self._collection.watch(pipeline) as stream:
                    while True:
                        # Ask the server again only once the loop took the last wake-up: inserts meanwhile
                        # wait in the stream and come in one answer, so a busy store costs one round trip
                        # per loop turn rather than one per insert.
                        await self._taken.wait()
                        if await stream.try_next() is not None:
                            # Inserts that came in the same answer happened before the wake-up: the
                            # loop's next turn sees them too, so they need no wake-up of their own.
                            while _cached(stream):
                                await stream.try_next()
                            self._taken.clear()
                            self._flag.set()
            except PyMongoError as exc:
                # Polling on the caller's timeout keeps working meanwhile.
                log.warning("change stream interrupted (%s); reopening", exc)
                self._flag.set()
                await asyncio.sleep(1.0)


def _cached(stream: Any) -> int:
    """Return how many changes the stream holds locally (answered, not yet taken); 0 if it cannot tell."""
    return len(getattr(getattr(stream, "_cursor", None), "_data", ()))
