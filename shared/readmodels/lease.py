"""One rebuild at a time per set of read models: a lease document beside the generation pointers.

Two rebuilds that overlap both write the next generation and drop each other's "leftovers": the pointers then
named a half-built generation (a bureau's case list fell from 211 cases to 66). So a rebuild first takes the
lease (`{_id: "rebuild-lease", holder, since, expires}` in the pointer collection, renewed by a heartbeat
while it runs); a second rebuild refuses at once, naming the holder, and takes over only once the lease has
expired (its holder died) or expires further ahead than a live holder ever sets it (a clock step on the
server, a hand edit: it would block every rebuild until then). Every expiry is set and judged by the database server's clock ($$NOW), never the
client's: a rebuild whose machine ran 60 s behind once saw its live lease taken over by the service. The flip
commits on the lease (still ours, pointers still at the generations we started from), and records there the
position from which the catch-up must run (`catch_up`): a rebuild killed after its flip leaves that mark, and
the next holder (the next rebuild, or the casequery service itself) applies the events after it to the
generation in use and clears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.readmodels.generations import Generation

log = logging.getLogger(__name__)

LEASE_ID = "rebuild-lease"
LEASE_S = 30.0  # how long a rebuild that stopped renewing (killed) blocks the next one
CATCH_UP = "catch_up"
# A live holder's expiry is never more than its ttl past the server's now; beyond that (plus this margin for
# the time between its renewal and our look) it was set by a clock step on the server or a hand edit.
AHEAD_MARGIN_S = 5.0


def _ms(time: str) -> dict[str, Any]:
    # As milliseconds: SecantusDB compares a stored date with $$NOW as equal. A missing, null or unreadable
    # expiry counts as 0, so as expired: a lease nobody can judge must not block every rebuild forever.
    return {"$convert": {"input": time, "to": "long", "onError": 0, "onNull": 0}}


def _free(ahead_ms: int) -> dict[str, Any]:
    # Free: released, its holder stopped renewing it, or it expires further ahead than any live holder
    # could have set it (else such a lease would block every rebuild until 2099); by the server's clock.
    return {
        "$or": [
            {"holder": None},
            {"$expr": {"$lt": [_ms("$expires"), _ms("$$NOW")]}},
            {"$expr": {"$gt": [_ms("$expires"), {"$add": [_ms("$$NOW"), ahead_ms]}]}},
        ]
    }


def holder_name(role: str = "rebuild") -> str:
    """Return a name that tells operators which process holds the lease."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class RebuildRunning(Exception):
    """Another live rebuild holds the lease: this one refuses to start."""

    def __init__(self, holder: str, since: datetime | None, expires: datetime | None) -> None:
        self.holder, self.since, self.expires = holder, since, expires
        super().__init__(
            f"另一个重建正在运行，未做任何改动 / another rebuild is running, nothing was changed: "
            f"held by {holder} since {_iso(since)} (lease until {_iso(expires)}, renewed while it runs)"
        )


class LeaseLost(Exception):
    """The lease was taken over (this rebuild stalled past its expiry): it must not move any pointer."""


class LeaseUnreadable(ValueError):
    """The lease document holds what no rebuild writes (edited by hand?): nothing can be judged from it."""

    def refusal(self) -> str:
        """Return the command line's message, Chinese first: nothing was changed, and what to mend."""
        return (
            f"重建租约文档无法解读，未做任何改动 / the rebuild lease document cannot be read, nothing was "
            f"changed: {self}; fix or remove the field by hand"
        )


class RebuildAbandoned(Exception):
    """The rebuild lost its lease or found the pointers moved: it dropped its generation and moved nothing."""


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return _utc(moment).isoformat(timespec="seconds")


def _utc(moment: datetime) -> datetime:
    # A client without tz_aware reads naive datetimes: they are UTC as stored.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _literal(value: Any) -> dict[str, Any]:
    # In an update pipeline a string starting with "$" would be a field path, and {} is refused.
    return {"$literal": value}


class RebuildLease:
    """The rebuild lease of one pointer collection, held by one process."""

    def __init__(
        self,
        db: AsyncDatabase,
        pointers: str,
        *,
        ttl: float = LEASE_S,
        holder: str | None = None,
    ) -> None:
        self._db, self._docs = db, db[pointers]
        self._ttl_ms = int(ttl * 1000)
        # Judged with the longest ttl any holder uses, so a short-lived watcher never takes a live rebuild's.
        self._ahead_ms = int((max(ttl, LEASE_S) + AHEAD_MARGIN_S) * 1000)
        self.holder = holder or holder_name()
        self.lost = False
        self.read_at: datetime | None = None  # the server's clock when read() last looked

    async def read(self) -> dict[str, Any] | None:
        """Return the lease document as stored (None when no rebuild ever ran); note the server's time."""
        hello = await self._db.command("hello")
        # Taken before the document: a renewal in between only makes the lease look live, never dead.
        self.read_at = _utc(hello["localTime"])
        return await self._docs.find_one({"_id": LEASE_ID})

    def expired(self, doc: dict[str, Any]) -> bool:
        """Tell whether a lease document is free at the server's time of the last read(), not this clock."""
        expires = doc.get("expires")
        if not doc.get("holder") or expires is None:
            return True
        if not isinstance(expires, datetime):
            raise LeaseUnreadable(f"expires is {expires!r}, not a time")
        if self.read_at is None:
            raise RuntimeError("read() the lease before judging it: expiry is judged by the server's clock")
        return _utc(expires) < self.read_at or self.impossible(doc)

    def impossible(self, doc: dict[str, Any]) -> bool:
        """Tell whether a held lease expires further ahead of the last read()'s server time than any could."""
        expires = doc.get("expires")
        if not doc.get("holder") or not isinstance(expires, datetime) or self.read_at is None:
            return False
        return _utc(expires) > self.read_at + timedelta(milliseconds=self._ahead_ms)

    async def acquire(self, building: Iterable[Generation] = ()) -> dict[str, Any]:
        """Take the lease or raise RebuildRunning; return the document as now held (with any catch-up)."""
        before = await self.read()
        try:
            # An update pipeline, so $$NOW is the server's time; the upsert creates a missing document.
            await self._docs.update_one(
                {"_id": LEASE_ID, **_free(self._ahead_ms)},
                [
                    {
                        "$set": {
                            "holder": _literal(self.holder),
                            "since": "$$NOW",
                            "expires": self._from_now(),
                            "building": _literal({g.model: g.collection for g in building}),
                        }
                    }
                ],
                upsert=True,
            )
        except DuplicateKeyError:
            doc = await self.read() or {}
            raise RebuildRunning(str(doc.get("holder")), doc.get("since"), doc.get("expires")) from None
        self.lost = False
        if before is not None and self.impossible(before):
            log.warning(
                "took over the rebuild lease of %s: it was to expire at %s, further ahead of the database server's "
                "time (%s) than any live rebuild sets it (clock step on the server, or edited by hand?)",
                before.get("holder"), _iso(before.get("expires")), _iso(self.read_at),
            )  # fmt: skip
        return await self.read() or {}

    async def building(self, generations: Iterable[Generation]) -> None:
        """Record the generations this holder writes (a later holder knows whose leftovers they are)."""
        await self._held({"$set": {"building": {g.model: g.collection for g in generations}}})

    async def renew(self) -> None:
        """Push the expiry forward; raise LeaseLost when another process holds the lease now."""
        await self._held([{"$set": {"expires": self._from_now()}}])

    def _from_now(self) -> dict[str, Any]:
        return {"$add": ["$$NOW", self._ttl_ms]}

    @contextlib.asynccontextmanager
    async def heartbeat(self) -> AsyncIterator[None]:
        """Renew the lease every third of its ttl while the body runs."""
        task = asyncio.create_task(self._beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                await self.renew()
            except LeaseLost:
                self.lost = True  # the flip checks the lease again and refuses
                return
            except Exception:  # a blip: the next beat tries again before the lease expires
                continue

    async def mark_catch_up(self, after: int, into: Iterable[Generation]) -> None:
        """Record, as the flip's commit point, that events after `after` must still reach `into`."""
        mark = {"after": after, "into": {g.model: g.collection for g in into}, "by": self.holder}
        stamped = {"$mergeObjects": [_literal(mark), {"at": "$$NOW"}]}
        await self._held([{"$set": {CATCH_UP: stamped, "expires": self._from_now()}}])

    async def clear_catch_up(self) -> None:
        """Forget the catch-up mark: the generation in use has every event after it."""
        await self._held({"$unset": {CATCH_UP: ""}})

    async def finish_abandoned(self, finish: Callable[[dict[str, Any]], Awaitable[int | None]]) -> int | None:
        """Take over an expired lease that left a catch-up pending and run `finish` on the document as held.

        None when there is nothing to finish, the holder is alive, or another process took it first."""
        doc = await self.read()
        if doc is None or pending_catch_up(doc) is None or not self.expired(doc):
            return None
        try:
            held = await self.acquire()
        except RebuildRunning:
            return None
        try:
            async with self.heartbeat():
                return await finish(held)
        finally:
            await self.release()

    def abandoned_by(self, doc: dict[str, Any] | None) -> tuple[str, int] | None:
        """Return (holder, position) of a dead rebuild's pending catch-up; None while a live holder runs it."""
        after = pending_catch_up(doc)
        if after is None or doc is None or not self.expired(doc):
            return None
        return str(doc[CATCH_UP].get("by")), after

    async def release(self) -> None:
        """Free the lease (a catch-up mark, if any, stays for the next holder)."""
        await self._docs.update_one(
            {"_id": LEASE_ID, "holder": self.holder},
            {"$set": {"holder": None, "expires": None, "building": {}}},
        )

    async def _held(self, update: dict[str, Any] | list[dict[str, Any]]) -> None:
        result = await self._docs.update_one({"_id": LEASE_ID, "holder": self.holder}, update)
        if result.matched_count == 0:
            self.lost = True
            doc = await self.read() or {}
            raise LeaseLost(f"{self.holder} lost the rebuild lease to {doc.get('holder')}")


def pending_catch_up(doc: dict[str, Any] | None) -> int | None:
    """Return the position after which an interrupted rebuild's catch-up must still run, if one must.

    Raise LeaseUnreadable, naming the field, when the mark is not one a rebuild writes.
    """
    mark = (doc or {}).get(CATCH_UP)
    if mark is None:
        return None
    if not isinstance(mark, dict):
        raise LeaseUnreadable(f"{CATCH_UP} is {mark!r}, not a catch-up mark")
    after = mark.get("after")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise LeaseUnreadable(f"{CATCH_UP}.after is {after!r}, not an event position")
    return after
