"""Outbox relay: every event in the store reaches Kafka at least once, key = stream id.

Progress (the last relayed global position and the partition end offsets it produced) is kept in
MongoDB after the broker acknowledged a batch. If the broker comes back without those messages (the
embedded Tansu keeps them only in memory), end offsets go backwards: the relay notices and
republishes from the start; consumers drop the repeats by event id.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import topic_for
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


def _tp_of(key: str) -> TopicPartition:
    topic, _, partition = key.rpartition("|")
    return TopicPartition(topic, int(partition))


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
        offsets_client: AIOKafkaConsumer,
        batch_size: int = 500,
    ) -> None:
        self._recorder = recorder
        self._sequencer = sequencer
        self._checkpoints = checkpoints
        self._producer = producer
        self._offsets = offsets_client
        self._batch_size = batch_size
        self.published_total = 0

    async def step(self) -> int:
        """Sequence and publish one batch; return how many events were published."""
        try:
            await self._sequencer.sequence_once()
        except LeaseLost:
            pass  # another relay instance sequences; we still publish what is sequenced
        checkpoint = await self._checkpoints.load()
        events = await self._recorder.read_all(checkpoint.position, self._batch_size)
        if not events:
            return 0
        try:
            await self._publish(events, checkpoint)
        except BrokerLostMessages as exc:
            await self._restart_from_zero(str(exc))
            return 0
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
            key = _tp_key(meta.topic, meta.partition)
            if meta.offset < checkpoint.offsets.get(key, 0):
                raise BrokerLostMessages(f"{key} got offset {meta.offset}, had reached {checkpoint.offsets[key]}")
            checkpoint.offsets[key] = max(checkpoint.offsets.get(key, 0), meta.offset + 1)

    async def verify_broker_kept_messages(self) -> None:
        """Compare the broker's end offsets with what it acknowledged; republish all if it lost any."""
        checkpoint = await self._checkpoints.load()
        if not checkpoint.offsets:
            return
        partitions = [_tp_of(k) for k in checkpoint.offsets]
        ends = await self._offsets.end_offsets(partitions)
        for tp, end in ends.items():
            if end < checkpoint.offsets[_tp_key(tp.topic, tp.partition)]:
                await self._restart_from_zero(f"{tp.topic}[{tp.partition}] ends at {end}")
                return

    async def _restart_from_zero(self, reason: str) -> None:
        log.warning("broker lost acknowledged messages (%s): republishing every event from position 0", reason)
        await self._checkpoints.save(Checkpoint())

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
