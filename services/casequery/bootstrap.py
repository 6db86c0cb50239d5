"""The case query service's only wiring: the case-view, case-story and case-money consumers, and the read API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.application.stories import MongoStories, Stories
from services.casequery.entrypoints import feed_http, http
from services.casequery.entrypoints.feed_seats import FeedSeats
from services.casequery.entrypoints.kafka import (
    subscribe_case_money,
    subscribe_case_stories,
    subscribe_case_view,
)
from services.casequery.projections.case_view import CASE_VIEW, CaseViews, ensure_view_indexes
from services.casequery.projections.generations import Generations, ReadModel, read_model
from services.casequery.projections.money import CASE_MONEY
from services.casequery.projections.money_store import (
    CaseMoney,
    InMemoryCaseMoney,
    MongoCaseMoney,
    ensure_money_indexes,
)
from services.casequery.projections.story_store import (
    CASE_STORY,
    CASE_STORY_BOARDS,
    CASE_STORY_QUEUE,
    CaseStories,
    ensure_story_indexes,
)
from services.casequery.rebuild_watch import interrupted_rebuilds
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import ApiKeyStore, Authenticator
from shared.crypto.vault import MemoryKeyStore, MongoKeyStore, Vault
from shared.eventstore.feed import BureauFeed, RecorderFeed
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.recorder import EventRecorder
from shared.messaging.kafka import make_broker, require_ping
from shared.service import Mongo, broker_lifespan, health_router, install_error_handlers, instrument
from shared.workdays.published import PublishedCalendar

TITLE = "Case query API"
VIEWS_REMEMBERED = 10_000  # case views the live consumer keeps after writing them (see CaseViews)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Overrides:
    """Fakes for tests: when given, no MongoDB or Kafka connection is made (and no consumer runs)."""

    views: AsyncCollection
    recorder: EventRecorder
    api_keys: Authenticator
    stories: Stories
    clock: Callable[[], datetime] = field(default=_utc_now)
    vault: Vault = field(default_factory=lambda: Vault(MemoryKeyStore()))
    money: CaseMoney = field(default_factory=InMemoryCaseMoney)


def _serve(
    app: FastAPI,
    views: AsyncCollection | ReadModel,
    recorder: EventRecorder,
    stories: Stories,
    money: CaseMoney,
    seats: FeedSeats,
) -> None:
    app.state.views, app.state.recorder, app.state.stories = read_model(views), recorder, stories
    app.state.feed_seats = seats
    app.state.money = money
    app.state.calendar = PublishedCalendar(recorder)
    app.include_router(http.router)
    app.include_router(feed_http.router)
    install_error_handlers(app)
    instrument(app)


def build_app(settings: CaseQuerySettings, overrides: Overrides | None = None) -> FastAPI:
    """Build the case query FastAPI app; connections open in its lifespan."""
    if overrides:
        app = FastAPI(title=TITLE)
        seats = FeedSeats(settings.feed_long_polls_per_bureau)
        _serve(app, overrides.views, overrides.recorder, overrides.stories, overrides.money, seats)
        app.state.api_keys, app.state.clock = overrides.api_keys, overrides.clock
        app.state.vault, app.state.feed = overrides.vault, RecorderFeed(overrides.recorder)
        return app

    mongo = Mongo.from_settings(settings)
    recorder = MongoRecorder(mongo.client, mongo.db)
    broker = make_broker(settings, client_id="casequery")
    # Every read model is resolved to its current generation, so a rebuild swaps it in without a copy.
    generations = Generations(mongo.db)

    views = subscribe_case_view(
        broker,
        views=CaseViews(generations.of(CASE_VIEW), recorder, remember=VIEWS_REMEMBERED),
        group=settings.consumer_group,
        fetch_wait=settings.kafka_fetch_wait,
    )
    stories = subscribe_case_stories(
        broker,
        stories=CaseStories(
            generations.of(CASE_STORY),
            generations.of(CASE_STORY_BOARDS),
            generations.of(CASE_STORY_QUEUE),
            recorder,
            remember_boards=1_000,
        ),
        group=settings.story_consumer_group,
        fetch_wait=settings.kafka_fetch_wait,
    )
    money = MongoCaseMoney(generations.of(CASE_MONEY))
    money_consumer = subscribe_case_money(
        broker,
        money=money,
        group=settings.money_consumer_group,
        fetch_wait=settings.kafka_fetch_wait,
    )

    feed = BureauFeed(mongo.db)

    async def prepare() -> None:
        await feed.ensure_index()
        await ensure_view_indexes(await generations.collection(CASE_VIEW))
        await ensure_story_indexes(await generations.collection(CASE_STORY))
        await ensure_money_indexes(await generations.collection(CASE_MONEY))

    interrupted = interrupted_rebuilds(mongo.db, recorder)

    def consumers() -> dict[str, Any]:
        return {
            **views.health(),
            "story_consumer": stories.health(),
            "money_consumer": money_consumer.health(),
            **interrupted.health(),
        }

    app = FastAPI(title=TITLE, lifespan=interrupted.around(broker_lifespan(settings, mongo, broker, prepare)))
    _serve(
        app,
        generations.of(CASE_VIEW),
        recorder,
        MongoStories(
            generations.of(CASE_STORY), generations.of(CASE_STORY_BOARDS), generations.of(CASE_STORY_QUEUE)
        ),
        money,
        FeedSeats(settings.feed_long_polls_per_bureau),
    )
    app.state.api_keys, app.state.clock = ApiKeyStore(mongo.db), _utc_now
    app.state.feed = feed
    app.state.vault = Vault(MongoKeyStore(mongo.db))  # opens enterprises' contacts to show them masked
    app.include_router(
        health_router("casequery", {"mongodb": mongo.ping, "kafka": lambda: require_ping(broker)}, consumers)
    )
    return app
