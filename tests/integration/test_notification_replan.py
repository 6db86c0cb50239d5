"""Replanning a task's ladder on real SecantusDB: a step told once is never told again for the same due date,
whatever day a rules change or a calendar correction would put it on; a bureau's rules change replans its
open ladders with the rules in force; an early reminder that would fall before the task opened is left out."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime

import pytest

from services.notification.adapters.deliveries import DELIVERIES
from services.notification.application.react import react
from services.notification.application.rules import rules_stream
from services.notification.application.scheduled import LEASE, fire_due_steps
from services.notification.domain.deadlines import EscalationRules, ladder
from shared.contracts.calendar import CALENDAR_STREAM
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.recorder import NewEvent, Recording
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import (
    Clock,
    arrears_recorded,
    case_opened,
    notifying,
    on_case,
    prepare,
    staff,
)

pytestmark = pytest.mark.asyncio
OPENED = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)  # a Friday
DUE = datetime(2026, 11, 30, 23, 59, 59, tzinfo=SHANGHAI)  # a Monday; due soon (1 working day) on Fri 27
ACTOR = Actor(kind="staff", id="d1", bureau="finance")


async def _a_task(n, clock: Clock, opened: datetime = OPENED, due: datetime = DUE) -> None:
    for version, (sid, name, post, section) in enumerate(
        [("s1", "李副局长", "deputy_director", "局领导"), ("c1", "王科长", "section_chief", "规划科")],
        start=1,
    ):
        await react(n, staff(version, sid, name, post, section, clock()))
    await react(n, case_opened("case-1", clock()))
    data = {"staff_id": "s1", "staff_name": "李副局长", "board_event_id": "b", "board_version": 3}
    await react(n, on_case("case-1", 2, "ConciergeAssignedToCase", data, clock()))
    task = {
        "task_id": "t1",
        "section": "规划科",
        "description": "请核对拨付材料",
        "working_days": 1,
        "opened_at": opened.isoformat(),
        "due_at": due.isoformat(),
        "due_provisional": False,
    }
    await react(n, on_case("case-1", 3, "CoordinationTaskOpened", task, opened))


async def _rules_changed(n, **changes: int) -> EventEnvelope:
    current = await n.rules.current("finance")
    rules = EscalationRules(**{**current.__dict__, **changes})
    await n.rules.change("finance", rules, ACTOR, current.version)
    return (await n.recorder.read_stream(rules_stream("finance")))[-1]


async def _holidays_added(n, *days: date) -> EventEnvelope:
    year = (await n.calendar.current()).year(2026)
    version = year.version + 1
    data = {
        "year": 2026,
        "version": version,
        "holidays": [d.isoformat() for d in sorted(year.holidays | set(days))],
        "makeup_workdays": [d.isoformat() for d in sorted(year.makeup_workdays)],
        "published_by": "国务院办公厅",
    }
    actor = Actor(kind="service", id="t")
    expected = await n.recorder.stream_version(CALENDAR_STREAM)
    recording = Recording(
        CALENDAR_STREAM, "calendar", expected, "zone", actor, f"cal-{version}", uuid.uuid4()
    )
    return (await n.recorder.append(recording, [NewEvent("WorkdayCalendarPublished", 1, data)])).events[0]


async def _told(db, template: str) -> list[dict]:
    return [d async for d in db[DELIVERIES].find({"template": template, "recipient": "staff:finance:s1"})]


async def _a_task_told_in_the_inbox(mongo_db):  # type: ignore[no-untyped-def]
    """The service over a fresh database with one open task t1 of case-1, opened on OPENED, due DUE."""
    clock = Clock(OPENED)
    n = notifying(mongo_db, clock, {"inbox"})
    await prepare(n)
    await _a_task(n, clock)
    return n, clock


async def _pending(n, step: str) -> list[datetime]:
    doc = await n.deadlines.task("case-1", "t1")
    return [s["fire_at"] for s in doc["steps"] if s["step"] == step and s.get("fired_at") is None]


async def test_a_due_soon_reminder_told_once_is_not_told_again_when_a_rules_change_moves_its_day(mongo_db):
    n, clock = await _a_task_told_in_the_inbox(mongo_db)
    clock.now = datetime(2026, 11, 27, 9, 1, tzinfo=SHANGHAI)
    assert await fire_due_steps(n) == 1
    assert len(await _told(mongo_db, "task_due_soon")) == 1

    await react(n, await _rules_changed(n, remind_workdays_before=3))  # would be Wed 25: past, so at once
    await react(n, await _holidays_added(n))  # a calendar publish that changes no day replans too

    assert await _pending(n, "due_soon") == []
    assert await fire_due_steps(n) == 0
    assert len(await _told(mongo_db, "task_due_soon")) == 1


async def test_a_supervision_order_told_once_is_not_told_again_when_a_calendar_correction_moves_its_day(
    mongo_db,
):
    n, clock = await _a_task_told_in_the_inbox(mongo_db)
    clock.now = datetime(2026, 12, 2, 9, 1, tzinfo=SHANGHAI)  # due soon, due today, overdue and 督办 all came
    assert await fire_due_steps(n) == 4
    assert len(await _told(mongo_db, "supervision_order")) == 1

    await react(n, await _holidays_added(n, date(2026, 12, 1)))  # 督办 would now be on Thu 3 Dec

    assert await _pending(n, "supervision") == [] and await _pending(n, "overdue") == []
    clock.now = datetime(2026, 12, 3, 9, 1, tzinfo=SHANGHAI)
    assert await fire_due_steps(n) == 0
    assert len(await _told(mongo_db, "supervision_order")) == 1


async def test_a_moved_due_date_plans_its_reminders_anew(mongo_db):
    n, clock = await _a_task_told_in_the_inbox(mongo_db)
    clock.now = datetime(2026, 11, 27, 9, 1, tzinfo=SHANGHAI)
    assert await fire_due_steps(n) == 1

    moved = {
        "task_id": "t1",
        "due_at": datetime(2026, 12, 4, 23, 59, 59, tzinfo=SHANGHAI).isoformat(),
        "previous_due_at": DUE.isoformat(),
        "due_provisional": False,
        "calendar_year": 2026,
        "calendar_version": 2,
    }
    await react(n, on_case("case-1", 4, "CoordinationTaskDueRecomputed", moved, clock()))

    assert await _pending(n, "due_soon") == [datetime(2026, 12, 3, 9, 0, tzinfo=SHANGHAI)]


async def test_a_rules_change_replans_the_bureau_s_open_ladders_with_the_rules_in_force(mongo_db):
    n, _ = await _a_task_told_in_the_inbox(mongo_db)
    assert await _pending(n, "due_soon") == [datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)]

    three_before = await _rules_changed(n, remind_workdays_before=3)
    await react(n, three_before)
    assert await _pending(n, "due_soon") == [datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)]

    await react(n, await _rules_changed(n, remind_workdays_before=2))
    await react(n, three_before)  # redelivered (or replayed) after the newer change: the rules in force hold
    assert await _pending(n, "due_soon") == [datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)]


async def test_an_early_reminder_that_would_fall_before_the_task_opened_is_left_out(mongo_db):
    opened = datetime(2026, 11, 29, 10, 0, tzinfo=SHANGHAI)  # a Sunday: due Monday, due soon would be Friday
    clock = Clock(opened)
    n = notifying(mongo_db, clock, {"inbox"})
    await prepare(n)
    await _a_task(n, clock, opened, DUE)

    assert await fire_due_steps(n) == 0
    steps = [s["step"] for s in (await n.deadlines.task("case-1", "t1"))["steps"]]
    assert steps == ["due_today", "overdue", "supervision"]

    await react(n, await _rules_changed(n, remind_workdays_before=3))  # a replan leaves it out too
    assert await fire_due_steps(n) == 0 and await _pending(n, "due_soon") == []


async def test_a_step_replanned_onto_another_day_while_it_fires_is_kept_as_told_not_told_again(mongo_db):
    n, clock = await _a_task_told_in_the_inbox(mongo_db)
    clock.now = datetime(2026, 11, 27, 9, 1, tzinfo=SHANGHAI)
    claimed = (await n.deadlines.claim_due(clock(), 10, LEASE))[0]

    await react(n, await _rules_changed(n, remind_workdays_before=3))  # replans while due soon fires
    stale = await n.deadlines.mark_fired(claimed, ["due_soon"], clock())

    assert stale == []  # what it told is still true: nothing of it is withdrawn
    assert await _pending(n, "due_soon") == []


async def test_a_rules_change_replans_the_bureau_s_arrears_ladders_too(mongo_db):
    clock = Clock(OPENED)
    n = notifying(mongo_db, clock, {"inbox"})
    await prepare(n)
    await react(n, arrears_recorded(clock()))  # due Fri 27 Nov: reminded 3 working days before, on Tue 24

    await react(n, await _rules_changed(n, arrears_remind_workdays_before=1))

    doc = await n.deadlines.get("arrears|a-1")
    soon = [s["fire_at"] for s in doc["steps"] if s["step"] == "arrears_due_soon"]
    assert soon == [datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)]


async def test_a_replan_that_read_the_ladder_before_a_step_fired_keeps_it_told(mongo_db):
    n, clock = await _a_task_told_in_the_inbox(mongo_db)
    read_before = await n.deadlines.task("case-1", "t1")  # a rules consumer reads the bureau's ladders …
    clock.now = datetime(2026, 11, 27, 9, 1, tzinfo=SHANGHAI)
    assert await fire_due_steps(n) == 1  # … the scheduler tells the due-soon step meanwhile …
    rules = dataclasses.replace(await n.rules.current("finance"), remind_workdays_before=2)
    calendar = await n.calendar.current()
    timers = ladder(calendar, read_before["due_at"], rules, read_before.get("task_opened_at"))
    await n.deadlines.replan(read_before, timers)  # … then moves it to Thursday from what it read

    assert await _pending(n, "due_soon") == []
    assert await fire_due_steps(n) == 0
    assert len(await _told(mongo_db, "task_due_soon")) == 1
