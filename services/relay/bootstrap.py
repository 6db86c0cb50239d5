"""The relay service's only wiring: sequencer + outbox relay from the event store to Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
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
    running: dict[str, OutboxRelay | AIOKafkaProducer] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_indexes(mongo.db)
        await ensure_topics(settings, ALL_TOPICS)
        # acks=all and no idempotent producer: Tansu cannot do it with aiokafka; consumers dedupe instead.
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=settings.linger_ms,
            client_id="relay",
        )
        relay = OutboxRelay(
            recorder=MongoRecorder(mongo.client, mongo.db),
            sequencer=Sequencer(mongo.db),
            checkpoints=CheckpointStore(mongo.db, "kafka"),
            producer=producer,
            batch_size=settings.batch_size,
            on_broker_reset=lambda: ensure_topics(settings, ALL_TOPICS),
        )
        running.update(relay=relay, producer=producer)
        watcher = AppendWatcher(mongo.db[EVENTS])
        await producer.start()
        watcher.start()
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(watcher, stop), name="outbox-relay")
        yield
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)
        await watcher.stop()
        await producer.stop()
        await mongo.client.close()

    async def kafka_ok() -> None:
        producer = running["producer"]
        assert isinstance(producer, AIOKafkaProducer)
        await producer.client.fetch_all_metadata()

    def details() -> dict:
        relay = running.get("relay")
        return {"published": relay.published_total if isinstance(relay, OutboxRelay) else 0}

    app = FastAPI(title="Outbox relay", lifespan=lifespan)
    app.include_router(health_router("relay", {"mongodb": mongo.ping, "kafka": kafka_ok}, details))
    return app
