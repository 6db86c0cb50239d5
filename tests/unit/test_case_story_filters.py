"""The leadership filters of the case list: their exact meaning as queries, and working days counted right."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.casequery.application.filters import CaseFilter, waiting_cutoff
from shared.workdays.calendar import SHANGHAI, CalendarYear, WorkdayCalendar

NOW = datetime(2026, 11, 9, 10, tzinfo=SHANGHAI)  # a Monday


def calendar(
    holidays: frozenset[date] = frozenset(), makeup: frozenset[date] = frozenset()
) -> WorkdayCalendar:
    def year(y: int) -> CalendarYear:
        return CalendarYear(y, frozenset(holidays), frozenset(makeup), 1, "测试", NOW)

    return WorkdayCalendar({2026: year(2026)}, year)


def waited_more_than(n: int, since: datetime, cal: WorkdayCalendar) -> bool:
    return since < waiting_cutoff(n, NOW, cal)


def test_given_a_case_waiting_since_friday_when_it_is_monday_then_it_has_waited_one_working_day() -> None:
    friday = datetime(2026, 11, 6, 9, tzinfo=SHANGHAI)
    thursday = datetime(2026, 11, 5, 17, tzinfo=SHANGHAI)

    assert waited_more_than(0, friday, calendar())
    assert not waited_more_than(1, friday, calendar())  # Saturday and Sunday are not counted
    assert waited_more_than(1, thursday, calendar())
    assert not waited_more_than(0, datetime(2026, 11, 9, 8, tzinfo=SHANGHAI), calendar())  # began today


def test_given_a_holiday_and_a_make_up_day_when_counting_the_wait_then_the_calendar_decides() -> None:
    # Given Friday 6 November off and Saturday 7 November a make-up working day (调休)
    cal = calendar(holidays=frozenset({date(2026, 11, 6)}), makeup=frozenset({date(2026, 11, 7)}))
    thursday = datetime(2026, 11, 5, 17, tzinfo=SHANGHAI)

    # Then a case waiting since Thursday has waited Saturday and Monday: two working days, not three
    assert waited_more_than(1, thursday, cal)
    assert not waited_more_than(2, thursday, cal)


def test_given_the_leadership_filters_when_queried_then_each_is_a_condition_on_the_view() -> None:
    q = CaseFilter(flagged_for_leadership=True, concierge="s1", overdue=True).query("finance", NOW)

    assert q["bureau"] == "finance" and q["flagged_for_leadership"] is True
    assert q["concierge.staff_id"] == "s1"
    assert q["tasks"] == {"$elemMatch": {"state": "open", "due_at": {"$lt": NOW}}}


def test_given_overdue_false_when_queried_then_cases_with_an_overdue_open_task_are_excluded() -> None:
    q = CaseFilter(overdue=False, flagged_for_leadership=False).query("finance", NOW)

    assert q["tasks"] == {"$not": {"$elemMatch": {"state": "open", "due_at": {"$lt": NOW}}}}
    assert q["flagged_for_leadership"] is False


def test_given_a_waiting_filter_when_queried_then_only_cases_still_waiting_since_before_the_cutoff_match() -> (
    None
):
    q = CaseFilter(waiting_more_than=1).query("finance", NOW, calendar())

    assert q["waiting_since"] == {"$ne": None, "$lt": datetime(2026, 11, 6, tzinfo=SHANGHAI)}


def test_given_a_timed_filter_without_the_time_when_queried_then_it_refuses() -> None:
    with pytest.raises(ValueError, match="current time"):
        CaseFilter(overdue=True).query("finance")
