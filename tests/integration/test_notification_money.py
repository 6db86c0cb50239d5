"""Money that waits is chased, on real SecantusDB: a disbursement stuck in a stage reminds its concierge once,
a new stage moves the ladder, the credit ends it; arrears are reminded and escalate; replays change nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from services.notification.adapters.deliveries import INBOX, InboxChannel
from services.notification.application.dispatch import Dispatcher
from services.notification.application.money_deadlines import mend_stuck_clocks
from services.notification.application.react import react
from services.notification.application.scheduled import fire_due_steps
from services.notification.domain.deadlines import EscalationRules
from services.notification.domain.deliveries import RetryPolicy
from shared.contracts.calendar import CALENDAR_STREAM
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.recorder import NewEvent, Recording
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import (
    ENTERPRISE,
    Clock,
    arrears_recorded,
    envelope,
    prepare,
    with_a_concierge,
)
from tests.integration.notification_support import disbursement_opened as _opened
from tests.integration.notification_support import fully_credited as _credited
from tests.integration.notification_support import local as _local
from tests.integration.notification_support import notifying as notifying_on
from tests.integration.notification_support import stage_reported as _stage
from tests.integration.notification_support import told as _told

pytestmark = pytest.mark.asyncio
START = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)  # a Thursday


def _stuck_after(version: int, workdays: int, at: datetime) -> EventEnvelope:
    data = {"stuck_after_workdays": workdays}
    return envelope(
        "disbursement-settings-finance",
        "disbursement_settings",
        version,
        "DisbursementSettingsChanged",
        data,
        at,
    )


async def _world(mongo_db, clock: Clock):
    return await with_a_concierge(mongo_db, clock, {"inbox"}, "资金科")


async def test_a_disbursement_left_in_a_stage_past_its_limit_reminds_its_concierge_once(mongo_db):
    clock = Clock(START)
    n = await _world(mongo_db, clock)
    history = [
        _opened(START),
        _stage(2, "allocation_received", START),
        _stuck_after(1, 2, START),  # the bureau: stuck after 2 working days (Fri 27, Mon 30)
    ]
    for event in history:
        await react(n, event)
    clock.now = _local(11, 30, 8, 59)
    assert await fire_due_steps(n) == 0  # Monday, before the morning round
    clock.now = _local(11, 30, 9, 1)
    assert await fire_due_steps(n) == 1
    assert await fire_due_steps(n) == 0
    for event in history:  # everything delivered again, and the service restarted
        await react(n, event.model_copy(update={"event_id": uuid.uuid4()}))
    assert await fire_due_steps(n) == 0
    dispatcher = Dispatcher(
        n.deliveries, {"inbox": InboxChannel(mongo_db, clock)}, n.contacts, RetryPolicy(), clock
    )
    assert await dispatcher.run_once() == 1
    assert await dispatcher.run_once() == 0
    [told] = await _told(mongo_db, template="disbursement_stuck")
    assert told["recipient"] == "staff:finance:s1" and told["status"] == "sent"
    [message] = [m async for m in mongo_db[INBOX].find({"recipient": "staff:finance:s1"})]
    assert (
        "70,000,000.00" in message["body"]
        and "资金到区" in message["body"]
        and "2 个工作日" in message["body"]
    )

    # A new stage on Monday afternoon restarts the count: not stuck on Tuesday, stuck again on Wednesday.
    await react(n, _stage(3, "documents_complete", _local(11, 30, 14, 0)))
    clock.now = _local(12, 1, 9, 1)
    assert await fire_due_steps(n) == 0
    clock.now = _local(12, 2, 9, 1)
    assert await fire_due_steps(n) == 1  # the new stage's reminder; the old stage's escalation was dropped
    assert len(await _told(mongo_db, template="disbursement_stuck")) == 2

    # Credited: the ladder ends, and replaying the older events does not open it again.
    await react(n, _credited(4, _local(12, 2, 10, 0)))
    late = _stage(
        5, "approved", _local(11, 30, 15, 0)
    )  # reported after the credit: the status stays credited
    await react(n, late.model_copy(update={"data": {**late.data, "status": "credited", "late": True}}))
    for event in history:
        await react(n, event.model_copy(update={"event_id": uuid.uuid4()}))
    clock.now = _local(12, 31, 9, 1)
    assert await fire_due_steps(n) == 0
    doc = await n.deadlines.get("disbursement|d-1")
    assert doc is not None and not doc["open"] and doc["outcome"] == "credited"
    assert await _told(mongo_db, template="disbursement_stuck_escalated") == []


async def test_a_setting_changed_back_and_forth_tells_nobody_twice_of_one_stall(mongo_db):
    clock = Clock(START)
    n = await _world(mongo_db, clock)
    for event in (_opened(START), _stage(2, "allocation_received", START), _stuck_after(1, 1, START)):
        await react(n, event)
    clock.now = _local(11, 27, 9, 1)
    assert await fire_due_steps(n) == 1  # stuck after one working day: told on Friday
    await react(n, _stuck_after(2, 3, _local(11, 27, 10)))  # back to three working days
    clock.now = _local(12, 1, 9, 1)
    assert await fire_due_steps(n) == 0  # the third working day: this stall was told already
    assert len(await _told(mongo_db, template="disbursement_stuck")) == 1
    clock.now = _local(12, 3, 9, 1)
    assert await fire_due_steps(n) == 1  # the escalation, three plus two working days on, is still due
    escalations = await _told(mongo_db, template="disbursement_stuck_escalated")
    assert {told["cause"] for told in escalations} == {"timer:disbursement|d-1:stuck_escalated:2026-12-03"}


async def test_a_disbursement_still_stuck_is_escalated_to_leadership(mongo_db):
    clock = Clock(START)
    n = await _world(mongo_db, clock)
    await react(n, _opened(START))  # default: stuck after 3 working days, escalated 2 later
    clock.now = _local(12, 3, 9, 1)  # the service was down from Thursday to the next Thursday
    assert await fire_due_steps(n) == 2
    assert await fire_due_steps(n) == 0
    escalated = await _told(mongo_db, template="disbursement_stuck_escalated")
    assert {d["recipient"] for d in escalated} == {"staff:finance:s1", "staff:finance:d1"}
    assert all(d["escalation"] for d in escalated)


async def test_arrears_are_reminded_before_and_on_the_due_day_then_escalate_until_repaid(mongo_db):
    clock = Clock(datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI))
    n = await _world(mongo_db, clock)
    admin = Actor(kind="user", id="admin", bureau="finance")
    await n.rules.change("finance", EscalationRules(money_section="资金科"), admin, expected_version=1)
    assert (await n.rules.current("finance")).money_section == "资金科"  # rules v2 read back
    arrears = arrears_recorded(clock())
    await react(n, arrears)
    repaid = {
        "arrears_id": "a-1",
        "amount": "200000.00",
        "repaid_on": "2026-11-25",
        "outstanding": "1000000.00",
        "days_late": 0,
    }
    expected = [
        (_local(11, 24, 9, 1), "arrears_due_soon", {"staff:finance:c1"}),
        (_local(11, 27, 9, 1), "arrears_due_today", {"staff:finance:c1"}),
        (_local(11, 30, 9, 1), "arrears_overdue", {"staff:finance:c1"}),
        (_local(12, 2, 9, 1), "arrears_escalated", {"staff:finance:c1", "staff:finance:d1"}),
    ]
    for at, template, recipients in expected:
        clock.now = at
        if template == "arrears_due_today":
            await react(n, envelope("arrears-a-1", "arrears", 2, "ArrearsRepaid", repaid, clock()))
        await react(n, arrears.model_copy(update={"event_id": uuid.uuid4()}))  # replayed: nothing moves
        assert await fire_due_steps(n) == 1, template
        assert await fire_due_steps(n) == 0, template
        told = await _told(mongo_db, template=template)
        assert {d["recipient"] for d in told} == recipients, template
    [late] = await _told(mongo_db, template="arrears_escalated", recipient="staff:finance:d1")
    assert "1,000,000.00" in late["body"] and "5 天" in late["body"]  # partly repaid: what is still owed
    settled = {
        **repaid,
        "amount": "1000000.00",
        "repaid_on": "2026-12-02",
        "outstanding": "0.00",
        "days_late": 5,
    }
    await react(n, envelope("arrears-a-1", "arrears", 3, "ArrearsRepaid", settled, clock()))
    doc = await n.deadlines.get("arrears|a-1")
    assert doc is not None and not doc["open"] and doc["outcome"] == "repaid"


async def test_a_corrected_calendar_moves_a_pending_stuck_reminder(mongo_db):
    clock = Clock(START)
    n = await _world(mongo_db, clock)
    await react(n, _opened(START))
    before = await n.deadlines.get("disbursement|d-1")
    assert before is not None and before["next_at"].astimezone(SHANGHAI) == _local(12, 1, 9, 0)
    year = (await n.calendar.current()).year(2026)
    data = {
        "year": 2026,
        "version": 2,
        "holidays": sorted(d.isoformat() for d in year.holidays | {datetime(2026, 11, 27).date()}),
        "makeup_workdays": sorted(d.isoformat() for d in year.makeup_workdays),
        "published_by": "国务院办公厅",
    }
    recording = Recording(
        CALENDAR_STREAM, "calendar", 0, "zone", Actor(kind="service", id="t"), "cal-1", uuid.uuid4()
    )
    result = await n.recorder.append(recording, [NewEvent("WorkdayCalendarPublished", 1, data)])
    await react(n, result.events[0])
    after = await n.deadlines.get("disbursement|d-1")
    assert after is not None and after["next_at"].astimezone(SHANGHAI) == _local(12, 2, 9, 0)


async def test_a_stage_reported_while_its_reminder_fires_keeps_the_new_ladder(mongo_db):
    clock = Clock(START)
    n = await _world(mongo_db, clock)
    await react(n, _opened(START))  # stuck on Tue 1 Dec, escalated Thu 3 Dec
    clock.now = _local(12, 1, 9, 1)
    [claimed] = await n.deadlines.claim_due(clock(), 10, timedelta(minutes=2))  # the round is firing it
    await react(n, _stage(2, "allocation_received", _local(12, 1, 9, 0)))  # meanwhile: a new stage
    await n.deadlines.mark_fired(claimed, ["stuck"], clock())
    doc = await n.deadlines.get("disbursement|d-1")
    assert doc is not None and doc["claim"] is None
    # The new stage's ladder stands (stuck again Fri 4 Dec), not the old one's escalation on Thursday.
    assert doc["next_at"].astimezone(SHANGHAI) == _local(12, 4, 9, 0)
    clock.now = _local(12, 3, 9, 1)
    assert await fire_due_steps(n) == 0
    clock.now = _local(12, 4, 9, 1)
    assert await fire_due_steps(n) == 1


async def test_stages_reported_with_earlier_own_times_are_reminded_as_the_dashboard_counts_them(mongo_db):
    clock = Clock(START)
    n = await _world(mongo_db, clock)
    # Opened now; its stages happened days before and are reported now, with their own times.
    history = [
        _opened(START),
        _stage(2, "allocation_received", _local(11, 16, 10), recorded=START),
        _stage(3, "documents_complete", _local(11, 17, 10), recorded=START),
    ]
    for event in history:
        await react(n, event)
    doc = await n.deadlines.get("disbursement|d-1")
    assert doc is not None and doc["last_change_at"].astimezone(SHANGHAI) == _local(11, 17, 10)
    # Stuck since Fri 20 Nov (Wed 18, Thu 19, Fri 20), as the dashboard says: due, so told at once.
    assert doc["next_at"].astimezone(SHANGHAI) == _local(11, 20, 9)
    # A correction to an earlier own time, redeliveries and replays: the latest own time still counts.
    await react(n, _stage(4, "allocation_received", _local(11, 15, 10), recorded=START))
    for event in reversed(history):
        await react(n, event.model_copy(update={"event_id": uuid.uuid4()}))
    doc = await n.deadlines.get("disbursement|d-1")
    assert doc is not None and doc["last_change_at"].astimezone(SHANGHAI) == _local(11, 17, 10)
    clock.now = START + timedelta(minutes=1)
    assert await fire_due_steps(n) == 2  # stuck and (two working days later) escalated, both past due
    assert await fire_due_steps(n) == 0
    [told] = await _told(mongo_db, template="disbursement_stuck")
    assert told["recipient"] == "staff:finance:s1" and "自2026-11-17起" in told["body"]
    assert "7 个工作日" in told["body"]  # 18, 19, 20, 23, 24, 25, 26 Nov

    # A stage with a later own time restarts the count; an older one replayed after it moves nothing back.
    await react(n, _stage(5, "approved", _local(11, 26, 9), recorded=START))
    await react(n, history[1].model_copy(update={"event_id": uuid.uuid4()}))
    doc = await n.deadlines.get("disbursement|d-1")
    assert doc is not None and doc["next_at"].astimezone(SHANGHAI) == _local(12, 1, 9)
    clock.now = _local(12, 1, 9, 1)
    assert await fire_due_steps(n) == 1
    assert len(await _told(mongo_db, template="disbursement_stuck")) == 2


async def test_a_ladder_planned_before_own_times_were_kept_reads_them_from_the_stream(mongo_db):
    clock = Clock(START)
    n = await _world(mongo_db, clock)
    stages = [("allocation_received", _local(11, 16, 10)), ("documents_complete", _local(11, 17, 10))]
    events = [NewEvent("DisbursementOpened", 1, _opened(START).data, START)] + [
        NewEvent("DisbursementStageReported", 1, _stage(2, stage, at).data, START) for stage, at in stages
    ]
    recording = Recording(
        "disbursement-d-1", "disbursement", 0, "finance", Actor(kind="service", id="t"), "d-1", uuid.uuid4()
    )
    for event in (await n.recorder.append(recording, events)).events:
        await react(n, event)

    async def planned_as_before() -> None:
        # Counted from the opening's recording (12/1, 3 working days on), the own times not kept apart.
        await mongo_db["notification_deadlines"].update_one(
            {"_id": "disbursement|d-1"},
            {
                "$set": {"last_change_at": START, "next_at": _local(12, 1, 9)},
                "$unset": {"opened_at": "", "own_at": ""},
            },
        )

    async def counted_from_the_own_times() -> None:
        doc = await n.deadlines.get("disbursement|d-1")
        assert doc is not None and doc["last_change_at"].astimezone(SHANGHAI) == _local(11, 17, 10)
        assert doc["opened_at"].astimezone(SHANGHAI) == START
        assert doc["next_at"].astimezone(SHANGHAI) == _local(11, 20, 9)

    await planned_as_before()  # no later event comes: the service mends it when it starts
    assert await mend_stuck_clocks(n) == 1
    await counted_from_the_own_times()
    assert await mend_stuck_clocks(n) == 0  # mended once
    await planned_as_before()  # a later event comes first: it reads the stream itself
    await react(n, _stage(4, "allocation_received", _local(11, 15, 10), recorded=START))  # a correction
    await counted_from_the_own_times()


async def test_a_stage_date_corrected_to_an_earlier_day_counts_the_stall_from_the_dates_in_force(mongo_db):
    clock = Clock(START)
    n = await _world(mongo_db, clock)
    mistyped = _stage(3, "documents_complete", _local(11, 27, 10)).data  # a day in the future: a typo
    corrected = {**mistyped, "at": _local(11, 24, 10).isoformat(), "supersedes_at": mistyped["at"]}
    events = [
        NewEvent("DisbursementOpened", 1, _opened(START).data, START),
        NewEvent(
            "DisbursementStageReported", 1, _stage(2, "allocation_received", _local(11, 24, 10)).data, START
        ),
        NewEvent("DisbursementStageReported", 1, mistyped, START),
        NewEvent("DisbursementStageReported", 1, corrected, START),
    ]
    recording = Recording(
        "disbursement-d-1", "disbursement", 0, "finance", Actor(kind="service", id="t"), "d-1", uuid.uuid4()
    )
    for event in (await n.recorder.append(recording, events)).events:
        await react(n, event)
    doc = await n.deadlines.get("disbursement|d-1")
    # Stuck since Tue 24 Nov as the dashboard counts it (Wed 25, Thu 26, Fri 27): not from the mistyped 27th.
    assert doc is not None and doc["last_change_at"].astimezone(SHANGHAI) == _local(11, 24, 10)
    assert doc["next_at"].astimezone(SHANGHAI) == _local(11, 27, 9)


async def test_the_enterprise_is_told_which_disbursement_and_payment_reached_its_account(mongo_db):
    clock = Clock(START)
    n = notifying_on(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    enterprise = f"enterprise:finance:{ENTERPRISE['credit_code']}"
    await n.contacts.put(enterprise, "finance", {"email": "gm@gree.cn"}, {})
    opened = _opened(START)
    policy = {**opened.data, "policy_reference": "郑财预〔2026〕12号"}
    await react(n, opened.model_copy(update={"data": policy}))
    assert await react(n, _credited(2, _local(11, 26, 15, 30))) == 1
    [told] = await _told(mongo_db, template="money_credited")
    assert "d-1" in told["subject"]
    for shown in ("拨付编号：d-1（依据 郑财预〔2026〕12号）", "到账记录：p-1", "银行流水号：ICBC-1"):
        assert shown in told["body"], shown
    assert "2026-11-26 15:30（北京时间）" in told["body"] and "70,000,000.00" in told["body"]
