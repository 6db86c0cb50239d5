"""Which collection holds each read model of a service now: generations named by pointer documents.

A rebuild writes a new generation (`case_view__g2`, `case_view__g3`, ...) beside the one in use and then
moves the pointer (in the service's pointer collection, e.g. `casequery_generations`: `{_id: "case_view",
collection: "case_view__g2", generation: 2}`): the swap copies nothing, where a rename copies every document
and index key on SecantusDB while it holds the server's lock. A store without a pointer uses the plain name
(generation 1), so existing data needs no migration.

Readers and writers resolve the collection through `Generations`, which re-reads the pointers at most once per
`RESOLVE_TTL_S`; a rebuild waits longer than that (`SETTLE_S`) after moving a pointer before it trusts that
every live writer has moved (see services/casequery/rebuild.py, services/disbursement/rebuild.py).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

RESOLVE_TTL_S = 1.0  # how stale a resolved pointer may be; a rebuild waits longer than this after a flip
# Longer than a resolver may keep a pointer, with room for a timer that fires late on a loaded machine: after
# it, every live writer writes the new generation.
SETTLE_S = 1.5 * RESOLVE_TTL_S


@dataclass(frozen=True)
class Generation:
    """One generation of a read model: the collection that holds it and its number (1: the plain name)."""

    model: str
    collection: str
    number: int

    def next(self) -> Generation:
        """Return the generation a rebuild writes after this one."""
        return Generation(self.model, collection_name(self.model, self.number + 1), self.number + 1)


def collection_name(model: str, number: int) -> str:
    """Return the collection of a read model's generation: the plain name first, then `<model>__g<n>`."""
    return model if number == 1 else f"{model}__g{number}"


def is_generation_of(model: str, collection: str) -> bool:
    """Tell whether a collection holds (or held) a generation of the read model, or a rebuild's shadow."""
    return re.fullmatch(rf"{re.escape(model)}(__g\d+|__rebuild)?", collection) is not None


def next_free(current: Generation, names: Iterable[str]) -> Generation:
    """Return the generation after the current one whose name no collection uses (nor ever reused)."""
    # Past every existing generation: a rebuild that stalled beyond its lease may still write its own, and
    # must never share a name with the one that took over (each drops its own on failure).
    taken = [int(m.group(1)) for n in names if (m := re.fullmatch(rf"{re.escape(current.model)}__g(\d+)", n))]
    number = max([current.number, *taken]) + 1
    return Generation(current.model, collection_name(current.model, number), number)


class FlipRefused(Exception):
    """The pointers no longer name the generations a rebuild started from: it must not move them."""


class Generations:
    """Resolves read models to their current collections, re-reading the pointers at most once per ttl."""

    def __init__(
        self,
        db: AsyncDatabase,
        pointers: str,
        ttl: float = RESOLVE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db, self._pointers_in, self._ttl, self._clock = db, pointers, ttl, clock
        self._pointers: dict[str, Generation] = {}
        self._expires = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def db(self) -> AsyncDatabase:
        """The database the read models live in."""
        return self._db

    @property
    def pointers(self) -> str:
        """The collection that holds the pointers (and the rebuild lease)."""
        return self._pointers_in

    async def current(self, model: str) -> Generation:
        """Return the read model's generation in use (as of at most ttl ago)."""
        if self._clock() >= self._expires:
            async with self._lock:  # one refresh for every reader waiting on it
                if self._clock() >= self._expires:
                    await self._refresh()
        return self._pointers.get(model) or Generation(model, model, 1)

    async def collection(self, model: str) -> AsyncCollection:
        """Return the collection that holds the read model now."""
        return self._db[(await self.current(model)).collection]

    def of(self, model: str) -> ReadModel:
        """Return a handle that resolves this read model on each use."""
        return ReadModel(lambda: self.collection(model))

    async def stored(self) -> dict[str, Generation]:
        """Return the pointers as stored now (no cache): what a flip compares against."""
        return {
            str(doc["_id"]): _generation(doc)
            async for doc in self._db[self._pointers_in].find({})
            if "collection" in doc  # the rebuild lease lives beside the pointers (shared/readmodels/lease.py)
        }

    async def flip(self, generations: Iterable[Generation], replacing: Iterable[Generation] = ()) -> None:
        """Point the read models at these generations and forget what was cached here.

        With `replacing` (the generations a rebuild started from), a compare-and-set: FlipRefused, and no
        pointer moved, unless every pointer still names its generation there.
        """
        started = {g.model: g for g in replacing}
        if started:
            now = await self.stored()
            moved = [m for m, g in started.items() if now.get(m, Generation(m, m, 1)) != g]
            if moved:
                raise FlipRefused(f"pointers moved since the rebuild began: {sorted(moved)}")
        writes = [
            UpdateOne(
                {"_id": g.model, **_still(started.get(g.model))},
                {"$set": {"collection": g.collection, "generation": g.number}},
                upsert=True,  # no pointer yet: generation 1 (a pointer named elsewhere fails on the _id)
            )
            for g in generations
        ]
        if writes:
            try:
                await self._db[self._pointers_in].bulk_write(writes, ordered=True)
            except (BulkWriteError, DuplicateKeyError) as exc:
                # Only a writer without the lease (an older rebuild) can get here, after the check above.
                raise FlipRefused(f"a pointer moved during the flip: {exc}") from exc
        self._expires = float("-inf")

    async def _refresh(self) -> None:
        # The expiry counts from before the read: a pointer moved while the read was in flight is then never
        # used for longer than ttl after the move, which is what the rebuild's wait relies on.
        began = self._clock()
        self._pointers, self._expires = await self.stored(), began + self._ttl


def _still(started: Generation | None) -> dict[str, Any]:
    return {} if started is None else {"generation": started.number}


def _generation(doc: dict[str, Any]) -> Generation:
    return Generation(str(doc["_id"]), str(doc["collection"]), int(doc["generation"]))


class ReadModel:
    """A read model's collection as its users see it: resolved on each use, or pinned to one collection."""

    def __init__(self, resolve: Callable[[], Any]) -> None:
        self._resolve = resolve

    @classmethod
    def pinned(cls, collection: Any) -> ReadModel:
        """Return a handle that always gives this collection (a rebuild's new generation, tests' fakes)."""

        async def fixed() -> Any:
            return collection

        return cls(fixed)

    async def collection(self) -> AsyncCollection:
        """Return the collection to read or write now (one call per operation: reads and writes agree)."""
        return await self._resolve()  # type: ignore[no-any-return]


def read_model(source: AsyncCollection | ReadModel) -> ReadModel:
    """Return a handle for a collection given either way (a plain collection is pinned)."""
    return source if isinstance(source, ReadModel) else ReadModel.pinned(source)
