"""Deliveries and the in-app inbox in MongoDB (the notification service's own collections)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notification.adapters.channels.base import Message
from services.notification.domain.deliveries import Delivery, Status

DELIVERIES = "notification_deliveries"
INBOX = "notification_inbox"
_FIELDS = {f.name for f in dataclasses.fields(Delivery)}
UNCLAIMED = datetime(1970, 1, 1, tzinfo=UTC)  # a plain range filter, no $or: SecantusDB scans for $or


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
    """One document per delivery, keyed by its derived id: a second intent for it is refused by the key."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._c = db[DELIVERIES]

    async def ensure_indexes(self) -> None:
        """Index what the sender and the delivery log look up."""
        await self._c.create_index([("status", ASCENDING), ("not_before", ASCENDING)])
        await self._c.create_index([("bureau", ASCENDING), ("case_id", ASCENDING)])
        await self._c.create_index([("bureau", ASCENDING), ("recipient", ASCENDING)])

    async def record(self, delivery: Delivery) -> bool:
        """Record a delivery's intent; False when it was recorded before."""
        try:
            await self._c.insert_one({**to_doc(delivery), "claim": None, "claimed_until": UNCLAIMED})
        except DuplicateKeyError:
            return False
        return True

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        """Claim up to limit pending deliveries due by now; a claim lapses after the lease."""
        # Only the indexed fields in the query (SecantusDB scans when a third one is added); the claim is
        # checked here and again by the update, so two senders never claim the same delivery.
        due = {"status": Status.PENDING.value, "not_before": {"$lte": now}}
        cursor = (
            self._c.find(due, {"_id": 1, "claimed_until": 1}).sort("not_before", ASCENDING).limit(limit * 4)
        )
        ids = [d["_id"] async for d in cursor if _aware(d["claimed_until"]) <= now][:limit]
        if not ids:
            return []
        claim = uuid.uuid4().hex
        free = {**due, "_id": {"$in": ids}, "claimed_until": {"$lte": now}}
        await self._c.update_many(free, {"$set": {"claim": claim, "claimed_until": now + lease}})
        return [from_doc(d) async for d in self._c.find({"claim": claim})]

    async def save_outcome(self, delivery: Delivery) -> None:
        """Keep a delivery's outcome and release the claim."""
        doc = to_doc(delivery)
        doc.pop("_id")
        await self._c.update_one(
            {"_id": delivery.id}, {"$set": {**doc, "claim": None, "claimed_until": UNCLAIMED}}
        )

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

    async def count_failed(self) -> int:
        """Return how many deliveries gave up (surfaced on /healthz)."""
        return await self._c.count_documents({"status": Status.FAILED.value})


class InboxChannel:
    """The in-app inbox: a message is a document the person reads through the API."""

    name = "inbox"

    def __init__(self, db: AsyncDatabase, clock: Any) -> None:
        self._c, self._clock = db[INBOX], clock

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
        try:
            await self._c.insert_one(doc)
        except DuplicateKeyError:
            pass
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
