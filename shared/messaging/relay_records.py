"""The relay's own records: its progress in MongoDB (fenced by the publisher lease), the events it parked, and
the status its loop reports."""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiokafka.structs import RecordMetadata
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import majority

CHECKPOINTS = "relay_checkpoints"
PARKED = "relay_parked"


@dataclass
class Checkpoint:
    """How far the relay got: a global position and the end offset it saw per topic-partition."""

    position: int = 0
    offsets: dict[str, int] = field(default_factory=dict)


def advance(checkpoint: Checkpoint, meta: RecordMetadata) -> None:
    """Record the broker's acknowledgement; raise BrokerLostMessages if its offsets went backwards."""
    key = f"{meta.topic}|{meta.partition}"
    if meta.offset < checkpoint.offsets.get(key, 0):
        raise BrokerLostMessages(f"{key} gave offset {meta.offset}, had reached {checkpoint.offsets[key]}")
    checkpoint.offsets[key] = meta.offset + 1


class BrokerLostMessages(Exception):
    """The broker's end offsets are behind what it acknowledged to us."""


class PublisherLeaseLost(Exception):
    """Another relay instance took the publisher lease: this one must not move the checkpoint."""


class CheckpointStore:
    """Relay progress in MongoDB, with the publisher lease on the same document so every save is fenced."""

    def __init__(self, db: AsyncDatabase, name: str, *, lease_seconds: float = 15.0) -> None:
        self._collection = majority(db, CHECKPOINTS)
        self._name = name
        self._lease = timedelta(seconds=lease_seconds)
        self._until: datetime | None = None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def hold(self) -> bool:
        """Take or renew the publisher lease when due; return whether this instance holds it."""
        now = datetime.now(UTC)
        if self._until and now < self._until - self._lease / 2:
            return True
        # Free when nobody owns it (a checkpoint from before leases has no owner) or it expired. A held
        # lease makes the filter miss, and the upsert then collides on _id: that is the "no".
        free = [{"owner": self.owner}, {"owner": None}, {"until": {"$lt": now}}]
        try:
            await self._collection.update_one(
                {"_id": self._name, "$or": free},
                {
                    "$set": {"owner": self.owner, "until": now + self._lease},
                    "$setOnInsert": {"position": 0, "offsets": {}},
                },
                upsert=True,
            )
        except DuplicateKeyError:
            self._until = None
            return False
        self._until = now + self._lease
        return True

    async def release(self) -> None:
        """Let the lease expire now (a clean shutdown), so a standby takes over without waiting."""
        self._until = None
        await self._collection.update_one(
            {"_id": self._name, "owner": self.owner}, {"$set": {"until": datetime.now(UTC)}}
        )

    async def load(self) -> Checkpoint:
        """Return the saved checkpoint, or the start."""
        doc = await self._collection.find_one({"_id": self._name})
        return Checkpoint(doc.get("position", 0), dict(doc.get("offsets", {}))) if doc else Checkpoint()

    async def save(self, checkpoint: Checkpoint) -> None:
        """Persist the checkpoint; raise PublisherLeaseLost when another instance took the lease."""
        result = await self._collection.update_one(
            {"_id": self._name, "owner": self.owner},
            {"$set": {"position": checkpoint.position, "offsets": checkpoint.offsets}},
        )
        if result.matched_count == 0:
            self._until = None
            raise PublisherLeaseLost(self._name)


class ParkedEvents:
    """Events the broker refused for good, set aside in `relay_parked` with the reason, for an operator.

    An operator fixes the cause, republishes or accepts the loss, then sets `resolved_at` on the record.
    """

    def __init__(self, db: AsyncDatabase) -> None:
        self._collection = majority(db, PARKED)

    async def park(self, envelope: EventEnvelope, reason: str) -> None:
        """Record the event as unpublishable (idempotent)."""
        await self._collection.update_one(
            {"_id": str(envelope.event_id)},
            {
                "$setOnInsert": {
                    "position": envelope.position,
                    "stream_id": envelope.stream_id,
                    "stream_type": envelope.stream_type,
                    "event_type": envelope.event_type,
                    "bureau": envelope.bureau,
                    "size": len(envelope.model_dump_json().encode()),
                    "reason": reason[:2000],
                    "parked_at": datetime.now(UTC),
                }
            },
            upsert=True,
        )

    async def unresolved(self) -> int:
        """Return how many parked events wait for an operator."""
        return await self._collection.count_documents({"resolved_at": None})


@dataclass
class RelayStatus:
    """What the relay loop reports on /healthz."""

    state: str = "starting"  # starting | active | standby | stopped
    published: int = 0
    parked: int = 0
    errors: int = 0
    last_error: str | None = None
    last_progress: float = field(default_factory=time.monotonic)  # published, or found nothing to publish

    def seconds_since_progress(self) -> float:
        """Return how long ago the relay last published or was caught up."""
        return time.monotonic() - self.last_progress
