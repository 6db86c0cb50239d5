"""The notification service's use cases on real SecantusDB: once-only delivery, the escalation ladder to a
supervision order (督办), timers across restarts and calendar corrections, retries, the rating link, erasure."""

from __future__ import annotations

import email
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient, monitoring

from services.notification.adapters.channels.email import EmailChannel, SmtpSettings
from services.notification.adapters.channels.webhooks import SmsChannel
from services.notification.adapters.deliveries import DELIVERIES, INBOX, InboxChannel
from services.notification.application import feedback
from services.notification.application.dispatch import Dispatcher
from services.notification.application.react import react
from services.notification.application.scheduled import fire_due_steps
from services.notification.application.supervision import supervision_stream
from services.notification.domain.deliveries import RetryPolicy
from shared.contracts.calendar import CALENDAR_STREAM
from shared.contracts.envelope import Actor
from shared.crypto.vault import SUBJECT_KEYS
from shared.devstack.processes import free_port
from shared.eventstore.recorder import NewEvent, Recording
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import (
    CREDIT,
    Clock,
    assigned,
    case_opened,
    envelope,
    notifying,
    on_case,
    prepare,
    staff,
    stored_and_told,
)

pytestmark = pytest.mark.asyncio
START = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)  # a Thursday
DUE = datetime(2026, 11, 30, 23, 59, 59, tzinfo=SHANGHAI)  # the Monday after


class Mails:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mails, int]]:
    mails, port = Mails(), free_port()
    controller = Controller(mails, hostname="127.0.0.1", port=port)
    controller.start()
    yield mails, port
    controller.stop()


async def _roster_and_case(n, clock: Clock, case_id: str = "case-1", stored: bool = False) -> None:
    """The roster, and a case opened and given its concierge (also recorded in the store when `stored`)."""
    for version, (sid, name, post, section) in enumerate(
        [
            ("s1", "李副局长", "deputy_director", "局领导"),
            ("c1", "王科长", "section_chief", "规划科"),
            ("d1", "张局长", "director", "局领导"),
        ],
        start=1,
    ):
        await react(n, staff(version, sid, name, post, section, clock()))
    data = {"staff_id": "s1", "staff_name": "李副局长", "board_event_id": "b", "board_version": 4}
    case = [case_opened(case_id, clock()), on_case(case_id, 2, "ConciergeAssignedToCase", data, clock())]
    if stored:
        await stored_and_told(n, *case)
    else:
        for event in case:
            await react(n, event)


def _task_opened(case_id: str, at: datetime, due: datetime = DUE):
    data = {
        "task_id": "t1",
        "section": "规划科",
        "description": "请核对拨付材料",
        "working_days": 2,
        "opened_at": at.isoformat(),
        "due_at": due.isoformat(),
        "due_provisional": False,
    }
    return on_case(case_id, 3, "CoordinationTaskOpened", data, at)


async def _deliveries(db, **query) -> list[dict]:
    return [d async for d in db[DELIVERIES].find(query).sort("created_at", 1)]


async def test_an_assignment_reaches_the_concierge_once_even_when_redelivered_and_killed_between_intent_and_send(
    mongo_db, smtp
):
    mails, port = smtp
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    await n.contacts.put(
        "staff:finance:s1", "finance", {"email": "li@gaoxin.gov.cn", "mobile": "13800000001"}, {}
    )
    await n.contacts.put(f"enterprise:finance:{CREDIT}", "finance", {"email": "gm@gree.cn"}, {})
    await _roster_and_case(n, clock)
    decision = assigned(4, "case-1", "s1", "李副局长", clock())
    assert await react(n, decision) == 3  # concierge: inbox and email; enterprise: email
    assert await react(n, decision) == 0  # redelivered: nothing new
    await n.deliveries.claim_due(clock(), 10, timedelta(minutes=2))  # a sender claimed them and was killed
    channels = {
        "inbox": InboxChannel(mongo_db, clock),
        "email": EmailChannel(SmtpSettings("127.0.0.1", port)),
    }
    dispatcher = Dispatcher(n.deliveries, channels, n.contacts, RetryPolicy(), clock)
    assert await dispatcher.run_once() == 0
    clock.advance(minutes=3)  # the claim lapses: the restarted service sends
    assert await dispatcher.run_once() == 3
    assert await dispatcher.run_once() == 0
    assert len(mails.received) == 2
    introduced = next(
        email.message_from_bytes(m, policy=default_policy) for m in mails.received if b"gm@gree.cn" in m
    )
    assert "李副局长" in introduced.get_content() and "13800000001" in introduced.get_content()
    assert await mongo_db[INBOX].count_documents({"recipient": "staff:finance:s1"}) == 1
    sent = await _deliveries(mongo_db, channel="email")
    assert {d["status"] for d in sent} == {"sent"} and {d["address_masked"] for d in sent} == {
        "l***@gaoxin.gov.cn",
        "g***@gree.cn",
    }


async def test_an_overdue_task_climbs_the_ladder_to_a_supervision_order_which_settles_when_the_task_closes(
    mongo_db,
):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox"})
    await prepare(n)
    await _roster_and_case(n, clock)
    await react(n, _task_opened("case-1", clock()))
    section_told = await _deliveries(mongo_db, template="task_opened")
    assert [
        d["recipient"] for d in section_told
    ] == []  # the section has no inbox and no address: nothing planned
    assert await fire_due_steps(n) == 0

    expected = [
        (datetime(2026, 11, 27, 9, 1, tzinfo=SHANGHAI), "task_due_soon", {"staff:finance:s1"}),
        (datetime(2026, 11, 30, 9, 1, tzinfo=SHANGHAI), "task_due_today", {"staff:finance:s1"}),
        (
            datetime(2026, 12, 1, 9, 1, tzinfo=SHANGHAI),
            "task_overdue",
            {"staff:finance:s1", "staff:finance:c1"},
        ),
        (
            datetime(2026, 12, 2, 9, 1, tzinfo=SHANGHAI),
            "supervision_order",
            {"staff:finance:s1", "staff:finance:c1", "staff:finance:d1"},
        ),
    ]
    for at, template, recipients in expected:
        clock.now = at
        assert await fire_due_steps(n) == 1, template
        assert await fire_due_steps(n) == 0, template  # fired once
        told = await _deliveries(mongo_db, template=template)
        assert {d["recipient"] for d in told} == recipients, template
    order_events = await n.recorder.read_stream(supervision_stream("case-1", "t1"))
    order = order_events[0].data
    assert order_events[0].event_type == "SupervisionOrderIssued" and order["issued_by"] == "d1"
    assert order["overdue_workdays"] == 2 and order["issued_to"] == ["c1", "s1"]
    escalations = await _deliveries(mongo_db, template="supervision_order")
    assert all(d["escalation"] for d in escalations) and order["order_id"] in escalations[0]["body"]

    closed_at = datetime(2026, 12, 3, 15, 0, tzinfo=SHANGHAI)
    await react(
        n, on_case("case-1", 4, "CoordinationTaskClosed", {"task_id": "t1", "outcome": "已核对"}, closed_at)
    )
    settled = (await n.recorder.read_stream(supervision_stream("case-1", "t1")))[1]
    assert settled.event_type == "SupervisionOrderSettled" and settled.data["outcome"] == "closed_in_time"


async def test_steps_that_came_while_the_service_was_down_fire_once_each_on_start(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox"})
    await prepare(n)
    await _roster_and_case(n, clock)
    await react(n, _task_opened("case-1", clock()))
    clock.now = datetime(2026, 11, 30, 12, 0, tzinfo=SHANGHAI)  # down from Thursday until Monday noon
    assert await fire_due_steps(n) == 2
    assert await fire_due_steps(n) == 0
    templates = sorted(d["template"] for d in await _deliveries(mongo_db, recipient="staff:finance:s1"))
    assert templates == ["task_due_soon", "task_due_today"]


async def test_a_corrected_calendar_moves_pending_reminders(mongo_db):
    clock = Clock(START - timedelta(days=1))  # opened Wednesday: the reminder moved to Thursday is after it
    n = notifying(mongo_db, clock, {"inbox"})
    await prepare(n)
    await _roster_and_case(n, clock)
    await react(n, _task_opened("case-1", clock()))
    before = await n.deadlines.task("case-1", "t1")
    assert min(s["fire_at"] for s in before["steps"]).astimezone(SHANGHAI).day == 27
    year = await n.calendar.current()
    holidays = sorted(year.year(2026).holidays | {datetime(2026, 11, 27).date()})
    data = {
        "year": 2026,
        "version": 2,
        "holidays": [d.isoformat() for d in holidays],
        "makeup_workdays": [d.isoformat() for d in sorted(year.year(2026).makeup_workdays)],
        "published_by": "国务院办公厅",
    }
    recording = Recording(
        CALENDAR_STREAM, "calendar", 0, "zone", Actor(kind="service", id="t"), "cal-1", uuid.uuid4()
    )
    result = await n.recorder.append(recording, [NewEvent("WorkdayCalendarPublished", 1, data)])
    await react(n, result.events[0])
    after = await n.deadlines.task("case-1", "t1")
    soon = next(s for s in after["steps"] if s["step"] == "due_soon")
    assert soon["fire_at"].astimezone(SHANGHAI) == datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)


async def test_a_failing_channel_retries_then_reports_the_failure_while_the_inbox_delivers(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "sms"})
    await prepare(n)
    await n.contacts.put("staff:finance:s1", "finance", {"mobile": "13800000001"}, {"channels": ["sms"]})
    await _roster_and_case(n, clock)
    await react(n, assigned(4, "case-1", "s1", "李副局长", clock()))
    import httpx

    async with httpx.AsyncClient(timeout=1) as client:
        channels = {
            "inbox": InboxChannel(mongo_db, clock),
            "sms": SmsChannel(client, f"http://127.0.0.1:{free_port()}/x", None),
        }
        dispatcher = Dispatcher(
            n.deliveries, channels, n.contacts, RetryPolicy(3, timedelta(seconds=5)), clock, quick_attempts=1
        )
        for _ in range(4):
            await dispatcher.run_once()
            clock.advance(minutes=1)
    by_channel = {d["channel"]: d for d in await _deliveries(mongo_db, recipient="staff:finance:s1")}
    assert by_channel["inbox"]["status"] == "sent"
    assert by_channel["sms"]["status"] == "failed" and by_channel["sms"]["attempts"] == 3
    assert "unreachable" in by_channel["sms"]["last_error"]
    assert dispatcher.stats.failed == 1


async def test_the_rating_link_works_once(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"}, public_url="https://gx.example.cn")
    await prepare(n)
    await n.contacts.put(f"enterprise:finance:{CREDIT}", "finance", {"email": "gm@gree.cn"}, {})
    await _roster_and_case(n, clock, stored=True)
    resolved = on_case("case-1", 3, "CaseResolved", {"summary": "已到账", "settlement_intent": True}, clock())
    await stored_and_told(n, resolved)
    invitation = (await _deliveries(mongo_db, template="rating_invitation"))[0]
    token = re.search(r"https://gx\.example\.cn/api/v1/feedback/(\S+)", invitation["body"]).group(1)
    claims = n.tokens.check(token, clock())
    page = await feedback.show(n, claims)
    assert page.enterprise_name.startswith("格力") and not page.used
    await feedback.rate(n, claims, 1, "太慢")
    with pytest.raises(feedback.LinkAlreadyUsed):
        await feedback.rate(n, claims, 5, "改主意了")
    assert (await feedback.show(n, claims)).used
    events = await n.recorder.read_stream(feedback.feedback_stream(claims.token_id))
    assert len(events) == 1 and events[0].actor.kind == "enterprise" and events[0].data["rating"] == 1


async def test_erasing_a_contact_leaves_no_readable_copy(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    subject = f"enterprise:finance:{CREDIT}"
    await n.contacts.put(subject, "finance", {"email": "gm@gree.cn", "mobile": "13900000000"}, {})
    sealed = (await mongo_db["notification_contacts"].find_one({"_id": subject}))["sealed"]
    assert await n.contacts.address(subject, "email") == "gm@gree.cn"
    assert await n.contacts.erase(subject)
    assert await n.contacts.address(subject, "email") is None and await n.contacts.masked(subject) is None
    key = await mongo_db[SUBJECT_KEYS].find_one({"_id": subject})
    assert key["key"] is None and key["erased_at"]
    assert (
        await n.contacts._vault.open(sealed) is None
    )  # a copy kept anywhere (an event, a backup) reads as erased


async def test_the_contact_given_at_intake_is_told_and_erasing_it_leaves_no_readable_copy(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    subject = f"enterprise:finance:{CREDIT}"
    sealed = await n.contacts._vault.seal(subject, {"name": "王经理", "email": "wang@gree.cn"})
    opened = case_opened("case-1", clock())
    opened = opened.model_copy(update={"data": {**opened.data, "contact": sealed}})
    await _roster_and_case(n, clock)  # records the plain CaseOpened first (version 1)
    await react(
        n, opened.model_copy(update={"event_id": uuid.uuid4()})
    )  # delivered again, now with its contact
    assert await n.contacts.address(subject, "email") == "wang@gree.cn"
    await react(n, assigned(4, "case-1", "s1", "李副局长", clock()))
    [told] = await _deliveries(mongo_db, recipient=subject)
    assert told["channel"] == "email" and told["address_masked"] is None  # masked once sent
    assert await n.contacts.erase(subject)
    assert await n.contacts._vault.open(sealed) is None  # the copy in the event reads as erased
    assert await mongo_db["notification_contacts"].find_one({"_id": subject}) is None
    raw = [d async for d in mongo_db["notification_deliveries"].find({})]
    assert "wang@gree.cn" not in str(raw)


async def test_the_enterprise_is_told_when_money_reaches_its_account(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    await n.contacts.put(f"enterprise:finance:{CREDIT}", "finance", {"email": "gm@gree.cn"}, {})
    opened = {
        "disbursement_id": "d-1",
        "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": CREDIT},
        "case_id": "case-1",
        "source": "市财政局",
        "fund_type": "subsidy",
        "allocated": "70000000.00",
    }
    credited = {
        "disbursement_id": "d-1",
        "payment_id": "p-1",
        "amount": "70000000.00",
        "credited_at": "2026-11-27T01:30:00+00:00",
        "bank_reference": "ICBC-1",
        "reported_by": "国库系统",
        "credited_total": "70000000.00",
        "fully_credited": True,
    }
    assert await react(n, envelope("d-1", "disbursement", 1, "DisbursementOpened", opened, clock())) == 0
    paid = envelope("d-1", "disbursement", 2, "DisbursementPaymentCredited", credited, clock())
    assert await react(n, paid) == 1 and await react(n, paid) == 0  # told once, also when delivered again
    [told] = await _deliveries(mongo_db, template="money_credited")
    assert told["recipient"] == f"enterprise:finance:{CREDIT}" and "70,000,000.00" in told["body"]
    assert "补贴资金" in told["body"] and "2026-11-27 09:30" in told["body"]


async def test_the_concierge_is_introduced_by_mobile_else_email_and_everyone_told_is_read_at_once(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    staff_member, enterprise = "staff:finance:s1", f"enterprise:finance:{CREDIT}"
    await n.contacts.put(staff_member, "finance", {"email": "li@gaoxin.gov.cn"}, {"quiet_start": "22:00"})
    await n.contacts.put(enterprise, "finance", {"email": "gm@gree.cn", "mobile": "13900000000"}, {})
    assert await n.contacts.first_address(staff_member, ("sms", "email")) == "li@gaoxin.gov.cn"
    assert await n.contacts.first_address(enterprise, ("sms", "email")) == "13900000000"
    assert await n.contacts.first_address("staff:finance:nobody", ("sms", "email")) is None
    found = await n.contacts.audiences([staff_member, enterprise, "staff:finance:nobody", staff_member])
    assert list(found) == [staff_member, enterprise, "staff:finance:nobody"]
    assert found[staff_member].preferences.channels == ("inbox", "email")
    assert found[staff_member].preferences.quiet_start.hour == 22
    assert set(found[enterprise].preferences.channels) == {"email", "sms"}
    assert found[enterprise].preferences.quiet_start is None  # an enterprise keeps no quiet hours here
    assert found["staff:finance:nobody"].preferences.channels == ("inbox",)


class _Reads(monitoring.CommandListener):
    """The reads a client sends, by collection."""

    def __init__(self) -> None:
        self.finds: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.finds.append(str(event.command["find"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_an_assignment_notice_reads_the_contacts_once_and_the_problem_from_the_case_opened(
    mongo_db, infra
):
    reads = _Reads()
    client: AsyncMongoClient = AsyncMongoClient(
        infra.mongo_uri, tz_aware=True, tzinfo=UTC, event_listeners=[reads]
    )
    try:
        clock = Clock(START)
        n = notifying(client[mongo_db.name], clock, {"inbox", "email", "sms"})
        await prepare(n)
        staff_member, enterprise = "staff:finance:s1", f"enterprise:finance:{CREDIT}"
        await n.contacts.put(staff_member, "finance", {"mobile": "13800000001"}, {})
        await n.contacts.put(enterprise, "finance", {"email": "gm@gree.cn"}, {})
        await react(n, case_opened("case-1", clock()))
        reads.finds.clear()
        assert await react(n, assigned(1, "case-1", "s1", "李副局长", clock())) == 3  # inbox, SMS; email
        assert reads.finds.count("notification_contacts") == 1  # the line and both audiences, one read
        assert "notification_cases" not in reads.finds  # the problem was known from the CaseOpened
        bodies = {d["recipient"]: d["body"] async for d in mongo_db[DELIVERIES].find()}
        assert "补贴资金拨付进度" in bodies[staff_member]  # the problem, as the case was opened with it
        assert "13800000001" in bodies[enterprise]  # the concierge's line, from the same read

        # Another instance (it never saw the CaseOpened) reads the problem from what the first one folded.
        other = notifying(client[mongo_db.name], clock, {"inbox"})
        reads.finds.clear()
        assert await react(other, assigned(2, "case-2", "s1", "李副局长", clock())) == 1
        assert await react(other, assigned(3, "case-1", "s1", "李副局长", clock())) == 1
        # case-2 was never opened: read, looked for in the store (no opening), read again; case-1 read once.
        assert reads.finds.count("notification_cases") == 3 and reads.finds.count("events") == 1
        bodies = [d["body"] async for d in mongo_db[DELIVERIES].find({"case_id": "case-2"})]
        # No CaseOpened seen: the concierge is pointed to the case, never sent the decision's rule text.
        assert bodies and "见案件详情" in bodies[0] and "管理岗位，空闲最久" not in bodies[0]
    finally:
        await client.close()
