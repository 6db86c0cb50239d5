"""Sending: exactly one message per delivery, retries with backoff, failures kept, and no channel holds up another."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from services.notification.adapters.channels.base import ChannelError, Message
from services.notification.application.dispatch import Dispatcher
from services.notification.application.fanout import Audience, channels_for, deliveries_of
from services.notification.application.intents import Intent
from services.notification.domain.deliveries import Delivery, RetryPolicy, Status
from services.notification.domain.quiet_hours import Preferences
from services.notification.domain.templates import TemplateBook

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


class FakeStore:
    """Deliveries in a dict, with the same claim rules as the Mongo store."""

    def __init__(self) -> None:
        self.items: dict[str, Delivery] = {}
        self.claimed: dict[str, datetime] = {}

    async def record(self, delivery: Delivery) -> bool:
        if delivery.id in self.items:
            return False
        self.items[delivery.id] = delivery
        return True

    async def record_all(self, deliveries: list[Delivery]) -> int:
        return sum([await self.record(d) for d in deliveries])

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        due = [
            d
            for d in self.items.values()
            if d.status is Status.PENDING
            and d.not_before <= now
            and self.claimed.get(d.id, NOW - lease) <= now
        ][:limit]
        for d in due:
            self.claimed[d.id] = now + lease
        return due

    async def save_outcome(self, delivery: Delivery) -> None:
        self.items[delivery.id] = delivery
        self.claimed.pop(delivery.id, None)


class FakeChannel:
    """Records what it sends; fails the first `failures` sends; can hang to play a channel that is down."""

    def __init__(self, name: str, failures: int = 0, transient: bool = True, hang: bool = False) -> None:
        self.name, self.failures, self.transient, self.hang = name, failures, transient, hang
        self.sent: list[Message] = []

    async def send(self, message: Message) -> str:
        if self.hang:
            await asyncio.sleep(0.3)
            raise ChannelError("timed out")
        if self.failures > 0:
            self.failures -= 1
            raise ChannelError("503 from the gateway", transient=self.transient)
        self.sent.append(message)
        return f"receipt-{len(self.sent)}"


class Addresses:
    def __init__(self, erased: frozenset[str] = frozenset()) -> None:
        self.erased_subjects = erased

    async def address(self, recipient: str, channel: str) -> str | None:
        if recipient in self.erased_subjects and channel != "inbox":
            return None
        return {"inbox": recipient, "email": "zs@gaoxin.gov.cn", "sms": "13812341234"}.get(channel)

    async def erased(self, recipient: str) -> bool:
        return recipient in self.erased_subjects


def _delivery(channel: str, cause: str = "e1") -> Delivery:
    intent = Intent(
        cause,
        "finance",
        "case-1",
        "staff:finance:s1",
        "case_resolved",
        {"case_id": "case-1", "enterprise_name": "格力", "outcome": "ok"},
    )
    audience = Audience(Preferences(channels=("inbox", "email", "sms"), quiet_start=None, quiet_end=None))
    return next(
        d
        for d in deliveries_of(intent, audience, TemplateBook(), {"inbox", "email", "sms"}, NOW)
        if d.channel == channel
    )


def _dispatcher(
    store: FakeStore, *channels: FakeChannel, now: list[datetime], book: Addresses | None = None
) -> Dispatcher:
    return Dispatcher(
        store,
        {c.name: c for c in channels},
        book or Addresses(),
        RetryPolicy(3, timedelta(seconds=5)),
        lambda: now[0],
        quick_attempts=1,
    )


async def test_a_delivery_recorded_twice_is_sent_once():
    store, email, now = FakeStore(), FakeChannel("email"), [NOW]
    assert await store.record(_delivery("email"))
    assert not await store.record(_delivery("email"))  # the same event redelivered
    dispatcher = _dispatcher(store, email, now=now)
    await dispatcher.run_once()
    await dispatcher.run_once()
    assert len(email.sent) == 1
    sent = next(iter(store.items.values()))
    assert sent.status is Status.SENT and sent.address_masked == "z***@gaoxin.gov.cn"
    assert email.sent[0].idempotency_key == sent.id


async def test_a_crash_between_claim_and_send_sends_once_after_the_claim_lapses():
    store, email, now = FakeStore(), FakeChannel("email"), [NOW]
    await store.record(_delivery("email"))
    await store.claim_due(NOW, 10, timedelta(minutes=2))  # a sender claimed it, then died
    dispatcher = _dispatcher(store, email, now=now)
    assert await dispatcher.run_once() == 0 and not email.sent  # still claimed
    now[0] = NOW + timedelta(minutes=3)
    await dispatcher.run_once()
    assert len(email.sent) == 1


async def test_a_failing_channel_is_retried_with_growing_delays_then_marked_failed_with_the_reason():
    store, sms, now = FakeStore(), FakeChannel("sms", failures=10), [NOW]
    await store.record(_delivery("sms"))
    dispatcher = _dispatcher(store, sms, now=now)
    delays = []
    for _ in range(3):
        await dispatcher.run_once()
        current = next(iter(store.items.values()))
        delays.append(current.not_before - now[0])
        now[0] = current.not_before
    failed = next(iter(store.items.values()))
    assert failed.status is Status.FAILED and failed.attempts == 3 and "503" in (failed.last_error or "")
    assert delays[0] == timedelta(seconds=5) and delays[1] == timedelta(seconds=10)
    assert dispatcher.stats.failed == 1 and dispatcher.stats.retried == 2


async def test_a_permanent_refusal_fails_at_once():
    store, sms, now = FakeStore(), FakeChannel("sms", failures=1, transient=False), [NOW]
    await store.record(_delivery("sms"))
    await _dispatcher(store, sms, now=now).run_once()
    assert next(iter(store.items.values())).status is Status.FAILED


async def test_a_channel_that_is_down_delays_nobody_on_the_others():
    store, now = FakeStore(), [NOW]
    down, email, inbox = FakeChannel("sms", hang=True), FakeChannel("email"), FakeChannel("inbox")
    for channel in ("sms", "email", "inbox"):
        await store.record(_delivery(channel))
    await _dispatcher(store, down, email, inbox, now=now).run_once()
    statuses = {d.channel: d.status for d in store.items.values()}
    assert statuses == {"sms": Status.PENDING, "email": Status.SENT, "inbox": Status.SENT}


async def test_no_address_on_a_channel_fails_that_delivery_with_the_reason():
    store, now = FakeStore(), [NOW]
    delivery = dataclasses.replace(_delivery("email"), channel="wecom", id="w1")
    await store.record(delivery)
    await _dispatcher(store, FakeChannel("wecom"), now=now).run_once()
    assert "no address" in (store.items["w1"].last_error or "")
    assert store.items["w1"].status is Status.FAILED


async def test_a_held_delivery_to_an_erased_contact_is_withdrawn_not_failed():
    store, email, now = FakeStore(), FakeChannel("email"), [NOW]
    held = dataclasses.replace(_delivery("email"), address_masked="z***@gaoxin.gov.cn")  # tried once before
    await store.record(held)
    dispatcher = _dispatcher(store, email, now=now, book=Addresses(frozenset({held.recipient})))
    await dispatcher.run_once()
    done = store.items[held.id]
    assert (
        done.status is Status.WITHDRAWN and done.withdrawn_reason == "联系人已擦除 / the contact was erased"
    )
    assert done.address_masked is None and done.last_error is None and not email.sent
    assert dispatcher.stats.failed == 0 and dispatcher.stats.retried == 0


async def test_a_retry_and_a_failure_keep_the_masked_address_they_were_meant_for():
    store, sms, now = FakeStore(), FakeChannel("sms", failures=10), [NOW]
    await store.record(_delivery("sms"))
    dispatcher = _dispatcher(store, sms, now=now)
    await dispatcher.run_once()
    retry = next(iter(store.items.values()))
    assert retry.status is Status.PENDING and retry.address_masked == "138****1234"
    store.items[retry.id] = dataclasses.replace(retry, attempts=3)  # the last attempt next
    now[0] = retry.not_before
    await dispatcher.run_once()
    failed = next(iter(store.items.values()))
    assert failed.status is Status.FAILED and failed.address_masked == "138****1234"


def test_enterprises_are_told_only_where_they_gave_an_address_and_staff_always_in_the_inbox():
    enabled = {"inbox", "email", "sms", "wecom"}
    assert channels_for("enterprise:finance:9144", Preferences(channels=("sms",)), enabled) == ["sms"]
    assert channels_for("staff:finance:s1", Preferences(channels=("email", "wecom")), enabled) == [
        "inbox",
        "email",
        "wecom",
    ]
    assert channels_for("staff:finance:s1", Preferences(channels=("dingtalk",)), enabled) == ["inbox"]
    assert channels_for("section:finance:规划科", Preferences(channels=("wecom", "sms")), enabled) == [
        "wecom"
    ]
