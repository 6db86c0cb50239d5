"""What the notification use cases work with: the ports, the templates, the clock, the calendar and the rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.notification.adapters.contacts import ContactBook
from services.notification.adapters.deadlines import Deadlines
from services.notification.adapters.deliveries import MongoDeliveryStore
from services.notification.application.fanout import Audience, record_intents
from services.notification.application.intents import Intent
from services.notification.application.money import Disbursements
from services.notification.application.rules import EscalationRuleBook
from services.notification.domain.feedback_tokens import FeedbackTokens
from services.notification.domain.templates import TemplateBook
from services.notification.projections.knowledge import Knowledge
from shared.eventstore.recorder import EventRecorder
from shared.workdays.published import PublishedCalendar


@dataclass
class Notifying:
    """Everything a notification use case needs, wired once in bootstrap."""

    recorder: EventRecorder
    knowledge: Knowledge
    deadlines: Deadlines
    deliveries: MongoDeliveryStore
    contacts: ContactBook
    templates: TemplateBook
    calendar: PublishedCalendar
    rules: EscalationRuleBook
    tokens: FeedbackTokens
    enabled_channels: set[str]
    public_url: str
    bureau_name: Callable[[str], Awaitable[str]]
    disbursements: Disbursements
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    # Since when the deployment has had each outward channel (adapters/channel_ledger.py): an event from
    # before is not told on it, however late it is handled.
    channels_on_since: dict[str, datetime] = field(default_factory=dict)

    def for_one_batch(self) -> Notifying:
        """Return the same ports, remembering what a batch of events reads again and again (the leadership)."""
        return replace(self, knowledge=self.knowledge.for_one_batch())

    def for_one_event(self) -> Notifying:
        """Return the same ports, reading each contact the event's notices need once."""
        return replace(self, contacts=self.contacts.for_one_event())

    async def _audiences(self, recipients: list[str]) -> dict[str, Audience]:
        found = await self.contacts.audiences(recipients)
        return {r: audience.counting_from(self.channels_on_since) for r, audience in found.items()}

    async def tell(self, intents: list[Intent], as_of: datetime | None = None) -> int:
        """Record the deliveries the intents call for, on the channels that reached each recipient at `as_of`
        (the moment of the event that caused them; None: now); return how many were new."""
        return await record_intents(
            intents,
            self._audiences,
            self.deliveries.record_all,
            self.templates,
            self.enabled_channels,
            self.clock(),
            as_of,
        )
