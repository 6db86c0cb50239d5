"""Deliveries and the in-app inbox in MongoDB (the notification service's own collections)."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.adapters.channels.base import Message
from services.notification.adapters.group_commit import GroupCommit
from services.notification.domain.deliveries import Delivery, Status
from shared.bulk_writes import insert_new

DELIVERIES = "notification_deliveries"
CLAIMS = "notification_claims"
CLAIM_KEPT_S = 24 * 3600  # how long a claim document stays after its lease ended
INBOX = "notification_inbox"
_FIELDS = {f.name for f in dataclasses.fields(Delivery)}
SWEEP = 5000  # due ids read at once
SWEEP_MAX_AGE = 10.0  # seconds: a delivery recorded meanwhile waits at most this long behind a backlog
# A withdrawn delivery's claim is held this long: far longer than a sweep's copy of what is due lives, so no
# sender claims it from a copy read before the withdrawal (afterwards it re-reads it and sees it withdrawn).
WITHDRAWN_FENCE = timedelta(minutes=2)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # a client without tz_aware reads naive UTC


def to_doc(delivery: Delivery) -> dict[str, Any]:
    """Return a delivery as stored."""
    doc = dataclasses.asdict(delivery)
    doc["_id"] = doc.pop("id")
    doc["status"] = delivery.status.value
    doc["history"] = list(delivery.history)
    return doc


def from_doc(doc: dict[str, Any]) -> Delivery:
    """Return a stored delivery."""
    fields = {k: v for k, v in doc.items() if k in _FIELDS}
    fields.update(id=doc["_id"], status=Status(doc["status"]), history=tuple(doc.get("history", ())))
    return Delivery(**fields)


class MongoDeliveryStore:
    """One document per delivery, keyed by its derived id: a second intent for it is refused by the key.

    A sender's claim on a delivery is a small document of its own (same id, `until` its lease ends): inserting
    it is one cheap write, where marking the delivery would rewrite it and every index of it on SecantusDB.
    """

    def __init__(self, db: AsyncDatabase) -> None:
        self._c, self._claims = db[DELIVERIES], db[CLAIMS]
        self._due: list[dict[str, Any]] = []  # what the last sweep found due, oldest first, not yet tried
        self._swept_at = float("-inf")
        self._outcomes = GroupCommit(self._write_batch)  # a round's outcomes go together

    async def ensure_indexes(self) -> None:
        """Index what the sender and the delivery log look up."""
        await self._c.create_index([("status", ASCENDING), ("not_before", ASCENDING)])
        await self._c.create_index([("bureau", ASCENDING), ("case_id", ASCENDING)])
        await self._c.create_index([("bureau", ASCENDING), ("recipient", ASCENDING)])
        # A claim is only worth keeping while it can fence another sender: a day after it ended it goes. A
        # sweep's view of what is due is at most seconds old, so no sender acts on a claim that old.
        await self._claims.create_index("until", expireAfterSeconds=CLAIM_KEPT_S, name="until_ttl")

    async def record(self, delivery: Delivery) -> bool:
        """Record a delivery's intent; False when it was recorded before."""
        return await self.record_all([delivery]) == 1

    async def record_all(self, deliveries: list[Delivery]) -> int:
        """Record deliveries' intents in one write; return how many were new (not recorded before)."""
        docs = [to_doc(delivery) for delivery in deliveries]
        return len(docs) - len(await insert_new(self._c, docs))

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        """Claim up to limit pending deliveries due by now; a claim lapses after the lease."""
        if len(self._due) < limit or time.monotonic() - self._swept_at > SWEEP_MAX_AGE:
            await self._sweep(now)
        while self._due:
            batch, self._due = self._due[:limit], self._due[limit:]
            claimed = await self._claim(batch, now, now + lease)
            if claimed:
                return claimed
        return []

    async def _sweep(self, now: datetime) -> None:
        # SecantusDB decodes every match of a query before it applies the limit, so asking for a round's
        # worth at a time would read the whole backlog every round: read what is due once, claim it in turns.
        due = {"status": Status.PENDING.value, "not_before": {"$lte": now}}
        self._due = await self._c.find(due).sort("not_before", ASCENDING).limit(SWEEP).to_list()
        self._swept_at = time.monotonic()

    async def _claim(self, docs: list[dict[str, Any]], now: datetime, until: datetime) -> list[Delivery]:
        # A claim inserted now was never taken before, so the swept copy is the delivery as recorded (only a
        # claim holder changes it). One claimed before is taken over only when that claim has ended.
        claims = [{"_id": d["_id"], "until": until} for d in docs]
        taken_before = [claim["_id"] for claim in await insert_new(self._claims, claims)]
        skip = set(taken_before)
        claimed = [from_doc(d) for d in docs if d["_id"] not in skip]
        for delivery_id in taken_before:
            retaken = await self._retake(delivery_id, now, until)
            if retaken is not None:
                claimed.append(retaken)
        return claimed

    async def _retake(self, delivery_id: str, now: datetime, until: datetime) -> Delivery | None:
        # A sender died holding it, a retry's time came, or another sender finished it since the sweep: read
        # the delivery again and take it only while it is still pending and due.
        taken = await self._claims.update_one(
            {"_id": delivery_id, "until": {"$lte": now}}, {"$set": {"until": until}}
        )
        if not taken.modified_count:
            return None
        doc = await self._c.find_one({"_id": delivery_id})
        if doc is None or doc["status"] != Status.PENDING.value:
            return None
        if _aware(doc["not_before"]) > now:
            await self._claims.update_one({"_id": delivery_id}, {"$set": {"until": doc["not_before"]}})
            return None
        return from_doc(doc)

    async def withdraw(self, causes: list[str], reason: str, now: datetime) -> int:
        """Withdraw the deliveries of these causes not sent yet (never sent from then on); return how many."""
        if not causes:
            return 0
        # Status first: the index on it leaves only the few pending deliveries to match by cause.
        query = {"status": Status.PENDING.value, "cause": {"$in": causes}}
        ids = [d["_id"] async for d in self._c.find(query, {"_id": 1})]
        if not ids:
            return 0
        fence = now + WITHDRAWN_FENCE
        # Fence first: a sender holding a swept copy from before the withdrawal finds the claim taken. A claim
        # already there (a retry's, or a sender's now) is held at least as long.
        for taken in await insert_new(self._claims, [{"_id": i, "until": fence} for i in ids]):
            await self._claims.update_one(
                {"_id": taken["_id"], "until": {"$lt": fence}}, {"$set": {"until": fence}}
            )
        withdrawn = {"status": Status.WITHDRAWN.value, "withdrawn_reason": reason}
        # Point updates, each only while still pending: one sent or failed meanwhile keeps its outcome.
        result = await self._c.bulk_write(
            [UpdateOne({"_id": i, "status": Status.PENDING.value}, {"$set": withdrawn}) for i in ids],
            ordered=False,
        )
        return result.modified_count

    async def save_outcome(self, delivery: Delivery) -> None:
        """Keep a delivery's outcome and release the claim; return once it is written."""
        await self._outcomes.submit(delivery)

    async def _write_batch(self, deliveries: list[Delivery]) -> None:
        outcomes = []
        for delivery in deliveries:
            doc = to_doc(delivery)
            doc.pop("_id")
            # Sent is a fact and always kept; a retry or a failure is kept only while the delivery is still
            # pending: one withdrawn while it was being tried stays withdrawn and is not tried again.
            sent = delivery.status is Status.SENT
            match = {"_id": delivery.id} if sent else {"_id": delivery.id, "status": Status.PENDING.value}
            outcomes.append(UpdateOne(match, {"$set": doc}))
        await self._c.bulk_write(outcomes, ordered=False)
        # A retry frees its claim when it is due, not when the lease ends. Sent or failed: the claim just runs
        # out; the delivery is no longer pending, so no sweep finds it again.
        retries = [
            UpdateOne({"_id": d.id}, {"$set": {"until": d.not_before}})
            for d in deliveries
            if d.status is Status.PENDING
        ]
        if retries:
            await self._claims.bulk_write(retries, ordered=False)

    async def find(self, bureau: str, filters: dict[str, str], limit: int, offset: int) -> list[Delivery]:
        """Return a bureau's deliveries, newest first, filtered by case_id, recipient or status."""
        query: dict[str, Any] = {"bureau": bureau, **filters}
        cursor = (
            self._c.find(query)
            .sort([("created_at", DESCENDING), ("_id", ASCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return [from_doc(d) async for d in cursor]

    async def forget_addresses(self, bureau: str, recipient: str) -> int:
        """Blank the masked address on every delivery to an erased recipient (one write); return how many."""
        result = await self._c.update_many(
            {"bureau": bureau, "recipient": recipient, "address_masked": {"$ne": None}},
            {"$set": {"address_masked": None}},
        )
        return result.modified_count

    async def count_failed(self) -> int:
        """Return how many deliveries gave up (surfaced on /healthz)."""
        return await self._c.count_documents({"status": Status.FAILED.value})


class InboxChannel:
    """The in-app inbox: a message is a document the person reads through the API."""

    name = "inbox"

    def __init__(self, db: AsyncDatabase, clock: Any) -> None:
        self._c, self._clock = db[INBOX], clock
        self._messages = GroupCommit(self._insert)  # a round's messages go in together

    async def _insert(self, docs: list[dict[str, Any]]) -> None:
        await insert_new(self._c, docs)  # a message already there is a resend: nothing to do

    async def ensure_indexes(self) -> None:
        """Index a person's inbox, newest first."""
        await self._c.create_index([("recipient", ASCENDING), ("created_at", DESCENDING)])

    async def send(self, message: Message) -> str:
        """Put the message in the recipient's inbox (the address is the recipient id); a resend is a no-op."""
        doc = {
            "_id": message.idempotency_key,
            "recipient": message.address,
            "subject": message.subject,
            "body": message.body,
            "escalation": message.escalation,
            "created_at": self._clock(),
            "read_at": None,
        }
        await self._messages.submit(doc)
        return message.idempotency_key

    async def list(self, recipient: str, unread_only: bool, limit: int, offset: int) -> list[dict[str, Any]]:
        """Return a person's messages, newest first."""
        query: dict[str, Any] = {"recipient": recipient}
        if unread_only:
            query["read_at"] = None
        cursor = (
            self._c.find(query)
            .sort([("created_at", DESCENDING), ("_id", ASCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return [d async for d in cursor]

    async def mark_read(self, recipient: str, message_id: str, now: datetime) -> bool:
        """Mark one of the person's messages read; False when it is not theirs (or does not exist)."""
        found = await self._c.find_one({"_id": message_id, "recipient": recipient}, {"_id": 1, "read_at": 1})
        if found is None:
            return False
        if found.get("read_at") is None:
            await self._c.update_one({"_id": message_id, "read_at": None}, {"$set": {"read_at": now}})
        return True
