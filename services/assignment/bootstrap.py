"""The assignment service's only wiring: boards, cases, policies, calendar, HTTP routes."""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI

from services.assignment.application.boards import Boards, Cases
from services.assignment.application.calendars import Calendars
from services.assignment.application.workload import workload_by_concierge
from services.assignment.entrypoints import calendar_http, http, notices_http, settings_http
from services.assignment.entrypoints.kafka import subscribe_policies
from services.assignment.settings import AssignmentSettings
from services.casequery.projections.case_view import CASE_VIEW
from shared.auth.keys import ApiKeyStore, BureauDirectory
from shared.eventstore.mongo import MongoRecorder, ensure_indexes
from shared.messaging.kafka import make_broker, require_ping
from shared.service import Mongo, broker_lifespan, health_router

TITLE = "Assignment (专责店小二) API"


def build_app(settings: AssignmentSettings) -> FastAPI:
    """Build the assignment FastAPI app; connections open in its lifespan."""
    mongo = Mongo.from_settings(settings)
    recorder = MongoRecorder(mongo.client, mongo.db)
    boards = Boards(recorder, capacity=lambda _bureau: settings.enterprises_per_concierge)
    cases = Cases(recorder)
    broker = make_broker(settings, client_id="assignment")
    calendars = Calendars(recorder)
    subscribers = subscribe_policies(
        broker,
        boards=boards,
        cases=cases,
        calendars=calendars,
        views=mongo.db[CASE_VIEW],
        group=settings.consumer_group,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )

    async def workload(bureau: str, now: datetime) -> dict[str, dict[str, int]]:
        return await workload_by_concierge(mongo.db[CASE_VIEW], bureau, now)

    app = FastAPI(
        title=TITLE, lifespan=broker_lifespan(settings, mongo, broker, lambda: ensure_indexes(mongo.db))
    )
    app.state.boards, app.state.cases = boards, cases
    app.state.calendars = calendars
    app.state.workload = workload
    app.state.case_views = mongo.db[CASE_VIEW]
    app.state.api_keys = ApiKeyStore(mongo.db)
    app.include_router(http.router)
    app.include_router(notices_http.router)
    app.include_router(calendar_http.router)
    app.include_router(settings_http.router)
    app.state.recorder = recorder
    app.state.bureaus = BureauDirectory(mongo.db)
    app.include_router(
        health_router(
            "assignment",
            {"mongodb": mongo.ping, "kafka": lambda: require_ping(broker)},
            lambda: {"consumers": [s.health() for s in subscribers]},
        )
    )
    return app
