"""A published or corrected calendar year moves every open due date it changes, found from assignment's own events."""

from __future__ import annotations

from datetime import date, datetime

from services.assignment.application.boards import Boards, Cases
from services.assignment.application.calendars import Calendars
from services.assignment.domain.casework import CaseFile
from services.assignment.entrypoints.kafka import calendar_event_handler, case_event_handler
from services.assignment.projections.case_summaries import InMemoryCaseSummaries
from shared.contracts.calendar import CALENDAR_STREAM
from shared.contracts.casework import CoordinationTaskDueRecomputed
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI, CalendarYear
from shared.workdays.seed import default_calendar, published_years
from tests.unit.test_assignment_support import context, open_case

OPENED = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)  # Fri; 3 working days: Sat 10 (调休), Mon 12, Tue 13
EXTRA_DAY_OFF = date(2026, 10, 13)


def corrected_2026() -> dict:
    seeded = published_years()[2026]
    return {
        "year": 2026,
        "holidays": sorted({*seeded.holidays, EXTRA_DAY_OFF}),
        "makeup_workdays": sorted(seeded.makeup_workdays),
        "published_by": "zone/test",
    }


def test_a_correction_of_a_published_year_moves_a_final_due_date_and_keeps_both_versions() -> None:
    calendar = default_calendar()
    case = CaseFile(case_id="c1", clarified=True)
    for event in case.open_task("t1", "国库科", "拨付", 3, calendar.add_workdays(OPENED, 3), OPENED):
        case.apply(event)
    assert not case.tasks["t1"].provisional
    y = corrected_2026()
    calendar.publish(
        CalendarYear(2026, frozenset(y["holidays"]), frozenset(y["makeup_workdays"]), 2, "zone/test", OPENED)
    )

    [moved] = case.recompute_due_dates(calendar, 2026, 2)

    assert isinstance(moved, CoordinationTaskDueRecomputed)
    assert moved.previous_due_at.date() == date(2026, 10, 13) and moved.due_at.date() == date(2026, 10, 14)
    assert (moved.previous_calendar_version, moved.calendar_version) == (1, 2)
    case.apply(moved)
    assert case.recompute_due_dates(calendar, 2026, 2) == []  # a replay finds nothing to do


async def opened_task(recorder: InMemoryRecorder, cases: Cases, calendars: Calendars) -> None:
    await open_case(recorder, "c1", "finance", 1)
    await cases.decide(context("finance"), "c1", lambda c: c.clarify("x", ["国库科"]))
    deadline = (await calendars.current()).add_workdays(OPENED, 3)
    await cases.decide(
        context("finance"), "c1", lambda c: c.open_task("t1", "国库科", "拨付", 3, deadline, OPENED)
    )


async def test_publishing_finds_a_task_from_the_case_events_assignment_saw_and_moves_its_due_date() -> None:
    recorder = InMemoryRecorder()
    summaries = InMemoryCaseSummaries(recorder)
    cases, calendars = Cases(recorder), Calendars(recorder)
    on_case = case_event_handler(
        boards=Boards(recorder), cases=cases, calendars=calendars, summaries=summaries
    )
    await opened_task(recorder, cases, calendars)
    for envelope in await recorder.read_stream("c1"):
        await on_case(envelope)

    await calendars.publish(context("zone"), corrected_2026())
    [published] = await recorder.read_stream(CALENDAR_STREAM)
    on_calendar = calendar_event_handler(cases=cases, calendars=calendars, summaries=summaries)
    assert await on_calendar(published)

    case = await cases.load("c1")
    assert case is not None and case.tasks["t1"].due_at.date() == date(2026, 10, 14)


async def test_a_task_counted_just_before_a_correction_is_recomputed_when_its_event_arrives() -> None:
    recorder = InMemoryRecorder()
    summaries = InMemoryCaseSummaries(recorder)
    cases, calendars = Cases(recorder), Calendars(recorder)
    await opened_task(recorder, cases, calendars)
    await calendars.publish(context("zone"), corrected_2026())
    [published] = await recorder.read_stream(CALENDAR_STREAM)
    # The calendar event is handled before the task's: the index does not know the task yet.
    await calendar_event_handler(cases=cases, calendars=calendars, summaries=summaries)(published)
    on_case = case_event_handler(
        boards=Boards(recorder), cases=cases, calendars=calendars, summaries=summaries
    )

    for envelope in await recorder.read_stream("c1"):
        await on_case(envelope)

    case = await cases.load("c1")
    assert case is not None and case.tasks["t1"].due_at.date() == date(2026, 10, 14)
