"""Money ladders on the Chinese working calendar: disbursements stuck in a stage, arrears due dates."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.notification.application.rules import rules_of
from services.notification.domain.deadlines import EscalationRules, Step
from services.notification.domain.money_deadlines import (
    arrears_ladder,
    last_workday_on_or_before,
    overdue_days,
    stuck_ladder,
    stuck_since,
)
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar
from shared.workdays.seed import default_calendar


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return default_calendar()


def _local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def _steps(timers: list) -> dict[Step, datetime]:
    return {t.step: t.fire_at for t in timers}


def test_a_disbursement_left_on_thursday_is_stuck_after_three_working_days_not_counting_the_weekend(calendar):
    steps = _steps(stuck_ladder(calendar, _local(2026, 11, 26, 15, 0), 3, EscalationRules()))
    # Fri 27 Nov, Mon 30 Nov, Tue 1 Dec: stuck on Tuesday morning, as the dashboard counts it that day.
    assert steps[Step.STUCK] == _local(2026, 12, 1, 9, 0)
    assert calendar.workdays_between(date(2026, 11, 26), date(2026, 11, 30)) == 2  # not yet on Monday
    # Two more working days (the default) before leadership hears: Wed 2 and Thu 3 Dec.
    assert steps[Step.STUCK_ESCALATED] == _local(2026, 12, 3, 9, 0)


def test_a_disbursement_left_before_national_day_counts_the_make_up_saturday_and_skips_the_holiday(calendar):
    # Last change Wed 30 Sep 2026; 1-7 Oct are 国庆 holidays; Sat 10 Oct is a 调休 working day.
    timers = stuck_ladder(calendar, _local(2026, 9, 30, 16, 0), 3, EscalationRules())
    steps = _steps(timers)
    assert steps[Step.STUCK] == _local(2026, 10, 10, 9, 0)  # Thu 8, Fri 9, Sat 10 (调休)
    assert steps[Step.STUCK_ESCALATED] == _local(2026, 10, 13, 9, 0)  # Mon 12, Tue 13
    assert not any(t.provisional for t in timers)


def test_the_bureaus_limit_and_escalation_are_counted_from_the_stage_s_own_time(calendar):
    rules = EscalationRules(stuck_escalate_after_workdays=1)
    steps = _steps(stuck_ladder(calendar, _local(2026, 11, 26, 23, 30), 1, rules))
    assert steps[Step.STUCK] == _local(2026, 11, 27, 9, 0)
    assert steps[Step.STUCK_ESCALATED] == _local(2026, 11, 30, 9, 0)


def test_a_stuck_ladder_running_into_an_unpublished_year_is_provisional(calendar):
    timers = stuck_ladder(calendar, _local(2026, 12, 30, 10, 0), 3, EscalationRules())
    stuck = next(t for t in timers if t.step is Step.STUCK)
    # Thu 31 Dec, then 2027 as provisionally assumed (New Year's Day off): Mon 4 and Tue 5 Jan.
    assert stuck.fire_at == _local(2027, 1, 5, 9, 0)
    assert stuck.provisional and stuck.calendar_versions == {2026: 1, 2027: 0}


def test_a_disbursement_is_counted_from_the_latest_own_time_of_its_reports_not_from_their_recording():
    opened = _local(2026, 11, 28, 10, 0)  # recorded now
    received, complete = _local(2026, 11, 16, 10, 0), _local(2026, 11, 17, 10, 0)  # reported with own times
    assert stuck_since(opened, []) == opened  # nothing reported: the opening
    assert stuck_since(opened, [None]) == opened
    assert stuck_since(opened, [received, complete]) == complete  # before the opening's recording: still it
    assert stuck_since(opened, [complete, received]) == complete  # in whatever order they came


def test_a_disbursement_backdated_before_its_recording_is_stuck_as_the_dashboard_says(calendar):
    since = stuck_since(_local(2026, 11, 28, 10, 0), [_local(2026, 11, 17, 10, 0)])
    steps = _steps(stuck_ladder(calendar, since, 3, EscalationRules()))
    # Wed 18, Thu 19, Fri 20: the dashboard counts it stuck from Friday, and so does the reminder.
    assert steps[Step.STUCK] == _local(2026, 11, 20, 9, 0)
    assert steps[Step.STUCK_ESCALATED] == _local(2026, 11, 24, 9, 0)


def test_arrears_are_reminded_before_and_on_the_due_day_and_escalate_when_overdue(calendar):
    steps = _steps(arrears_ladder(calendar, date(2026, 11, 27), EscalationRules()))  # due Friday
    assert steps == {
        Step.ARREARS_DUE_SOON: _local(2026, 11, 24, 9, 0),  # three working days before
        Step.ARREARS_DUE_TODAY: _local(2026, 11, 27, 9, 0),
        Step.ARREARS_OVERDUE: _local(2026, 11, 30, 9, 0),  # the next working morning
        Step.ARREARS_ESCALATED: _local(2026, 12, 2, 9, 0),  # three working days overdue: Mon, Tue, Wed
    }


def test_arrears_due_in_a_holiday_are_reminded_on_the_last_working_day_before_it(calendar):
    # Due Sat 3 Oct 2026 (国庆): reminded Wed 30 Sep; three working days earlier skips 中秋 (25-27 Sep).
    steps = _steps(arrears_ladder(calendar, date(2026, 10, 3), EscalationRules()))
    assert last_workday_on_or_before(calendar, date(2026, 10, 3)) == date(2026, 9, 30)
    assert steps[Step.ARREARS_DUE_TODAY] == _local(2026, 9, 30, 9, 0)
    assert steps[Step.ARREARS_DUE_SOON] == _local(2026, 9, 24, 9, 0)
    assert steps[Step.ARREARS_OVERDUE] == _local(2026, 10, 8, 9, 0)
    assert steps[Step.ARREARS_ESCALATED] == _local(2026, 10, 10, 9, 0)  # Thu 8, Fri 9, the 调休 Saturday


def test_a_bureau_without_early_arrears_reminders_gets_the_due_day_and_the_escalations(calendar):
    rules = EscalationRules(arrears_remind_workdays_before=0, arrears_remind_on_due_day=False)
    assert [t.step for t in arrears_ladder(calendar, date(2026, 11, 27), rules)] == [
        Step.ARREARS_OVERDUE,
        Step.ARREARS_ESCALATED,
    ]


def test_arrears_recorded_after_their_due_day_are_never_announced_as_due_soon(calendar):
    due = date(2026, 10, 31)  # a Saturday: reminded Fri 30 Oct
    late = [t.step for t in arrears_ladder(calendar, due, EscalationRules(), today=date(2026, 11, 28))]
    assert late == [Step.ARREARS_OVERDUE, Step.ARREARS_ESCALATED]
    on_the_day = [t.step for t in arrears_ladder(calendar, due, EscalationRules(), today=date(2026, 10, 30))]
    assert on_the_day == [Step.ARREARS_DUE_TODAY, Step.ARREARS_OVERDUE, Step.ARREARS_ESCALATED]
    early = arrears_ladder(calendar, due, EscalationRules(), today=date(2026, 10, 29))
    assert early == arrears_ladder(calendar, due, EscalationRules())  # recorded in time: the whole ladder


def test_arrears_are_late_by_calendar_days_only_after_the_due_date():
    due = date(2026, 11, 27)
    assert overdue_days(due, _local(2026, 11, 26, 12, 0)) == 0  # before
    assert overdue_days(due, _local(2026, 11, 27, 23, 59)) == 0  # on the day
    assert overdue_days(due, _local(2026, 11, 30, 9, 0)) == 3  # after: the regulation counts calendar days


def test_money_rules_out_of_range_say_why():
    rules = EscalationRules(stuck_escalate_after_workdays=0, arrears_remind_workdays_before=11)
    assert rules.problems() == [
        "stuck_escalate_after_workdays must be 1..30",
        "arrears_remind_workdays_before must be 0..10",
    ]


def test_rules_stored_before_the_money_ladders_read_with_their_defaults():
    stored_v1 = {
        "version": 4,
        "remind_workdays_before": 2,
        "remind_on_due_day": False,
        "supervise_after_overdue_workdays": 3,
        "supervision_deadline_workdays": 1,
    }
    rules = rules_of(1, stored_v1)
    assert rules.version == 4 and rules.remind_workdays_before == 2 and not rules.remind_on_due_day
    assert rules.stuck_escalate_after_workdays == 2 and rules.arrears_remind_workdays_before == 3
    assert rules_of(2, {**stored_v1, "money_section": "资金科"}).money_section == "资金科"
