"""The relay service's only wiring: sequencer + outbox relay from the event store to Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from services.relay.settings import RelaySettings
from shared.contracts.topics import ALL_TOPICS
from shared.eventstore.mongo import EVENTS, MongoRecorder, ensure_indexes
from shared.eventstore.sequencer import Sequencer
from shared.eventstore.watch import AppendWatcher
from shared.messaging.kafka import ensure_topics
from shared.messaging.relay import CheckpointStore, OutboxRelay
from shared.service import Mongo, health_router


def build_app(settings: RelaySettings) -> FastAPI:
    """Build the relay: a background loop and a /healthz endpoint."""
    mongo = Mongo.from_settings(settings)
    running: dict[str, OutboxRelay | AIOKafkaConsumer] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_indexes(mongo.db)
        await ensure_topics(settings, ALL_TOPICS)
        # acks=all and no idempotent producer: Tansu cannot do it with aiokafka; consumers dedupe instead.
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=settings.linger_ms,
            client_id="relay",
        )
        offsets = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, client_id="relay-offsets")
        relay = OutboxRelay(
            recorder=MongoRecorder(mongo.client, mongo.db),
            sequencer=Sequencer(mongo.db),
            checkpoints=CheckpointStore(mongo.db, "kafka"),
            producer=producer,
            offsets_client=offsets,
            batch_size=settings.batch_size,
        )
        running.update(relay=relay, offsets=offsets)
        watcher = AppendWatcher(mongo.db[EVENTS])
        await producer.start()
        await offsets.start()
        watcher.start()
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(watcher, stop), name="outbox-relay")
        yield
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)
        await watcher.stop()
        await offsets.stop()
        await producer.stop()
        await mongo.client.close()

    async def kafka_ok() -> None:
        offsets = running["offsets"]
        assert isinstance(offsets, AIOKafkaConsumer)
        await offsets.topics()

    def details() -> dict:
        relay = running.get("relay")
        return {"published": relay.published_total if isinstance(relay, OutboxRelay) else 0}

    app = FastAPI(title="Outbox relay", lifespan=lifespan)
    app.include_router(health_router("relay", {"mongodb": mongo.ping, "kafka": kafka_ok}, details))
    return app
