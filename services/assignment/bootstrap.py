"""The assignment service's only wiring: boards, cases, policies, calendar, HTTP routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from services.assignment.adapters.board_snapshots import BOARD_SNAPSHOTS, BoardSnapshots, MongoBoardSnapshots
from services.assignment.adapters.notice_prefixes import (
    NOTICE_PREFIXES,
    MemoryNoticePrefixes,
    MongoNoticePrefixes,
    NoticePrefixes,
)
from services.assignment.application.boards import Boards, Cases
from services.assignment.application.calendars import Calendars
from services.assignment.application.scheduled import run_leave_checks
from services.assignment.entrypoints import (
    accounts_http,
    auth_http,
    calendar_http,
    case_steps_http,
    http,
    notices_http,
    roster_http,
    settings_http,
)
from services.assignment.entrypoints.kafka import subscribe_policies
from services.assignment.projections.case_summaries import CASE_SUMMARIES, CaseSummaries, MongoCaseSummaries
from services.assignment.settings import AssignmentSettings
from shared.auth.accounts import ACCOUNTS, Accounts
from shared.auth.attempts import ensure_sign_in_indexes
from shared.auth.keys import BUREAUS, ApiKeyStore, Authenticator, BureauDirectory
from shared.auth.memory import MemoryDatabase
from shared.auth.passwords import Passwords
from shared.auth.sessions import Sessions
from shared.auth.tokens import TOKENS, TokenStore
from shared.eventstore.mongo import MongoRecorder, ensure_indexes
from shared.eventstore.recorder import EventRecorder
from shared.idempotency import IdempotencyStore, MongoIdempotencyStore
from shared.messaging.kafka import make_broker, require_ping
from shared.service import Mongo, broker_lifespan, health_router, install_error_handlers, instrument

TITLE = "Assignment (专责店小二) API"
IDEMPOTENCY = "assignment_idempotency"  # recorded answers to Idempotency-Keys, owned by this service


@dataclass
class Ports:
    """What the service needs from outside; the real adapters in build_app, fakes in unit tests."""

    recorder: EventRecorder
    api_keys: Authenticator
    bureaus: Any  # BureauDirectory: get(bureau_id) -> Bureau | None, all() (the notice's issuer and prefix)
    idempotency: IdempotencyStore
    summaries: CaseSummaries
    snapshots: BoardSnapshots | None = None
    notice_prefixes: NoticePrefixes = field(default_factory=MemoryNoticePrefixes)
    capacity: int = 1
    # Accounts and people's tokens (the service's Mongo database; in memory for unit tests).
    auth_db: Any = field(default_factory=MemoryDatabase)
    passwords: Passwords = field(default_factory=Passwords)


IDEMPOTENCY_TTL_S = 30 * 24 * 3600


def mount(app: FastAPI, ports: Ports) -> tuple[Boards, Cases, Calendars]:
    """Put the aggregates' repositories and the ports on the app and include every router."""
    boards = Boards(ports.recorder, capacity=lambda _bureau: ports.capacity, snapshots=ports.snapshots)
    cases, calendars = Cases(ports.recorder), Calendars(ports.recorder)
    app.state.boards, app.state.cases, app.state.calendars = boards, cases, calendars
    app.state.recorder, app.state.api_keys, app.state.bureaus = ports.recorder, ports.api_keys, ports.bureaus
    app.state.idempotency, app.state.summaries = ports.idempotency, ports.summaries
    app.state.notice_prefixes = ports.notice_prefixes
    tokens = TokenStore(ports.auth_db)
    accounts = Accounts(ports.auth_db, ports.passwords, tokens)
    app.state.tokens, app.state.accounts, app.state.passwords = tokens, accounts, ports.passwords
    app.state.sessions = Sessions(accounts, tokens, ports.passwords)
    routers = (http, roster_http, case_steps_http, notices_http, calendar_http, settings_http)
    for module in (*routers, auth_http, accounts_http):
        app.include_router(module.router)
    install_error_handlers(app)
    instrument(app)
    return boards, cases, calendars


def build_app(settings: AssignmentSettings) -> FastAPI:
    """Build the assignment FastAPI app; connections open in its lifespan."""
    mongo = Mongo.from_settings(settings)
    broker = make_broker(settings, client_id="assignment")
    recorder = MongoRecorder(mongo.client, mongo.db)

    async def prepare() -> None:
        await ensure_indexes(mongo.db)
        # Statistics read one bureau's summaries; a published calendar year reads those with open tasks.
        await mongo.db[CASE_SUMMARIES].create_index("bureau")
        await mongo.db[CASE_SUMMARIES].create_index("open_tasks")
        # Idempotency-Key answers are kept for a retry window; past it a reused key is a new request (the
        # event store still records a command once, by its derived command id).
        await mongo.db[IDEMPOTENCY].create_index("recorded_at", expireAfterSeconds=IDEMPOTENCY_TTL_S)
        # Sign-in finds an account by bureau and username; revocation finds tokens by session or account;
        # expired tokens are deleted by the server (a personal token without expiry has none and stays).
        await mongo.db[ACCOUNTS].create_index([("bureau", 1), ("username", 1)], unique=True)
        await ensure_sign_in_indexes(mongo.db)  # case-insensitive usernames, counted failures (TTL)
        await mongo.db[TOKENS].create_index("session_id")
        await mongo.db[TOKENS].create_index("account_id")
        await mongo.db[TOKENS].create_index("expires_at", expireAfterSeconds=0)

    async def bureau_ids() -> list[str]:
        # Every registered bureau (auth's small directory); a bureau with no board has no leaves to check.
        return [str(doc["_id"]) async for doc in mongo.db[BUREAUS].find({}, {"_id": 1})]

    serving = broker_lifespan(settings, mongo, broker, prepare)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with serving(app):
            checks = (
                asyncio.create_task(run_leave_checks(boards, bureau_ids, settings.leave_check_seconds))
                if settings.leave_check_seconds > 0
                else None
            )
            yield
            if checks:
                checks.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checks

    app = FastAPI(title=TITLE, lifespan=lifespan)
    ports = Ports(
        recorder=recorder,
        api_keys=ApiKeyStore(mongo.db),
        bureaus=BureauDirectory(mongo.db),
        idempotency=MongoIdempotencyStore(mongo.db[IDEMPOTENCY]),
        summaries=MongoCaseSummaries(mongo.db[CASE_SUMMARIES], recorder),
        snapshots=MongoBoardSnapshots(mongo.db[BOARD_SNAPSHOTS]),
        notice_prefixes=MongoNoticePrefixes(mongo.db[NOTICE_PREFIXES]),
        capacity=settings.enterprises_per_concierge,
        auth_db=mongo.db,
    )
    boards, cases, calendars = mount(app, ports)
    subscribers = subscribe_policies(
        broker,
        boards=boards,
        cases=cases,
        calendars=calendars,
        summaries=ports.summaries,
        accounts=app.state.accounts,
        group=settings.consumer_group,
        fetch_wait=settings.kafka_fetch_wait,
    )
    app.include_router(
        health_router(
            "assignment",
            {"mongodb": mongo.ping, "kafka": lambda: require_ping(broker)},
            lambda: {"subscribers": [s.health() for s in subscribers]},
        )
    )
    return app
