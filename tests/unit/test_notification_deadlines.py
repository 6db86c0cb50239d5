"""Reminder ladders, working-hour deadlines and quiet hours on the Chinese working calendar."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from services.notification.domain.deadlines import EscalationRules, Step, ladder, overdue_workdays
from services.notification.domain.quiet_hours import Preferences, Urgency, deliver_at, in_quiet_hours
from services.notification.domain.working_hours import add_working_hours
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar
from shared.workdays.seed import default_calendar


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return default_calendar()


def _local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def _steps(timers: list) -> dict[Step, datetime]:
    return {t.step: t.fire_at for t in timers}


def test_a_task_due_after_national_day_is_reminded_on_the_last_working_day_before_the_holiday(calendar):
    # Due Thu 8 Oct 2026 (the first working day after 国庆): the working day before is Wed 30 Sep.
    steps = _steps(ladder(calendar, _local(2026, 10, 8, 23, 59, 59), EscalationRules()))
    assert steps[Step.DUE_SOON] == _local(2026, 9, 30, 9, 0)
    assert steps[Step.DUE_TODAY] == _local(2026, 10, 8, 9, 0)
    assert steps[Step.OVERDUE] == _local(2026, 10, 9, 9, 0)  # next working morning, not midnight
    # Two working days overdue: Fri 9 Oct and the 调休 Saturday 10 Oct, which is a working day.
    assert steps[Step.SUPERVISION] == _local(2026, 10, 10, 9, 0)


def test_a_task_due_on_monday_is_reminded_on_friday_not_on_the_weekend(calendar):
    steps = _steps(ladder(calendar, _local(2026, 11, 30, 23, 59, 59), EscalationRules()))
    assert steps[Step.DUE_SOON] == _local(2026, 11, 27, 9, 0)
    assert steps[Step.OVERDUE] == _local(2026, 12, 1, 9, 0)
    # Overdue Tue 1 Dec, Wed 2 Dec: the order goes out on Wed 2 Dec.
    assert steps[Step.SUPERVISION] == _local(2026, 12, 2, 9, 0)


def test_a_ladder_across_the_year_end_into_an_unpublished_year_is_marked_provisional(calendar):
    timers = ladder(
        calendar, _local(2026, 12, 31, 23, 59, 59), EscalationRules(supervise_after_overdue_workdays=3)
    )
    supervision = next(t for t in timers if t.step is Step.SUPERVISION)
    assert supervision.fire_at.date().year == 2027 and supervision.provisional


def test_a_bureau_without_early_reminders_gets_only_the_due_day_and_the_escalations(calendar):
    rules = EscalationRules(remind_workdays_before=0, remind_on_due_day=False)
    assert [t.step for t in ladder(calendar, _local(2026, 11, 30, 23, 59, 59), rules)] == [
        Step.OVERDUE,
        Step.SUPERVISION,
    ]


def test_rules_out_of_range_say_why():
    assert EscalationRules(supervise_after_overdue_workdays=0).problems() == [
        "supervise_after_overdue_workdays must be 1..30"
    ]


def test_overdue_is_counted_in_working_days_so_a_holiday_week_counts_little(calendar):
    due = _local(2026, 9, 30, 23, 59, 59)
    assert overdue_workdays(calendar, due, _local(2026, 9, 30, 12, 0)) == 0
    assert overdue_workdays(calendar, due, _local(2026, 10, 7, 12, 0)) == 1  # the whole holiday: still 1
    assert overdue_workdays(calendar, due, _local(2026, 10, 10, 12, 0)) == 3  # Thu, Fri and the 调休 Saturday


def test_two_working_hours_from_friday_afternoon_end_on_monday_morning(calendar):
    # Fri 27 Nov 2026, 16:30: one hour left that day (to 17:30), one more from Monday 09:00.
    assert add_working_hours(calendar, _local(2026, 11, 27, 16, 30), 2) == _local(2026, 11, 30, 10, 0)


def test_working_hours_skip_lunch_and_a_public_holiday(calendar):
    assert add_working_hours(calendar, _local(2026, 11, 26, 11, 0), 2) == _local(2026, 11, 26, 14, 30)
    # Wed 30 Sep 17:00 + 2 h: half an hour that day, then 国庆 until Thu 8 Oct.
    assert add_working_hours(calendar, _local(2026, 9, 30, 17, 0), 2) == _local(2026, 10, 8, 10, 30)


def test_working_hours_count_a_make_up_saturday(calendar):
    assert add_working_hours(calendar, _local(2026, 10, 9, 17, 0), 1) == _local(2026, 10, 10, 9, 30)


def test_working_hours_need_an_aware_start_and_positive_hours(calendar):
    with pytest.raises(ValueError):
        add_working_hours(calendar, datetime(2026, 11, 26, 9, 0), 1)
    with pytest.raises(ValueError):
        add_working_hours(calendar, _local(2026, 11, 26, 9, 0), 0)


def test_quiet_hours_hold_a_reminder_until_morning_but_not_an_escalation():
    prefs = Preferences(quiet_start=time(21, 0), quiet_end=time(8, 0))
    late = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    assert in_quiet_hours(prefs, late)
    assert deliver_at(prefs, late) == _local(2026, 11, 27, 8, 0)
    assert deliver_at(prefs, late, Urgency(escalation=True)) == late
    assert deliver_at(prefs, _local(2026, 11, 27, 7, 0)) == _local(2026, 11, 27, 8, 0)
    assert deliver_at(prefs, _local(2026, 11, 27, 12, 0)) == _local(2026, 11, 27, 12, 0)


def test_no_quiet_hours_means_now():
    prefs = Preferences(quiet_start=None, quiet_end=None)
    at = _local(2026, 11, 27, 3, 0)
    assert deliver_at(prefs, at) == at


def test_an_early_reminder_not_after_the_opening_is_left_out_and_the_due_day_and_escalations_stay(calendar):
    # A one-working-day task opened on Sunday 29 Nov, due Monday: "due soon" would be Friday 27, before it.
    due, opened = _local(2026, 11, 30, 23, 59, 59), _local(2026, 11, 29, 10, 0)
    steps = _steps(ladder(calendar, due, EscalationRules(), opened))
    assert list(steps) == [Step.DUE_TODAY, Step.OVERDUE, Step.SUPERVISION]
    # Opened on Thursday 26 at 08:00: Friday's reminder is after the opening and stays.
    assert Step.DUE_SOON in _steps(ladder(calendar, due, EscalationRules(), _local(2026, 11, 26, 8, 0)))
