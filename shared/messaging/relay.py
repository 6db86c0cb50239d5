"""Outbox relay: every event in the store reaches Kafka at least once, key = stream id.

Progress (the last relayed global position and the next offset the broker gave per partition) is
kept in MongoDB after the broker acknowledged a batch. If the broker comes back without those messages
(the embedded Tansu keeps them only in memory), the offsets it hands out go backwards: the relay
notices, on its next batch or on an idle-time heartbeat record, and republishes from the start;
consumers drop the repeats by event id. (Tansu's ListOffsets answers are not high watermarks, so the
check rests on produce acknowledgements, which are exact on every broker.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, PyMongoError

from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import RELAY_HEARTBEAT, topic_for
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.sequencer import LeaseLost, Sequencer
from shared.eventstore.watch import AppendWatcher
from shared.messaging.kafka import envelope_headers

log = logging.getLogger(__name__)
CHECKPOINTS = "relay_checkpoints"


@dataclass
class Checkpoint:
    """How far the relay got: a global position and the end offset it saw per topic-partition."""

    position: int = 0
    offsets: dict[str, int] = field(default_factory=dict)


def _tp_key(topic: str, partition: int) -> str:
    return f"{topic}|{partition}"


def _advance(checkpoint: Checkpoint, meta: RecordMetadata) -> None:
    key = _tp_key(meta.topic, meta.partition)
    if meta.offset < checkpoint.offsets.get(key, 0):
        raise BrokerLostMessages(f"{key} gave offset {meta.offset}, had reached {checkpoint.offsets[key]}")
    checkpoint.offsets[key] = meta.offset + 1


class CheckpointStore:
    """Relay progress in MongoDB."""

    def __init__(self, db: AsyncDatabase, name: str) -> None:
        self._collection = db[CHECKPOINTS]
        self._name = name

    async def load(self) -> Checkpoint:
        """Return the saved checkpoint, or the start."""
        doc = await self._collection.find_one({"_id": self._name})
        return Checkpoint(doc["position"], dict(doc["offsets"])) if doc else Checkpoint()

    async def save(self, checkpoint: Checkpoint) -> None:
        """Persist the checkpoint."""
        await self._collection.update_one(
            {"_id": self._name},
            {"$set": {"position": checkpoint.position, "offsets": checkpoint.offsets}},
            upsert=True,
        )


class BrokerLostMessages(Exception):
    """The broker's end offsets are behind what it acknowledged to us."""


class OutboxRelay:
    """Sequences new events, publishes them in global order, then saves progress."""

    def __init__(
        self,
        *,
        recorder: MongoRecorder,
        sequencer: Sequencer,
        checkpoints: CheckpointStore,
        producer: AIOKafkaProducer,
        batch_size: int = 500,
        on_broker_reset: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._recorder = recorder
        self._sequencer = sequencer
        self._checkpoints = checkpoints
        self._producer = producer
        self._batch_size = batch_size
        self._on_broker_reset = on_broker_reset
        self._cached: Checkpoint | None = None
        self.published_total = 0

    async def step(self) -> int:
        """Sequence and publish one batch; return how many events were published."""
        try:
            await self._sequencer.sequence_once()
        except (LeaseLost, BulkWriteError):
            log.info("another relay instance sequences; this one only publishes")
        checkpoint = await self._checkpoint()
        events = await self._recorder.read_all(
            checkpoint.position, self._batch_size, up_to=self._sequencer.head
        )
        if not events:
            return 0
        try:
            await self._publish(events, checkpoint)
        except BrokerLostMessages as exc:
            await self._restart_from_zero(str(exc))
            return 0
        except BaseException:
            self._cached = None  # partly advanced in memory: reload the saved truth
            raise
        checkpoint.position = events[-1].position or checkpoint.position
        await self._checkpoints.save(checkpoint)
        self.published_total += len(events)
        return len(events)

    async def _publish(self, events: list[EventEnvelope], checkpoint: Checkpoint) -> None:
        sends = [
            await self._producer.send(
                topic_for(e.stream_type),
                value=e.model_dump_json().encode(),
                key=e.stream_id.encode(),
                headers=envelope_headers(e),
            )
            for e in events
        ]
        for meta in await asyncio.gather(*sends):
            _advance(checkpoint, meta)

    async def _checkpoint(self) -> Checkpoint:
        # This relay is the only writer of its checkpoint while it runs: read it once, then keep it.
        if self._cached is None:
            self._cached = await self._checkpoints.load()
        return self._cached

    async def verify_broker_kept_messages(self) -> None:
        """Write a heartbeat record; if its offset went backwards the broker lost messages: republish all."""
        checkpoint = await self._checkpoint()
        meta = await self._producer.send_and_wait(RELAY_HEARTBEAT, b"", partition=0)
        try:
            _advance(checkpoint, meta)
        except BrokerLostMessages as exc:
            await self._restart_from_zero(str(exc))
            return
        await self._checkpoints.save(checkpoint)

    async def _restart_from_zero(self, reason: str) -> None:
        log.warning(
            "broker lost acknowledged messages (%s): republishing every event from position 0", reason
        )
        if self._on_broker_reset:
            await self._on_broker_reset()  # e.g. create the topics again with their configured partitions
        self._cached = Checkpoint()
        await self._checkpoints.save(self._cached)

    async def run(self, watcher: AppendWatcher, stop: asyncio.Event, idle_check_s: float = 2.0) -> None:
        """Relay until stop is set, surviving broker and database outages."""
        backoff = 0.1
        idle_since_check = 0.0
        while not stop.is_set():
            try:
                if await self.step():
                    backoff = 0.1
                    continue
                await watcher.wait(timeout=0.5)
                idle_since_check += 0.5
                if idle_since_check >= idle_check_s:
                    idle_since_check = 0.0
                    await self.verify_broker_kept_messages()
            except (KafkaError, PyMongoError, OSError) as exc:
                log.warning("relay paused (%s: %s); retrying in %.1fs", type(exc).__name__, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                idle_since_check = idle_check_s  # check the broker's offsets as soon as it answers again
