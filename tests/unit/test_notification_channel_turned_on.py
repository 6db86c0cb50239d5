"""An event is told only on the channels the deployment had when it happened: turning SMS on later, then a replay
(a broker that lost its topics, a new consumer group), tells nobody of old payments by text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notification.application.fanout import Audience, deliveries_of
from services.notification.application.intents import Intent
from services.notification.domain.quiet_hours import Preferences
from services.notification.domain.templates import TemplateBook

TURNED_ON = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
CONTACT = Audience(
    Preferences(channels=("sms", "email"), quiet_start=None, quiet_end=None),
    reachable_since={"sms": TURNED_ON - timedelta(days=30)},  # the mobile number was given a month ago
)
INTENT = Intent(
    "e1",
    "finance",
    "case-1",
    "enterprise:finance:91350100M000100Y43",
    "case_resolved",
    {"case_id": "case-1", "enterprise_name": "格力", "outcome": "ok"},
)


def channels_told(occurred_at: datetime, turned_on: dict[str, datetime]) -> list[str]:
    audience = CONTACT.counting_from(turned_on)
    told = deliveries_of(INTENT, audience, TemplateBook(), {"sms", "email"}, TURNED_ON, occurred_at)
    return sorted(d.channel for d in told)


def test_an_event_from_before_sms_was_turned_on_is_not_told_by_text() -> None:
    assert channels_told(TURNED_ON - timedelta(hours=1), {"sms": TURNED_ON}) == ["email"]


def test_an_event_after_sms_was_turned_on_is_told_by_text() -> None:
    assert channels_told(TURNED_ON + timedelta(minutes=1), {"sms": TURNED_ON}) == ["email", "sms"]


def test_a_contact_given_after_the_channel_was_on_counts_from_the_contact() -> None:
    given = TURNED_ON + timedelta(days=1)
    audience = Audience(CONTACT.preferences, reachable_since={"sms": given}).counting_from({"sms": TURNED_ON})
    assert audience.reachable_since["sms"] == given
