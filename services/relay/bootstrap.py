"""The relay service's only wiring: sequencer + outbox relay from the event store to Kafka, and the audit
route that verifies the hash chain the sequencer writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.relay import audit
from services.relay.health import RelayHealth
from services.relay.settings import RelaySettings
from shared.auth.keys import ApiKeyStore, Authenticator
from shared.contracts.topics import ALL_TOPICS
from shared.eventstore.chain import ChainSource
from shared.eventstore.mongo import EVENTS, MongoChain, MongoRecorder, ensure_indexes
from shared.eventstore.sequencer import Sequencer
from shared.eventstore.watch import AppendWatcher
from shared.messaging.kafka import ensure_topics
from shared.messaging.relay import CheckpointStore, OutboxRelay, ParkedEvents
from shared.service import Mongo, health_router, install_error_handlers, instrument

log = logging.getLogger(__name__)
TITLE = "Outbox relay and audit"


def _report_end(task: asyncio.Task[None]) -> None:
    # The loop survives every Exception itself; if it ends anyway, say so loudly (health reports it too).
    if not task.cancelled() and task.exception() is not None:
        log.critical("the relay loop ended: nothing is published any more", exc_info=task.exception())


@dataclass
class Overrides:
    """Fakes for tests of the audit route: when given, no MongoDB or Kafka connection is made."""

    chain: ChainSource
    api_keys: Authenticator


def _audit_state(app: FastAPI, chain: ChainSource, api_keys: Authenticator) -> None:
    app.state.chain, app.state.api_keys, app.state.audit_lock = chain, api_keys, asyncio.Lock()
    app.include_router(audit.router)


def build_app(settings: RelaySettings, overrides: Overrides | None = None) -> FastAPI:
    """Build the relay: a supervised background loop, /healthz, and the audit route."""
    if overrides:
        app = FastAPI(title=TITLE)
        install_error_handlers(app)
        _audit_state(app, overrides.chain, overrides.api_keys)
        return app
    mongo = Mongo.from_settings(settings)
    recorder = MongoRecorder(mongo.client, mongo.db)
    checkpoints = CheckpointStore(mongo.db, "kafka", lease_seconds=settings.lease_seconds)
    parked = ParkedEvents(mongo.db)
    running: dict[str, RelayHealth] = {}

    def build_relay() -> tuple[OutboxRelay, AIOKafkaProducer]:
        # Built in the lifespan: aiokafka binds a producer to the running event loop.
        # acks=all and no idempotent producer: Tansu cannot do it with aiokafka; consumers dedupe instead.
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=settings.linger_ms,
            client_id="relay",
        )
        relay = OutboxRelay(
            recorder=recorder,
            sequencer=Sequencer(
                mongo.db, lease_seconds=settings.lease_seconds, head_every_s=settings.head_every_s
            ),
            checkpoints=checkpoints,
            producer=producer,
            parked=parked,
            batch_size=settings.batch_size,
            checkpoint_every_s=settings.checkpoint_every_s,
            linger_s=settings.coalesce_ms / 1000,
            on_broker_reset=lambda: ensure_topics(settings, ALL_TOPICS),
            ensure_topic=(lambda topic: ensure_topics(settings, [topic])) if settings.bureau_feeds else None,
        )
        return relay, producer

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_indexes(mongo.db)
        await ensure_topics(settings, ALL_TOPICS)
        relay, producer = build_relay()
        watcher = AppendWatcher(mongo.db[EVENTS], settle_s=settings.empty_wake_settle_ms / 1000)
        await producer.start()
        watcher.start()
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(watcher, stop), name="outbox-relay")
        task.add_done_callback(_report_end)
        running["health"] = RelayHealth(
            relay,
            recorder,
            checkpoints,
            parked,
            settings.max_lag,
            settings.stall_seconds,
            task,
            rejected=MongoChain(mongo.db).rejected,
        )
        app.state.relay, app.state.relay_task = relay, task
        yield
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)
        with contextlib.suppress(Exception):
            await relay.flush()  # progress saved, so a standby does not publish it again
            await relay.stand_down()  # a standby instance takes over at once
        await watcher.stop()
        await producer.stop()
        await mongo.client.close()

    async def kafka_ok() -> None:
        await running["health"].relay.kafka_metadata()

    def check(name: str) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            return await running["health"].checks()[name]()

        return run

    def details() -> dict[str, Any]:
        return running["health"].details() if "health" in running else {}

    app = FastAPI(title=TITLE, lifespan=lifespan)
    install_error_handlers(app)
    instrument(app)
    _audit_state(app, MongoChain(mongo.db, settings.audit_batch_size), ApiKeyStore(mongo.db))
    checks = {"mongodb": mongo.ping, "kafka": kafka_ok} | {n: check(n) for n in RelayHealth.CHECKS}
    app.include_router(health_router("relay", checks, details))
    return app
