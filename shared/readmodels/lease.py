"""One rebuild at a time per set of read models: a lease document beside the generation pointers.

Two rebuilds that overlap both write the next generation and drop each other's "leftovers": the pointers then
named a half-built generation (a bureau's case list fell from 211 cases to 66). So a rebuild first takes the
lease (`{_id: "rebuild-lease", holder, since, expires}` in the pointer collection, renewed by a heartbeat
while it runs); a second rebuild refuses at once, naming the holder, and takes over only once the lease has
expired (its holder died). The flip commits on the lease (still ours, pointers still at the generations we started
from), and records there the position from which the catch-up must run (`catch_up`): a rebuild killed after
its flip leaves that mark, and the next holder (the next rebuild, or the casequery service itself) applies the
events after it to the generation in use and clears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.readmodels.generations import Generation

LEASE_ID = "rebuild-lease"
LEASE_S = 30.0  # how long a rebuild that stopped renewing (killed) blocks the next one
CATCH_UP = "catch_up"


def _utc_now() -> datetime:
    return datetime.now(UTC)


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


class RebuildAbandoned(Exception):
    """The rebuild lost its lease or found the pointers moved: it dropped its generation and moved nothing."""


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat(timespec="seconds")


class RebuildLease:
    """The rebuild lease of one pointer collection, held by one process."""

    def __init__(
        self,
        db: AsyncDatabase,
        pointers: str,
        *,
        ttl: float = LEASE_S,
        holder: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._docs = db[pointers]
        self._ttl, self._clock = timedelta(seconds=ttl), clock
        self.holder = holder or holder_name()
        self.lost = False

    async def read(self) -> dict[str, Any] | None:
        """Return the lease document as stored (None when no rebuild ever ran)."""
        return await self._docs.find_one({"_id": LEASE_ID})

    def expired(self, doc: dict[str, Any]) -> bool:
        """Tell whether a lease document is free: released, or its holder stopped renewing it."""
        expires = doc.get("expires")
        if not doc.get("holder") or expires is None:
            return True
        # A client without tz_aware reads naive datetimes: they are UTC as stored.
        return (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) < self._clock()

    async def acquire(self, building: Iterable[Generation] = ()) -> dict[str, Any]:
        """Take the lease or raise RebuildRunning; return the document as now held (with any catch-up)."""
        now = self._clock()
        free: dict[str, Any] = {"$or": [{"holder": None}, {"expires": {"$lt": now}}]}
        try:
            await self._docs.update_one(
                {"_id": LEASE_ID, **free},
                {
                    "$set": {
                        "holder": self.holder,
                        "since": now,
                        "expires": now + self._ttl,
                        "building": {g.model: g.collection for g in building},
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            doc = await self.read() or {}
            raise RebuildRunning(str(doc.get("holder")), doc.get("since"), doc.get("expires")) from None
        self.lost = False
        return await self.read() or {}

    async def building(self, generations: Iterable[Generation]) -> None:
        """Record the generations this holder writes (a later holder knows whose leftovers they are)."""
        await self._held({"building": {g.model: g.collection for g in generations}})

    async def renew(self) -> None:
        """Push the expiry forward; raise LeaseLost when another process holds the lease now."""
        await self._held({"expires": self._clock() + self._ttl})

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
            await asyncio.sleep(self._ttl.total_seconds() / 3)
            try:
                await self.renew()
            except LeaseLost:
                self.lost = True  # the flip checks the lease again and refuses
                return
            except Exception:  # a blip: the next beat tries again before the lease expires
                continue

    async def mark_catch_up(self, after: int, into: Iterable[Generation]) -> None:
        """Record, as the flip's commit point, that events after `after` must still reach `into`."""
        now = self._clock()
        mark = {"after": after, "into": {g.model: g.collection for g in into}, "by": self.holder, "at": now}
        await self._held({CATCH_UP: mark, "expires": now + self._ttl})

    async def clear_catch_up(self) -> None:
        """Forget the catch-up mark: the generation in use has every event after it."""
        await self._held({}, unset={CATCH_UP: ""})

    async def release(self) -> None:
        """Free the lease (a catch-up mark, if any, stays for the next holder)."""
        await self._docs.update_one(
            {"_id": LEASE_ID, "holder": self.holder},
            {"$set": {"holder": None, "expires": None, "building": {}}},
        )

    async def _held(self, fields: dict[str, Any], unset: dict[str, str] | None = None) -> None:
        update: dict[str, Any] = {"$set": fields} if fields else {}
        if unset:
            update["$unset"] = unset
        result = await self._docs.update_one({"_id": LEASE_ID, "holder": self.holder}, update)
        if result.matched_count == 0:
            self.lost = True
            doc = await self.read() or {}
            raise LeaseLost(f"{self.holder} lost the rebuild lease to {doc.get('holder')}")


def pending_catch_up(doc: dict[str, Any] | None) -> int | None:
    """Return the position after which an interrupted rebuild's catch-up must still run, if one must."""
    mark = (doc or {}).get(CATCH_UP)
    return int(mark["after"]) if mark else None
