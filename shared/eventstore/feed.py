"""A bureau's own feed from the event store: its events only, in global order, after a cursor.

The cursor is the global position; only sequenced events (at or below the head) are read, so a reader that
resumes from its last cursor misses nothing and sees nothing twice except what it asks for again.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import EVENTS, HEAD_ID, META, from_document
from shared.eventstore.recorder import EventRecorder


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
        head = await self.head()
        if after >= head:
            return []
        query = {"bureau": bureau, "position": {"$gt": after, "$lte": head}}
        cursor = self._events.find(query).sort("position", ASCENDING).limit(limit)
        return [from_document(doc) async for doc in cursor]


class RecorderFeed:
    """The same reads over any recorder (the in-memory fake in tests): filters the global order by bureau."""

    def __init__(self, recorder: EventRecorder, page: int = 1000) -> None:
        self._recorder, self._page = recorder, page

    async def read(self, bureau: str, after: int, limit: int) -> list[EventEnvelope]:
        """Return the bureau's events with a position after `after`, oldest first."""
        found: list[EventEnvelope] = []
        while len(found) < limit:
            page = await self._recorder.read_all(after, self._page)
            if not page:
                break
            found += [e for e in page if e.bureau == bureau]
            after = page[-1].position or after
        return found[:limit]
