"""The disbursement service's only wiring: event store, read models, Kafka consumers, HTTP routes."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement.adapters.bank_references import (
    BANK_REFERENCES,
    BankReferences,
    MemoryBankReferences,
    MongoBankReferences,
)
from services.disbursement.entrypoints import arrears_http, dashboard_http, http
from services.disbursement.entrypoints.kafka import subscribe_read_models, subscribe_reports
from services.disbursement.entrypoints.state import Bureaus, Services
from services.disbursement.projections.rebuild import catch_up_alarm, finish_interrupted
from services.disbursement.projections.store import (
    POINTERS,
    ReadModelWriter,
    ensure_read_model_indexes,
    in_use,
)
from services.disbursement.settings import DisbursementSettings
from shared.auth.integration_keys import IntegrationKeyDirectory
from shared.auth.keys import ApiKeyStore, Authenticator, BureauDirectory
from shared.eventstore.mongo import MongoRecorder, ensure_indexes
from shared.eventstore.recorder import EventRecorder
from shared.idempotency import IdempotencyStore, InMemoryIdempotencyStore, MongoIdempotencyStore
from shared.messaging.consumer import Deduplicator, ReliableSubscriber
from shared.messaging.kafka import make_broker, require_ping
from shared.readmodels.generations import Generations
from shared.readmodels.lease import RebuildLease, holder_name
from shared.readmodels.watch import InterruptedRebuilds
from shared.service import Mongo, broker_lifespan, health_router, install_error_handlers, instrument
from shared.workdays.published import PublishedCalendar as Calendars

TITLE = "Disbursement (资金拨付) API"
IDEMPOTENCY = "disbursement_idempotency"  # recorded answers to Idempotency-Keys, owned by this service
IDEMPOTENCY_TTL_S = 30 * 24 * 3600


@dataclass
class Overrides:
    """Fakes for tests: no Kafka consumer runs; read models live in the given database (may be a fake)."""

    recorder: EventRecorder
    api_keys: Authenticator
    db: AsyncDatabase
    bureaus: Bureaus
    idempotency: IdempotencyStore = field(default_factory=InMemoryIdempotencyStore)
    bank_references: BankReferences = field(default_factory=MemoryBankReferences)


def mount(app: FastAPI, services: Services, api_keys: Authenticator, idempotency: IdempotencyStore) -> None:
    """Put the ports on the app and include the routers (fixed paths before /{disbursement_id})."""
    app.state.services, app.state.api_keys, app.state.idempotency = services, api_keys, idempotency
    for module in (dashboard_http, http, arrears_http):
        app.include_router(module.router)
    install_error_handlers(app)


def build_app(settings: DisbursementSettings, overrides: Overrides | None = None) -> FastAPI:
    """Build the disbursement FastAPI app; connections open in its lifespan."""
    if overrides:
        app = FastAPI(title=TITLE)
        services = Services(
            recorder=overrides.recorder,
            db=overrides.db,
            calendars=Calendars(overrides.recorder),
            bureaus=overrides.bureaus,
            default_stuck_after_workdays=settings.stuck_after_workdays,
            report_max_rows=settings.report_max_rows,
            bank_references=overrides.bank_references,
        )
        mount(app, services, overrides.api_keys, overrides.idempotency)
        return app

    mongo = Mongo.from_settings(settings)
    recorder = MongoRecorder(mongo.client, mongo.db)
    broker = make_broker(settings, client_id="disbursement")
    calendars = Calendars(recorder)
    bureaus = BureauDirectory(mongo.db)
    keys = IntegrationKeyDirectory(mongo.db, cache_seconds=settings.signing_key_cache_seconds)
    generations = Generations(mongo.db, POINTERS)
    references = MongoBankReferences(mongo.db[BANK_REFERENCES])
    names = in_use(generations)
    subscribers: list[ReliableSubscriber[Any]] = [
        subscribe_reports(
            broker,
            recorder=recorder,
            bureaus=bureaus,
            group=settings.consumer_group,
            fetch_wait=settings.kafka_fetch_wait,
            keys=keys,
            require_signed=settings.require_signed_messages,
            references=references,
        ),
        subscribe_read_models(
            broker,
            writer=ReadModelWriter(mongo.db, recorder, calendars.current, names),
            dedupe=Deduplicator(
                mongo.client,
                mongo.db,
                f"{settings.consumer_group}-views",
                marker_ttl=timedelta(days=settings.processed_marker_ttl_days),
            ),
            group=f"{settings.consumer_group}-views",
            fetch_wait=settings.kafka_fetch_wait,
        ),
    ]

    async def prepare() -> None:
        await ensure_indexes(mongo.db)
        await ensure_read_model_indexes(mongo.db, await names())
        await keys.ensure_indexes()
        await mongo.db[IDEMPOTENCY].create_index("recorded_at", expireAfterSeconds=IDEMPOTENCY_TTL_S)
        await references.key_claims_made_before_reference_keys()

    # A rebuild killed after its flip left recent events out of the read models: finish its catch-up here.
    interrupted = InterruptedRebuilds(
        RebuildLease(mongo.db, POINTERS, holder=holder_name("disbursement")),
        functools.partial(finish_interrupted, mongo.db, recorder, calendars.current, generations),
        catch_up_alarm,
    )
    app = FastAPI(title=TITLE, lifespan=interrupted.around(broker_lifespan(settings, mongo, broker, prepare)))
    instrument(app)
    services = Services(
        recorder=recorder,
        db=mongo.db,
        calendars=calendars,
        bureaus=bureaus,
        default_stuck_after_workdays=settings.stuck_after_workdays,
        report_max_rows=settings.report_max_rows,
        names=names,
        bank_references=references,
    )
    mount(app, services, ApiKeyStore(mongo.db), MongoIdempotencyStore(mongo.db[IDEMPOTENCY]))
    app.include_router(
        health_router(
            "disbursement",
            {"mongodb": mongo.ping, "kafka": lambda: require_ping(broker)},
            lambda: {"subscribers": [s.health() for s in subscribers], **interrupted.health()},
        )
    )
    return app
