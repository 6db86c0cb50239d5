"""From an intent to deliveries: one per channel the recipient takes, rendered, not before quiet hours end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.notification.application.intents import ENTERPRISE, SECTION, Intent, kind_of
from services.notification.domain.deliveries import Delivery, delivery_id
from services.notification.domain.quiet_hours import Preferences, Urgency, deliver_at
from services.notification.domain.templates import TemplateBook

# Who can be reached where: an enterprise's contact has no inbox here, a section no quiet hours of its own.
ENTERPRISE_CHANNELS = ("sms", "email")
SECTION_CHANNELS = ("email", "wecom", "dingtalk")


@dataclass(frozen=True)
class Audience:
    """A recipient's preferences and language, as the contact book holds them."""

    preferences: Preferences
    language: str = "zh-CN"
    # Since when each channel reaches the recipient (a channel missing here: always). An older event is not
    # told on a channel added after it, however late it is handled: a replay tells nobody of the past anew.
    reachable_since: dict[str, datetime] = field(default_factory=dict)

    def counting_from(self, turned_on: dict[str, datetime]) -> Audience:
        """Return the audience as reached on channels the deployment turned on at the given moments."""
        if not turned_on:
            return self
        since = dict(self.reachable_since)
        for channel, at in turned_on.items():
            since[channel] = max(since.get(channel, at), at)
        return replace(self, reachable_since=since)

    def reaches(self, channel: str, as_of: datetime | None) -> bool:
        """Tell whether the channel reached the recipient at the moment of the cause (None: now)."""
        since = self.reachable_since.get(channel)
        return as_of is None or since is None or since <= as_of


def channels_for(recipient: str, prefs: Preferences, enabled: set[str]) -> list[str]:
    """Return the channels a recipient is told on: what they take, what is configured, and the inbox for staff."""
    kind = kind_of(recipient)
    if kind == ENTERPRISE:
        allowed: tuple[str, ...] = ENTERPRISE_CHANNELS
    elif kind == SECTION:
        allowed = SECTION_CHANNELS
    else:
        allowed = ("inbox", *prefs.channels)
    wanted = [c for c in dict.fromkeys(allowed) if (c == "inbox" or c in prefs.channels) and c in enabled]
    return wanted


def deliveries_of(
    intent: Intent,
    audience: Audience,
    templates: TemplateBook,
    enabled: set[str],
    now: datetime,
    as_of: datetime | None = None,
) -> list[Delivery]:
    """Render an intent once and return one delivery per channel that reached the recipient at `as_of`, the
    moment of its cause (a missing template variable raises)."""
    rendered = templates.render(intent.template, audience.language, intent.variables)
    when = deliver_at(audience.preferences, now, Urgency(escalation=intent.escalation))
    return [
        Delivery(
            id=delivery_id(intent.cause, intent.recipient, channel),
            cause=intent.cause,
            bureau=intent.bureau,
            case_id=intent.case_id,
            recipient=intent.recipient,
            channel=channel,
            template=intent.template,
            language=rendered.language,
            subject=rendered.subject,
            body=rendered.body,
            not_before=when,
            created_at=now,
            escalation=intent.escalation,
            concierge_id=intent.concierge_id,
        )
        for channel in channels_for(intent.recipient, audience.preferences, enabled)
        if audience.reaches(channel, as_of)
    ]


async def record_intents(
    intents: list[Intent],
    audiences_of: Callable[[list[str]], Awaitable[dict[str, Audience]]],
    record_all: Callable[[list[Delivery]], Awaitable[int]],
    templates: TemplateBook,
    enabled: set[str],
    now: datetime,
    as_of: datetime | None = None,
) -> int:
    """Record every delivery the intents call for; return how many were new (a redelivered event adds none).

    The recipients' preferences are read in one query and the deliveries written in one, however many.
    """
    if not intents:
        return 0
    audiences = await audiences_of([intent.recipient for intent in intents])
    deliveries = [
        delivery
        for intent in intents
        for delivery in deliveries_of(intent, audiences[intent.recipient], templates, enabled, now, as_of)
    ]
    return await record_all(deliveries) if deliveries else 0
