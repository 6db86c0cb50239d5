"""Wake a tailing loop when events are appended (MongoDB change stream), with a polling fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


class AppendWatcher:
    """Sets a flag on every insert into a collection; `wait` returns early when it is set."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection
        self._flag = asyncio.Event()
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

    async def _watch(self) -> None:
        pipeline = [{"$match": {"operationType": "insert"}}]
        while True:
            try:
                async with await self._collection.watch(pipeline) as stream:
                    async for _ in stream:
                        self._flag.set()
            except PyMongoError as exc:
                # Polling on the caller's timeout keeps working meanwhile.
                log.warning("change stream interrupted (%s); reopening", exc)
                self._flag.set()
                await asyncio.sleep(1.0)
