"""Leaves start and end on their own days, by events; deputies, overlaps, bounds and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timedelta

import pytest

from services.assignment.application.boards import Boards, board_stream
from services.assignment.application.scheduled import advance_leaves, leave_context, run_leave_checks
from services.assignment.domain.rules import AssignmentRefused
from shared.contracts.assignment import (
    ConciergeAssigned,
    ConciergeReassigned,
    EnterpriseQueued,
    Post,
    StaffLeaveCancelled,
    StaffLeaveEnded,
    StaffLeaveRecorded,
    StaffLeaveStarted,
)
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.support import credit_code, eventually
from tests.unit.test_assignment_board import FUNDS, NOW, board_with, enterprise, play
from tests.unit.test_assignment_support import context

TODAY = NOW.date()
DAY = timedelta(days=1)


def on(day: date) -> datetime:
    return datetime.combine(day, NOW.time(), SHANGHAI)


def kinds(events: list) -> list[str]:  # type: ignore[type-arg]
    return [type(e).__name__ for e in events]


def test_given_a_leave_in_the_future_then_recording_it_hands_nothing_over_and_its_first_day_does() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    [recorded] = play(
        board, board.record_leave("l1", "a", TODAY + 3 * DAY, TODAY + 5 * DAY, "年假", "b", NOW)
    )
    assert isinstance(recorded, StaffLeaveRecorded) and recorded.deputy_staff_id == "b"
    assert board.leaves_due(on(TODAY + 2 * DAY)) == []

    assert board.leaves_due(on(TODAY + 3 * DAY)) == [("a", "l1")]
    started, moved = play(board, board.advance_leave("a", "l1", on(TODAY + 3 * DAY)))

    assert isinstance(started, StaffLeaveStarted) and started.day == TODAY + 3 * DAY
    assert isinstance(moved, ConciergeReassigned) and moved.to_staff_id == "b"
    assert board.advance_leave("a", "l1", on(TODAY + 3 * DAY)) == []  # a second check finds nothing to do


def test_given_a_leave_over_then_its_end_makes_the_person_eligible_and_serves_the_queue() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.record_leave("l1", "a", TODAY, TODAY + DAY, "病假", None, NOW))  # to b
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))  # a away, b busy: waits
    assert [f.enterprise.credit_code for f in board.queue()] == [credit_code(2)]

    back = on(TODAY + 2 * DAY)
    assert board.leaves_due(back) == [("a", "l1")]
    ended, assigned = play(board, board.advance_leave("a", "l1", back))

    assert isinstance(ended, StaffLeaveEnded)
    assert isinstance(assigned, ConciergeAssigned) and assigned.staff_id == "a"
    # Documented choice: enterprise 1 stays with the deputy (no second change of contact).
    assert board.files[credit_code(1)].staff_id == "b"
    assert board.leaves_due(back) == []


def test_a_leave_that_passed_while_no_check_ran_is_ended_without_a_hand_over() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.record_leave("l1", "a", TODAY + DAY, TODAY + 2 * DAY, "事假", None, NOW))
    assert kinds(board.advance_leave("a", "l1", on(TODAY + 5 * DAY))) == ["StaffLeaveEnded"]


def test_a_cancelled_leave_makes_the_person_eligible_at_once_and_never_starts() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.record_leave("l1", "a", TODAY, TODAY + 3 * DAY, "病假", None, NOW))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # waits: a is away

    cancelled, assigned = play(board, board.cancel_leave("a", "l1", "提前返岗", NOW))

    assert isinstance(cancelled, StaffLeaveCancelled) and cancelled.reason == "提前返岗"
    assert isinstance(assigned, ConciergeAssigned) and assigned.staff_id == "a"
    assert board.leaves_due(on(TODAY + 10 * DAY)) == []
    with pytest.raises(AssignmentRefused, match="cancelled"):
        board.cancel_leave("a", "l1", "again", NOW)
    with pytest.raises(AssignmentRefused, match="no leave"):
        board.cancel_leave("a", "nope", "x", NOW)


def test_the_same_leave_recorded_again_overlaps_and_is_refused() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.record_leave("l1", "a", TODAY + DAY, TODAY + 4 * DAY, "年假", None, NOW))
    with pytest.raises(AssignmentRefused, match="overlaps leave l1"):
        board.record_leave("l2", "a", TODAY + DAY, TODAY + 4 * DAY, "年假", None, NOW)
    with pytest.raises(AssignmentRefused, match="overlaps"):
        board.record_leave("l3", "a", TODAY + 4 * DAY, TODAY + 6 * DAY, "年假", None, NOW)
    assert board.record_leave("l1", "a", TODAY + DAY, TODAY + 4 * DAY, "年假", None, NOW) == []  # retry
    play(board, board.record_leave("l4", "a", TODAY + 5 * DAY, TODAY + 6 * DAY, "年假", None, NOW))


@pytest.mark.parametrize(
    ("first", "last", "why"),
    [
        (date(1900, 1, 1), date(9999, 12, 31), "within a year of today"),
        (TODAY - 400 * DAY, TODAY - 399 * DAY, "within a year of today"),
        (TODAY + 400 * DAY, TODAY + 401 * DAY, "within a year of today"),
        (TODAY, TODAY + 400 * DAY, "a year at most"),
        (TODAY + DAY, TODAY, "ends before it starts"),
    ],
)
def test_leave_dates_are_bounded(first: date, last: date, why: str) -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    with pytest.raises(AssignmentRefused, match=why.replace("within a year of today", "starts between")):
        board.record_leave("l1", "a", first, last, "x", None, NOW)


@pytest.mark.parametrize(
    ("deputy", "why"),
    [
        ("a", "cannot be the person on leave"),
        ("nobody", "not on the roster"),
        ("clerk", "not on a management post"),
        ("busy", "cannot take 1 more"),
        ("away", "on leave then too"),
    ],
)
def test_a_deputy_who_cannot_take_over_is_refused_with_the_reason(deputy: str, why: str) -> None:
    board = board_with(
        ("a", Post.SECTION_CHIEF),
        ("busy", Post.SECTION_CHIEF),
        ("clerk", Post.CLERK),
        ("away", Post.DIRECTOR),
    )
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a (tie broken by id)
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))  # away
    play(board, board.open_case("c3", enterprise(3), FUNDS, NOW))  # busy
    play(board, board.record_leave("la", "away", TODAY + DAY, TODAY + 2 * DAY, "年假", None, NOW))
    with pytest.raises(AssignmentRefused, match=why):
        board.record_leave("l1", "a", TODAY, TODAY + 2 * DAY, "病假", deputy, NOW)


def test_a_deputy_busy_on_the_first_day_of_a_future_leave_gives_way_to_the_rules_with_the_reason() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF), ("c", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.record_leave("l1", "a", TODAY + DAY, TODAY + 2 * DAY, "年假", "b", NOW))
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))  # b, now busy

    [_, moved] = play(board, board.advance_leave("a", "l1", on(TODAY + DAY)))

    assert isinstance(moved, ConciergeReassigned) and moved.to_staff_id == "c"
    assert "deputy b cannot take it: already serving" in moved.reason


def test_given_nobody_free_when_a_leave_starts_then_the_cases_are_withdrawn_with_every_case_id() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    [_, _, queued] = play(board, board.record_leave("l1", "a", TODAY, TODAY, "病假", None, NOW))
    assert isinstance(queued, EnterpriseQueued) and queued.withdrawn_staff_id == "a"
    assert queued.case_ids == ["c1"] and "on leave" in queued.reason


async def test_the_scheduled_check_run_by_two_instances_records_each_start_once() -> None:
    recorder = InMemoryRecorder()
    first, second = Boards(recorder), Boards(recorder)
    await first.decide(context("finance"), lambda b: b.add_staff("a", "a", Post.SECTION_CHIEF, "预算科", NOW))
    await first.decide(context("finance"), lambda b: b.add_staff("b", "b", Post.SECTION_CHIEF, "预算科", NOW))
    await first.decide(
        context("finance"),
        lambda b: b.record_leave("l1", "a", TODAY + DAY, TODAY + 2 * DAY, "年假", None, NOW),
    )
    await second.current("finance")  # the second instance's cache is now stale for what follows

    recorded = await advance_leaves(first, "finance", on(TODAY + DAY))
    again = await advance_leaves(second, "finance", on(TODAY + DAY))
    restarted = await advance_leaves(Boards(recorder), "finance", on(TODAY + DAY))

    assert [e.event_type for e in recorded] == ["StaffLeaveStarted"]
    assert again == [] and restarted == []
    types = [e.event_type for e in await recorder.read_stream(board_stream("finance"))]
    assert types.count("StaffLeaveStarted") == 1


def test_the_scheduled_checks_command_id_is_derived_from_the_bureau_the_leave_and_the_day() -> None:
    monday, again, tuesday = (
        leave_context("finance", "l1", on(TODAY)),
        leave_context("finance", "l1", on(TODAY).replace(hour=23)),
        leave_context("finance", "l1", on(TODAY + DAY)),
    )
    assert monday.command_id == again.command_id != tuesday.command_id
    assert monday.correlation_id == again.correlation_id


async def test_the_scheduled_loop_starts_a_leave_on_its_day_and_survives_a_failing_run() -> None:
    recorder = InMemoryRecorder()
    boards = Boards(recorder)
    await boards.decide(
        context("finance"), lambda b: b.add_staff("a", "a", Post.SECTION_CHIEF, "预算科", NOW)
    )
    await boards.decide(
        context("finance"),
        lambda b: b.record_leave("l1", "a", TODAY + DAY, TODAY + 2 * DAY, "年假", None, NOW),
    )
    calls = 0

    async def bureaus() -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database down")  # the next run catches up
        return ["finance"]

    async def started() -> bool:
        types = [e.event_type for e in await recorder.read_stream(board_stream("finance"))]
        return "StaffLeaveStarted" in types

    checks = asyncio.create_task(run_leave_checks(boards, bureaus, 0.01, clock=lambda: on(TODAY + DAY)))
    try:
        await eventually(started, 5, "the leave started by the scheduled loop")
    finally:
        checks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checks
    assert calls >= 2
