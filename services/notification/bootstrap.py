"""The notification service's only wiring: channels, stores, policies, the scheduled round and the API."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.adapters.bureau_names import BureauNames
from services.notification.adapters.channel_ledger import ChannelLedger
from services.notification.adapters.channels.base import Channel
from services.notification.adapters.channels.email import EmailChannel, SmtpSettings
from services.notification.adapters.channels.webhooks import DingTalkChannel, SmsChannel, WeComChannel
from services.notification.adapters.contacts import ContactBook
from services.notification.adapters.deadlines import Deadlines
from services.notification.adapters.deliveries import InboxChannel, MongoDeliveryStore
from services.notification.application.context import Notifying
from services.notification.application.dispatch import Dispatcher
from services.notification.application.loop import LoopHealth, run_forever
from services.notification.application.money import Disbursements
from services.notification.application.money_deadlines import mend_stuck_clocks
from services.notification.application.rules import EscalationRuleBook
from services.notification.application.still_true import an_assignment_held_back_is_sent_only_while_it_holds
from services.notification.domain.deliveries import RetryPolicy
from services.notification.domain.feedback_tokens import FeedbackTokens
from services.notification.domain.templates import TemplateBook
from services.notification.entrypoints import feedback_http, http
from services.notification.entrypoints.kafka import subscribe_notifications
from services.notification.projections.knowledge import Knowledge
from services.notification.settings import NotificationSettings
from shared.auth.keys import ApiKeyStore, BureauDirectory
from shared.crypto.vault import MongoKeyStore, Vault
from shared.eventstore.mongo import MongoRecorder, ensure_indexes
from shared.eventstore.recorder import EventRecorder
from shared.messaging.kafka import make_broker, require_ping
from shared.service import (
    HealthCheck,
    Mongo,
    broker_lifespan,
    health_router,
    install_error_handlers,
    instrument,
)
from shared.workdays.calendar import SHANGHAI
from shared.workdays.published import PublishedCalendar

TITLE = "Notification API"
SECRETS = "notification_secrets"


def _now() -> datetime:
    return datetime.now(SHANGHAI)


def channels_of(
    settings: NotificationSettings, client: httpx.AsyncClient, inbox: InboxChannel
) -> dict[str, Channel]:
    """Return the channel plugins this deployment configured (the inbox always)."""
    channels: dict[str, Channel] = {"inbox": inbox}
    if settings.smtp_host:
        smtp = SmtpSettings(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_sender,
            settings.smtp_username or None,
            settings.smtp_password or None,
            settings.smtp_starttls,
            settings.channel_timeout_seconds,
        )
        channels["email"] = EmailChannel(smtp)
    if settings.wecom_webhook_url:
        channels["wecom"] = WeComChannel(client, settings.wecom_webhook_url)
    if settings.dingtalk_webhook_url:
        channels["dingtalk"] = DingTalkChannel(
            client, settings.dingtalk_webhook_url, settings.dingtalk_secret or None
        )
    if settings.sms_gateway_url:
        channels["sms"] = SmsChannel(client, settings.sms_gateway_url, settings.sms_gateway_token or None)
    return channels


async def feedback_secret(db: AsyncDatabase, configured: str) -> bytes:
    """Return the rating-link secret: configured, or one random secret kept in the database for every instance."""
    if configured:
        return configured.encode()
    await db[SECRETS].update_one(
        {"_id": "feedback"}, {"$setOnInsert": {"secret": secrets.token_hex(32)}}, upsert=True
    )
    doc = await db[SECRETS].find_one({"_id": "feedback"})
    assert doc is not None
    return str(doc["secret"]).encode()


def notifying_of(
    db: AsyncDatabase,
    recorder: EventRecorder,
    settings: NotificationSettings,
    enabled: set[str],
    tokens: FeedbackTokens,
    clock: Callable[[], datetime] = _now,
    channels_on_since: dict[str, datetime] | None = None,
) -> Notifying:
    """Return the use cases' ports over one database."""
    return Notifying(
        recorder=recorder,
        knowledge=Knowledge(db),
        deadlines=Deadlines(db),
        deliveries=MongoDeliveryStore(db),
        contacts=ContactBook(db, Vault(MongoKeyStore(db))),
        templates=TemplateBook(),
        calendar=PublishedCalendar(recorder),
        rules=EscalationRuleBook(recorder),
        tokens=tokens,
        enabled_channels=enabled,
        public_url=settings.public_url.rstrip("/"),
        bureau_name=BureauNames(BureauDirectory(db), settings.bureau_name_keep_seconds),
        disbursements=Disbursements(db),
        clock=clock,
        channels_on_since=channels_on_since or {},
    )


def build_app(settings: NotificationSettings) -> FastAPI:
    """Build the notification FastAPI app; connections open and the round runs in its lifespan."""
    mongo = Mongo.from_settings(settings)
    broker = make_broker(settings, client_id="notification")
    recorder = MongoRecorder(mongo.client, mongo.db)
    client = httpx.AsyncClient(timeout=settings.channel_timeout_seconds)
    inbox = InboxChannel(mongo.db, _now)
    channels = channels_of(settings, client, inbox)
    health = LoopHealth()
    app = FastAPI(title=TITLE)
    policy = RetryPolicy(
        settings.max_attempts,
        timedelta(seconds=settings.first_retry_seconds),
        timedelta(seconds=settings.max_retry_seconds),
    )
    holder: dict[str, Notifying] = {}

    async def prepare() -> None:
        await ensure_indexes(mongo.db)
        tokens = FeedbackTokens(
            await feedback_secret(mongo.db, settings.feedback_secret),
            timedelta(days=settings.feedback_link_days),
        )
        on_since = await ChannelLedger(mongo.db).opened(set(channels), _now())
        n = notifying_of(mongo.db, recorder, settings, set(channels), tokens, channels_on_since=on_since)
        for store in (n.knowledge, n.deadlines, n.deliveries, inbox):
            await store.ensure_indexes()
        await mend_stuck_clocks(n)  # stuck ladders planned before own times were kept count from them
        holder["n"] = app.state.notifying = n
        app.state.dispatcher = Dispatcher(
            n.deliveries,
            channels,
            n.contacts,
            policy,
            _now,
            still_true=an_assignment_held_back_is_sent_only_while_it_holds(n.knowledge),
        )

    serving = broker_lifespan(settings, mongo, broker, prepare)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with serving(app):
            task = asyncio.create_task(
                run_forever(holder["n"], app.state.dispatcher, settings.tick_seconds, health)
            )
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.aclose()

    app.router.lifespan_context = lifespan
    app.state.api_keys, app.state.inbox = ApiKeyStore(mongo.db), inbox
    subscribers = subscribe_notifications(
        broker,
        notifying=lambda: holder["n"],
        group=settings.consumer_group,
        fetch_wait=settings.kafka_fetch_wait,
    )
    app.include_router(http.router)
    app.include_router(feedback_http.router)
    install_error_handlers(app)
    instrument(app)

    def details() -> dict[str, object]:
        dispatcher = getattr(app.state, "dispatcher", None)
        stats = vars(dispatcher.stats) if dispatcher else {}
        return {
            "channels": sorted(channels),
            "round": {
                "rounds": health.rounds,
                "errors": health.errors,
                "last_error": health.last_error,
                "last_ok": health.last_ok.isoformat() if health.last_ok else None,
            },
            "deliveries": stats,
            "subscribers": [s.health() for s in subscribers],
        }

    async def round_clean() -> None:
        if health.last_error is not None:
            raise RuntimeError(health.last_error)

    checks: dict[str, HealthCheck] = {
        "mongodb": mongo.ping,
        "kafka": lambda: require_ping(broker),
        "round": round_clean,
    }
    app.include_router(health_router("notification", checks, details))
    return app
