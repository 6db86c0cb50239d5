"""The sequencer numbers committed events in one global order and moves the head watermark.

Why: MongoDB insert order is not commit order, so positions taken at insert time could become
visible out of order and a tailing reader would skip one. Here only committed events get
positions, one process (holding a lease) assigns them in increasing order, and readers read up
to the head, which moves only after every position below it is written.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.eventstore.mongo import EVENTS, HEAD_ID, META, majority

log = logging.getLogger(__name__)
LEASE_ID = "sequencer-lease"


class LeaseLost(Exception):
    """Another sequencer holds the lease."""


class Sequencer:
    """Assigns global positions to pending events; only the lease holder does."""

    def __init__(self, db: AsyncDatabase, *, batch_size: int = 1000, lease_seconds: float = 15.0) -> None:
        # Majority concern: number only events a failover cannot roll back, and keep the head durable.
        self._events = majority(db, EVENTS)
        self._meta = majority(db, META)
        self._batch_size = batch_size
        self._lease = timedelta(seconds=lease_seconds)
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease_until: datetime | None = None
        self.head: int | None = None  # the head we last wrote; None until recovered from the database

    async def sequence_once(self) -> int:
        """Number one batch of pending events; return how many got a position."""
        try:
            return await self._sequence_batch()
        except (LeaseLost, BulkWriteError):
            self.head = None  # someone else moved things: read the truth again next round
            raise

    async def _sequence_batch(self) -> int:
        await self._hold_lease()
        head = self.head if self.head is not None else await self._recover_head()
        self.head = head
        batch = await self._pending_batch()
        if not batch:
            return 0
        updates = [
            UpdateOne(
                {"_id": doc["_id"], "pending": {"$exists": True}},
                {"$set": {"position": head + i}, "$unset": {"pending": ""}},
            )
            for i, doc in enumerate(batch, start=1)
        ]
        await self._events.bulk_write(updates, ordered=True)
        await self._move_head(head, head + len(batch))
        self.head = head + len(batch)
        return len(batch)

    async def _hold_lease(self) -> None:
        now = datetime.now(UTC)
        if self._lease_until and now < self._lease_until - self._lease / 2:
            return
        try:
            await self._meta.update_one(
                {"_id": LEASE_ID, "$or": [{"owner": self._owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": self._owner, "until": now + self._lease}},
                upsert=True,
            )
        except DuplicateKeyError:
            self._lease_until = None
            raise LeaseLost(LEASE_ID) from None
        self._lease_until = now + self._lease

    async def _recover_head(self) -> int:
        # A sequencer that died between numbering and moving the head left positions above it.
        meta = await self._meta.find_one({"_id": HEAD_ID})
        head = int(meta["position"]) if meta else 0
        top = await self._events.find_one(
            {"position": {"$gt": head}}, {"position": 1}, sort=[("position", -1)]
        )
        if top:
            await self._move_head(head, int(top["position"]))
            return int(top["position"])
        return head

    async def _move_head(self, old: int, new: int) -> None:
        result = await self._meta.update_one({"_id": HEAD_ID, "position": old}, {"$set": {"position": new}})
        if result.matched_count == 0:
            raise LeaseLost("head moved by another sequencer")

    async def _pending_batch(self) -> list[dict[str, Any]]:
        cursor = (
            self._events.find({"pending": {"$exists": True}}, {"stream_id": 1, "version": 1})
            .sort("pending", ASCENDING)
            .limit(self._batch_size)
        )
        docs = [d async for d in cursor]
        return await self._in_stream_order(docs, complete=len(docs) < self._batch_size)

    async def _in_stream_order(self, docs: list[dict[str, Any]], complete: bool) -> list[dict[str, Any]]:
        # Clocks of different writers may disagree: keep each stream's versions ascending, and hold
        # back a stream whose earlier version is still pending outside this batch.
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for d in docs:
            by_stream.setdefault(d["stream_id"], []).append(d)
        for events in by_stream.values():
            events.sort(key=lambda d: d["version"])
        held = set() if complete else await self._streams_waiting_for_earlier(by_stream)
        ordered: list[dict[str, Any]] = []
        emitted: set[str] = set()
        for d in docs:
            stream = d["stream_id"]
            if stream not in emitted and stream not in held:
                emitted.add(stream)
                ordered.extend(by_stream[stream])
        return ordered

    async def _streams_waiting_for_earlier(self, by_stream: dict[str, list[dict[str, Any]]]) -> set[str]:
        # Only when the batch was cut short can an earlier version be pending outside it. One equality
        # lookup per stream: SecantusDB scans the whole collection for an $or.
        held = set()
        for stream, events in by_stream.items():
            first = events[0]["version"]
            query = {"stream_id": stream, "version": first - 1, "pending": {"$exists": True}}
            if first > 1 and await self._events.find_one(query, {"_id": 1}):
                held.add(stream)
        return held
