"""The case query service's only wiring: case-view projection consumer and the read API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.entrypoints import http
from services.casequery.entrypoints.kafka import subscribe_case_view
from services.casequery.projections.case_view import CASE_VIEW, CaseViews, ensure_view_indexes
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import ApiKeyStore, Authenticator
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.recorder import EventRecorder
from shared.messaging.consumer import Deduplicator
from shared.messaging.kafka import make_broker, require_ping
from shared.service import Mongo, broker_lifespan, health_router, install_error_handlers

TITLE = "Case query API"


@dataclass
class Overrides:
    """Fakes for tests: when given, no MongoDB or Kafka connection is made (and no consumer runs)."""

    views: AsyncCollection
    recorder: EventRecorder
    api_keys: Authenticator


def build_app(settings: CaseQuerySettings, overrides: Overrides | None = None) -> FastAPI:
    """Build the case query FastAPI app; connections open in its lifespan."""
    if overrides:
        app = FastAPI(title=TITLE)
        app.state.views, app.state.recorder = overrides.views, overrides.recorder
        app.state.api_keys = overrides.api_keys
        app.include_router(http.router)
        install_error_handlers(app)
        return app

    mongo = Mongo.from_settings(settings)
    recorder = MongoRecorder(mongo.client, mongo.db)
    broker = make_broker(settings, client_id="casequery")
    subscriber = subscribe_case_view(
        broker,
        views=CaseViews(mongo.db[CASE_VIEW], recorder),
        dedupe=Deduplicator(
            mongo.client,
            mongo.db,
            settings.consumer_group,
            marker_ttl=timedelta(days=settings.processed_marker_ttl_days),
        ),
        group=settings.consumer_group,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )

    app = FastAPI(
        title=TITLE,
        lifespan=broker_lifespan(settings, mongo, broker, lambda: ensure_view_indexes(mongo.db[CASE_VIEW])),
    )
    install_error_handlers(app)
    app.state.views = mongo.db[CASE_VIEW]
    app.state.recorder = recorder
    app.state.api_keys = ApiKeyStore(mongo.db)
    app.include_router(http.router)
    app.include_router(
        health_router(
            "casequery", {"mongodb": mongo.ping, "kafka": lambda: require_ping(broker)}, subscriber.health
        )
    )
    return app
