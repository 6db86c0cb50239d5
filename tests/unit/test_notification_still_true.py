"""An assignment message held back by quiet hours (to the concierge or to the enterprise) is withdrawn, not sent,
once the assignment ended."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any, cast

import pytest

from services.notification.application.fanout import Audience, deliveries_of
from services.notification.application.policies import POLICIES, CaseFacts, Known
from services.notification.application.still_true import an_assignment_held_back_is_sent_only_while_it_holds
from services.notification.domain.deliveries import Delivery, Status
from services.notification.domain.quiet_hours import Preferences
from services.notification.domain.templates import TemplateBook
from shared.contracts.assignment import ConciergeAssigned, ConciergeReassigned
from tests.unit.test_notification_dispatch import NOW, FakeChannel, FakeStore, _delivery, _dispatcher
from tests.unit.test_notification_templates import ENTERPRISE, _env


class Facts:
    """The case facts the notification service folded: who the case's concierge is now."""

    def __init__(
        self, concierge_id: str | None, concierge_name: str | None = None, withdrawn_from: str | None = None
    ) -> None:
        self.concierge_id, self.concierge_name, self.withdrawn_from = (
            concierge_id,
            concierge_name,
            withdrawn_from,
        )

    async def case(self, case_id: str) -> CaseFacts:
        return CaseFacts(
            case_id=case_id,
            bureau="finance",
            enterprise_name="格力",
            credit_code="91350100M000100Y43",
            title="补贴",
            concierge_id=self.concierge_id,
            concierge_name=self.concierge_name,
            last_rating=None,
            last_comment="",
            withdrawn_from=self.withdrawn_from,
        )


def assignment(held: timedelta) -> Delivery:
    """The 'you are the concierge' message to staff s1 on case-1, held back for `held` (quiet hours)."""
    return dataclasses.replace(_delivery("inbox"), template="concierge_assigned", not_before=NOW + held)


async def sent_after_quiet_hours(delivery: Delivery, facts: Facts) -> tuple[Delivery, FakeChannel]:
    store, inbox = FakeStore(), FakeChannel(delivery.channel)
    await store.record(delivery)
    dispatcher = _dispatcher(store, inbox, now=[delivery.not_before])
    dispatcher.still_true = an_assignment_held_back_is_sent_only_while_it_holds(cast(Any, facts))
    await dispatcher.run_once()
    return store.items[delivery.id], inbox


@pytest.mark.parametrize(
    ("now_serving", "why"),
    [(None, "it waits for a concierge"), ("s2", "now 李科长")],
    ids=["withdrawn", "moved"],
)
async def test_an_assignment_that_ended_overnight_is_withdrawn_with_the_reason(now_serving, why) -> None:
    facts = Facts(now_serving, "李科长" if now_serving else None, None if now_serving else "s1")
    kept, inbox = await sent_after_quiet_hours(assignment(timedelta(hours=8)), facts)

    assert kept.status is Status.WITHDRAWN and inbox.sent == []
    assert (
        kept.withdrawn_reason
        and kept.withdrawn_reason.startswith("指派在发送前已变更")
        and why in kept.withdrawn_reason
    )


async def test_an_assignment_that_still_holds_is_sent_in_the_morning() -> None:
    kept, inbox = await sent_after_quiet_hours(assignment(timedelta(hours=8)), Facts("s1"))
    assert kept.status is Status.SENT and len(inbox.sent) == 1


async def test_a_message_sent_at_once_is_not_doubted_and_other_messages_are_not_checked() -> None:
    # At once, the case's own record of its concierge may not have reached this service yet.
    at_once, inbox = await sent_after_quiet_hours(assignment(timedelta(0)), Facts(None, withdrawn_from="s1"))
    assert at_once.status is Status.SENT and len(inbox.sent) == 1
    # Held, but the case's record of this assignment has not reached the service (its consumer lags): sent.
    not_yet_known, inbox = await sent_after_quiet_hours(assignment(timedelta(hours=8)), Facts(None))
    assert not_yet_known.status is Status.SENT and len(inbox.sent) == 1
    other = dataclasses.replace(_delivery("inbox"), not_before=NOW + timedelta(hours=8))  # case_resolved
    kept, _ = await sent_after_quiet_hours(other, Facts("s2"))
    assert kept.status is Status.SENT


def introduction(event: ConciergeAssigned | ConciergeReassigned, held: timedelta) -> Delivery:
    """The enterprise's 'this is your concierge' message the policies make of an event, held back for `held`."""
    intents = POLICIES[type(event)](event, _env(type(event).__name__), Known(case_title="补贴"))
    [intent] = [i for i in intents if i.template == "concierge_introduced"]
    audience = Audience(Preferences(channels=("sms",), quiet_start=None, quiet_end=None))
    [delivery] = deliveries_of(intent, audience, TemplateBook(), {"sms"}, NOW)
    return dataclasses.replace(delivery, not_before=NOW + held)


ASSIGNED = ConciergeAssigned(
    enterprise=ENTERPRISE,
    case_ids=["case-1"],
    reason="rule",
    staff_id="s1",
    staff_name="李国库",
    post="deputy_director",
    category="fund_disbursement",
    candidates=[],
    rule_version="1",
)
REASSIGNED = ConciergeReassigned(
    enterprise=ENTERPRISE,
    case_ids=["case-1"],
    reason="休假",
    from_staff_id="s0",
    to_staff_id="s1",
    to_staff_name="李国库",
)


@pytest.mark.parametrize("event", [ASSIGNED, REASSIGNED], ids=["assigned", "reassigned"])
async def test_an_enterprise_is_not_introduced_overnight_to_a_concierge_who_no_longer_serves_it(
    event,
) -> None:
    moved, inbox = await sent_after_quiet_hours(
        introduction(event, timedelta(hours=8)), Facts("s2", "王科长")
    )
    assert moved.status is Status.WITHDRAWN and inbox.sent == []
    assert moved.withdrawn_reason and "now 王科长" in moved.withdrawn_reason
    withdrawn, inbox = await sent_after_quiet_hours(
        introduction(event, timedelta(hours=8)), Facts(None, withdrawn_from="s1")
    )
    assert withdrawn.status is Status.WITHDRAWN and inbox.sent == []


async def test_an_enterprise_is_introduced_in_the_morning_to_the_concierge_who_still_serves_it() -> None:
    kept, inbox = await sent_after_quiet_hours(
        introduction(ASSIGNED, timedelta(hours=8)), Facts("s1", "李国库")
    )
    assert kept.status is Status.SENT and len(inbox.sent) == 1 and "李国库" in inbox.sent[0].body


async def test_an_introduction_held_before_it_named_its_concierge_is_sent() -> None:
    # Recorded by an older version, the held message does not say whose assignment it announces.
    older = dataclasses.replace(introduction(ASSIGNED, timedelta(hours=8)), concierge_id=None)
    kept, inbox = await sent_after_quiet_hours(older, Facts("s2", "王科长"))
    assert kept.status is Status.SENT and len(inbox.sent) == 1


def reminder(template: str, held: timedelta) -> Delivery:
    """A task's due-date reminder to concierge s1 on case-1 (scheduled.REMINDERS), held back for `held`."""
    return dataclasses.replace(_delivery("inbox"), template=template, not_before=NOW + held)


@pytest.mark.parametrize("template", ["task_due_soon", "task_due_today"])
async def test_a_held_reminder_is_not_sent_to_a_concierge_reassigned_overnight(template: str) -> None:
    moved, inbox = await sent_after_quiet_hours(reminder(template, timedelta(hours=8)), Facts("s2", "周建国"))
    assert moved.status is Status.WITHDRAWN and inbox.sent == []
    assert moved.withdrawn_reason and "now 周建国" in moved.withdrawn_reason
    kept, inbox = await sent_after_quiet_hours(reminder(template, timedelta(hours=8)), Facts("s1", "李国库"))
    assert kept.status is Status.SENT and len(inbox.sent) == 1
