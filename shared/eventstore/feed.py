"""A bureau's own feed from the event store: its events only, in global order, after a cursor.

The cursor is the global position; only sequenced events (at or below the head) are read, so a reader that
resumes from its last cursor misses nothing and sees nothing twice except what it asks for again.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import EVENTS, HEAD_ID, META, from_document
from shared.eventstore.recorder import EventRecorder


@dataclass(frozen=True)
class FeedPage:
    """One read of a bureau's feed: its events after the cursor and the global head they were read up to."""

    events: list[EventEnvelope]
    head: int  # a legitimate cursor never exceeds it: one that does comes from another store


class BureauFeed:
    """Reads one bureau's events after a position (an index on bureau and position: no scan of others')."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._events, self._meta = db[EVENTS], db[META]

    async def ensure_index(self) -> None:
        """Create the (bureau, position) index the feed reads by."""
        await self._events.create_index([("bureau", ASCENDING), ("position", ASCENDING)])

    async def head(self) -> int:
        """Return the highest position every event below which is visible."""
        doc = await self._meta.find_one({"_id": HEAD_ID})
        return int(doc["position"]) if doc else 0

    async def read(self, bureau: str, after: int, limit: int) -> list[EventEnvelope]:
        """Return the bureau's events with a position after `after`, up to the head, oldest first."""
        return (await self.page(bureau, after, limit)).events

    async def page(self, bureau: str, after: int, limit: int) -> FeedPage:
        """Return the bureau's events after `after` up to the head, with that head (the same one read)."""
        head = await self.head()
        if after >= head:
            return FeedPage([], head)
        query = {"bureau": bureau, "position": {"$gt": after, "$lte": head}}
        cursor = self._events.find(query).sort("position", ASCENDING).limit(limit)
        return FeedPage([from_document(doc) async for doc in cursor], head)


class RecorderFeed:
    """The same reads over any recorder (the in-memory fake in tests): filters the global order by bureau."""

    def __init__(self, recorder: EventRecorder, page: int = 1000) -> None:
        self._recorder, self._page = recorder, page

    async def read(self, bureau: str, after: int, limit: int) -> list[EventEnvelope]:
        """Return the bureau's events with a position after `after`, oldest first."""
        return (await self.page(bureau, after, limit)).events

    async def page(self, bureau: str, after: int, limit: int) -> FeedPage:
        """Return the bureau's events after `after` with the last position of the global order (the head)."""
        found: list[EventEnvelope] = []
        start = after
        while len(found) < limit:
            page = await self._recorder.read_all(after, self._page)
            if not page:
                break
            found += [e for e in page if e.bureau == bureau]
            after = page[-1].position or after
        head = after if after > start else await self._last_position()
        return FeedPage(found[:limit], head)

    async def _last_position(self) -> int:
        # Nothing after the cursor: walk the global order from the start (tests' in-memory stores are small).
        last, after = 0, 0
        while page := await self._recorder.read_all(after, self._page):
            last = after = page[-1].position or after + len(page)
        return last
