"""Group commit: what callers hand in while one write is under way goes together in the next write."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Writes items in batches: a round's concurrent sends cost a few writes instead of one command each.

    A caller returns once the write holding its item is done (or raises that write's error); nobody waits longer
    than the write under way plus their own.
    """

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Hand in one item; return once it is written."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        self._waiting.append((item, written))
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = asyncio.create_task(self._write_all())
        await written

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._write([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, written in [*batch, *self._waiting]:
                    written.cancel()
                self._waiting = []
                raise
            except Exception as exc:
                for _, written in batch:
                    if not written.done():
                        written.set_exception(exc)
                continue
            for _, written in batch:
                if not written.done():
                    written.set_result(None)
