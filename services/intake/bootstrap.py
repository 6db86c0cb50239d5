"""The intake service's only wiring: MongoDB event store, API keys, integration signing keys, Kafka
subscriber, HTTP routes."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from services.intake.entrypoints import http, integrations_http
from services.intake.entrypoints.kafka import subscribe_intake_requests
from services.intake.settings import IntakeSettings
from shared.auth.integration_keys import (
    InMemoryIntegrationKeyDirectory,
    IntegrationKeyDirectory,
    IntegrationKeyRegistry,
)
from shared.auth.keys import ApiKeyStore, Authenticator, BureauDirectory
from shared.crypto.vault import MemoryKeyStore, MongoKeyStore, Vault
from shared.eventstore.mongo import MongoRecorder, ensure_indexes
from shared.eventstore.recorder import EventRecorder
from shared.messaging.kafka import make_broker, require_ping
from shared.service import Mongo, broker_lifespan, health_router, install_error_handlers, instrument

TITLE = "Intake (立案) API"


@dataclass
class Overrides:
    """Fakes for tests: when given, no MongoDB or Kafka connection is made."""

    recorder: EventRecorder
    api_keys: Authenticator
    integration_keys: IntegrationKeyRegistry = field(default_factory=InMemoryIntegrationKeyDirectory)
    vault: Vault = field(default_factory=lambda: Vault(MemoryKeyStore()))


def build_app(settings: IntakeSettings, overrides: Overrides | None = None) -> FastAPI:
    """Build the intake FastAPI app; connections open in its lifespan."""
    if overrides:
        app = FastAPI(title=TITLE)
        install_error_handlers(app)
        app.state.recorder, app.state.api_keys = overrides.recorder, overrides.api_keys
        app.state.integration_keys, app.state.vault = overrides.integration_keys, overrides.vault
        app.include_router(http.router)
        app.include_router(integrations_http.router)
        return app

    mongo = Mongo.from_settings(settings)
    broker = make_broker(settings, client_id="intake")
    integration_keys = IntegrationKeyDirectory(mongo.db, cache_seconds=settings.signing_key_cache_seconds)
    vault = Vault(MongoKeyStore(mongo.db))  # enterprises' contacts are sealed under their own key
    subscriber = subscribe_intake_requests(
        broker,
        recorder=MongoRecorder(mongo.client, mongo.db),
        bureaus=BureauDirectory(mongo.db),
        group=settings.consumer_group,
        fetch_wait=settings.kafka_fetch_wait,
        keys=integration_keys,
        require_signed=settings.require_signed_messages,
        sealer=vault,
    )

    async def prepare() -> None:
        await ensure_indexes(mongo.db)
        await integration_keys.ensure_indexes()

    app = FastAPI(title=TITLE, lifespan=broker_lifespan(settings, mongo, broker, prepare))
    install_error_handlers(app)
    instrument(app)
    app.state.recorder = MongoRecorder(mongo.client, mongo.db)
    app.state.api_keys = ApiKeyStore(mongo.db)
    app.state.integration_keys, app.state.vault = integration_keys, vault
    app.state.broker = broker
    app.include_router(http.router)
    app.include_router(integrations_http.router)
    app.include_router(
        health_router(
            "intake",
            {"mongodb": mongo.ping, "kafka": lambda: require_ping(broker)},
            subscriber.health,
        )
    )
    return app
