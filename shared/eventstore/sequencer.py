"""The sequencer numbers committed events in one global order and moves the head watermark.

Why: MongoDB insert order is not commit order, so positions taken at insert time could become
visible out of order and a tailing reader would skip one. Here only committed events get
positions, one process (holding a lease) assigns them in increasing order, and readers read up
to the head, which moves only after every position below it is written.

The sequencer also chains the events (see chain.py): each position is written together with the
event's hash (over its canonical envelope and the previous event's hash) and that previous hash, and
the head document keeps the head hash, so the chain is never computed on read. A store that has
events from before the chain keeps them unchained: the chain starts at the first position numbered
after the upgrade (`chain_start` in the head document).

Only documents that read as an event get a position: the sequencer validates each pending document it read
(in memory) and sets an unreadable one aside in `events_rejected` (unreadable.py), so the global order stays
gap-free and every position in it can be published and verified.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.contracts.envelope import EventEnvelope
from shared.eventstore.chain import GENESIS, document_fields, event_hash
from shared.eventstore.mongo import EVENTS, HEAD_ID, META, from_document, majority
from shared.eventstore.unreadable import REJECTED, set_aside, structural_fault, why_unreadable

log = logging.getLogger(__name__)
LEASE_ID = "sequencer-lease"
# Storage bookkeeping the sequencer does not need to chain an event.
_NOT_CHAINED = {"command_id": 0, "command_seq": 0}


class LeaseLost(Exception):
    """Another sequencer holds the lease."""


class Sequencer:
    """Assigns global positions to pending events; only the lease holder does."""

    def __init__(
        self,
        db: AsyncDatabase,
        *,
        batch_size: int = 1000,
        lease_seconds: float = 15.0,
        head_every_s: float = 0.0,
    ) -> None:
        # Majority concern: number only events a failover cannot roll back, and keep the head durable.
        self._events = majority(db, EVENTS)
        self._meta = majority(db, META)
        self._rejected = majority(db, REJECTED)
        self._batch_size = batch_size
        self._lease = timedelta(seconds=lease_seconds)
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease_until: datetime | None = None
        self.head: int | None = None  # the head we last wrote; None until recovered from the database
        self.head_hash: str | None = None  # the chain hash at that head
        # The events the last batch numbered, as now stored (position set), validated once here: the relay
        # publishes them without reading them back when it was caught up.
        self.numbered: list[EventEnvelope] = []
        # The ids of the documents the last batch took out of the queue (numbered or set aside).
        self.handled: set[str] = set()
        self._envelopes: dict[Any, EventEnvelope] = {}  # the batch's pending documents, read as events
        # How often the head document moves while events keep coming (0: after every batch); it always moves
        # when a round finds nothing pending. Positions above a stale head are complete all the same (they are
        # written before the head is), and a new sequencer adopts them (_recover_head): a later head only makes
        # other readers (the feed, a rebuild) see new events a little later, for one round trip less per batch.
        self._head_every_s = head_every_s
        self._stored_head: int | None = None  # the head document's position as this process last wrote it
        self._head_moved_at = float("-inf")

    async def sequence_once(self) -> int:
        """Number and chain one batch of pending events; return how many got a position."""
        try:
            return await self._sequence_batch()
        except (LeaseLost, BulkWriteError):
            self.head = self.head_hash = None  # someone else moved things: read the truth again next round
            self._stored_head = None
            raise

    async def _sequence_batch(self) -> int:
        self.numbered, self.handled = [], set()
        await self._hold_lease()
        if self.head is None or self.head_hash is None:
            self.head, self.head_hash = await self._recover_head()
            self._stored_head = self.head
        head, previous = self.head, self.head_hash
        batch = await self._pending_batch()
        if not batch:
            await self.flush_head()
            return 0
        updates, numbered = [], []
        for position, doc in enumerate(batch, start=head + 1):
            digest = event_hash(previous, document_fields(doc, position))
            if (envelope := self._envelopes.get(doc["_id"])) is not None:
                numbered.append(envelope.model_copy(update={"position": position}))
            updates.append(
                UpdateOne(
                    {"_id": doc["_id"], "pending": {"$exists": True}},
                    {
                        "$set": {"position": position, "hash": digest, "prev_hash": previous},
                        "$unset": {"pending": ""},
                    },
                )
            )
            previous = digest
        result = await self._events.bulk_write(updates, ordered=True)
        if result.matched_count != len(batch):
            # Another sequencer took the lease while this one stalled and numbered some of these events.
            # Leave the head to it: its recovery adopts positions written above its head, whose hashes
            # chain from the same head in the same pending order (a different order would show up in
            # `make verify` as a break at that position, never pass silently).
            raise LeaseLost("events of this batch were numbered by another sequencer")
        self.head, self.head_hash = head + len(batch), previous
        if time.monotonic() - self._head_moved_at >= self._head_every_s:
            await self.flush_head()
        # An event of a newer writer (fields this code does not know) has no envelope here: the relay then
        # reads the batch back from the store, and stops at that event saying why until it is upgraded.
        self.numbered = numbered if len(numbered) == len(batch) else []
        self.handled |= {str(doc["_id"]) for doc in batch}
        return len(batch)

    async def flush_head(self) -> None:
        """Move the head document to the head this process reached, if it is behind (idle, or stopping)."""
        if self.head is None or self._stored_head is None or self._stored_head == self.head:
            return
        await self._move_head(self._stored_head, self.head, self.head_hash)
        self._stored_head, self._head_moved_at = self.head, time.monotonic()

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

    async def _recover_head(self) -> tuple[int, str]:
        """Return the head position and hash, repairing what a crashed sequencer left behind."""
        meta = await self._meta.find_one({"_id": HEAD_ID}) or {}
        head = int(meta.get("position", 0))
        head_hash = meta.get("hash")
        # A sequencer that died between numbering and moving the head left positions above it; their
        # hashes were chained from the head hash, so the top one is the head hash now.
        # (Not a pending document carrying a position: that was written past the recorder, and the batch
        # about to be read sets it aside.)
        top = await self._events.find_one(
            {"position": {"$gt": head}, "pending": {"$exists": False}},
            {"position": 1, "hash": 1},
            sort=[("position", -1)],
        )
        if top:
            top_hash = top.get("hash")
            await self._move_head(head, int(top["position"]), top_hash)
            head, head_hash = int(top["position"]), top_hash
        if "chain_start" not in meta:
            # A store from before the chain (or a new one): the chain begins after the head, for good.
            await self._start_chain(head)
            head_hash = GENESIS
        elif head_hash is None:
            # The head lost its hash (edited, or an old sequencer moved it): go on from GENESIS without
            # moving chain_start, so `make verify` reports the break here instead of hiding what precedes.
            log.error("the head at position %d has no chain hash: the chain is broken there", head)
            head_hash = GENESIS
        return head, head_hash

    async def _start_chain(self, head: int) -> None:
        result = await self._meta.update_one(
            {"_id": HEAD_ID, "position": head},
            {"$set": {"hash": GENESIS, "chain_start": head + 1}},
            upsert=head == 0,
        )
        if result.matched_count == 0 and result.upserted_id is None:
            raise LeaseLost("head moved by another sequencer")
        log.info("event chain starts at position %d", head + 1)

    async def _move_head(self, old: int, new: int, head_hash: str | None) -> None:
        result = await self._meta.update_one(
            {"_id": HEAD_ID, "position": old}, {"$set": {"position": new, "hash": head_hash}}
        )
        if result.matched_count == 0:
            raise LeaseLost("head moved by another sequencer")

    async def _pending_batch(self) -> list[dict[str, Any]]:
        cursor = (
            # Whole documents: the sequencer hashes what it numbers.
            self._events.find({"pending": {"$exists": True}}, _NOT_CHAINED)
            .sort("pending", ASCENDING)
            .limit(self._batch_size)
        )
        docs = [d async for d in cursor]
        complete = len(docs) < self._batch_size
        return await self._in_stream_order(await self._readable(docs), complete=complete)

    async def _readable(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return the documents that read as events (kept as envelopes); set the others aside."""
        self._envelopes, readable = {}, []
        for doc in docs:
            try:
                reason = structural_fault(doc)
                if reason is None:
                    self._envelopes[doc["_id"]] = from_document(doc)
                    readable.append(doc)
                    continue
            except ValidationError as exc:
                if all(e["type"] == "extra_forbidden" for e in exc.errors()):
                    # Only fields this code does not know: a newer writer's event, mid-upgrade. An event,
                    # so it is numbered, never set aside; the relay stops at it until it is upgraded too.
                    log.warning("event %r has envelope fields this version does not know", doc["_id"])
                    readable.append(doc)
                    continue
                reason = why_unreadable(exc)
            await set_aside(self._events, self._rejected, doc["_id"], reason)
            self.handled.add(str(doc["_id"]))
        return readable

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
