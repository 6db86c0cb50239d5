"""Working-day deadlines over holidays and 调休 make-up days, and provisional unpublished years."""

from datetime import UTC, date, datetime

import pytest

from shared.workdays.calendar import SHANGHAI, CalendarYear, WorkdayCalendar
from shared.workdays.seed import default_calendar


@pytest.fixture(scope="module")
def calendar() -> WorkdayCalendar:
    return default_calendar()


def test_national_day_is_off_and_the_make_up_saturday_is_a_working_day(calendar: WorkdayCalendar) -> None:
    assert not calendar.is_workday(date(2026, 10, 5))  # 国庆 holiday, a Monday
    assert calendar.is_workday(date(2026, 10, 10))  # 调休: a Saturday worked
    assert not calendar.is_workday(date(2026, 10, 11))  # an ordinary Sunday


def test_three_working_days_from_before_national_day_skip_the_holiday_and_count_the_saturday(
    calendar: WorkdayCalendar,
) -> None:
    # Wed 30 Sep 2026, 15:00 local: next working days are Thu 8 Oct, Fri 9 Oct, Sat 10 Oct (调休).
    start = datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    deadline = calendar.add_workdays(start, 3)
    assert deadline.due == datetime(2026, 10, 10, 23, 59, 59, tzinfo=SHANGHAI)
    assert not deadline.provisional and deadline.calendar_versions == {2026: 1}


def test_start_is_taken_in_shanghai_time(calendar: WorkdayCalendar) -> None:
    # 17:00 UTC on Friday is already Saturday in Shanghai.
    deadline = calendar.add_workdays(datetime(2026, 11, 20, 17, 0, tzinfo=UTC), 1)
    assert deadline.due.date() == date(2026, 11, 23)


def test_a_deadline_into_an_unpublished_year_is_provisional(calendar: WorkdayCalendar) -> None:
    deadline = calendar.add_workdays(datetime(2026, 12, 30, 9, 0, tzinfo=SHANGHAI), 3)
    # Thu 31 Dec; 1 Jan 2027 is a statutory holiday; Mon 4 Jan, Tue 5 Jan.
    assert deadline.due.date() == date(2027, 1, 5)
    assert deadline.provisional and deadline.calendar_versions[2027] == 0


def test_publishing_a_year_changes_the_answer(calendar: WorkdayCalendar) -> None:
    start = datetime(2026, 12, 30, 9, 0, tzinfo=SHANGHAI)
    published = CalendarYear(
        year=2027,
        holidays=frozenset({date(2027, 1, 1), date(2027, 1, 4)}),
        makeup_workdays=frozenset({date(2027, 1, 9)}),
        version=1,
        published_by="国务院办公厅",
        published_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    local = WorkdayCalendar({2026: calendar.year(2026)}, calendar.year)
    before = local.add_workdays(start, 3)
    local.publish(published)
    after = local.add_workdays(start, 3)
    assert before.due.date() == date(2027, 1, 5) and after.due.date() == date(2027, 1, 6)
    assert not after.provisional


def test_rejects_naive_times_and_empty_deadlines(calendar: WorkdayCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add_workdays(datetime(2026, 10, 1), 1)
    with pytest.raises(ValueError, match="at least one"):
        calendar.add_workdays(datetime(2026, 10, 1, tzinfo=UTC), 0)


def test_the_statute_a_published_year_must_hold_is_the_known_one() -> None:
    from shared.workdays.calendar import statutory_weekdays_left_out

    # Written out by hand (元旦, 除夕, 春节, 清明, 端午, 中秋, 国庆 on weekdays): a `holidays` release that read the
    # statute otherwise would refuse the State Council's real schedule, so the suite says so first.
    assert [str(d) for d, _ in statutory_weekdays_left_out(2027, [])] == [
        "2027-01-01", "2027-02-05", "2027-02-08", "2027-04-05", "2027-06-09", "2027-09-15", "2027-10-01",
    ]  # fmt: skip
    assert [str(d) for d, _ in statutory_weekdays_left_out(2030, [])] == [
        "2030-01-01", "2030-02-04", "2030-02-05", "2030-04-05", "2030-05-01", "2030-05-02", "2030-06-05",
        "2030-09-12", "2030-10-01", "2030-10-02", "2030-10-03",
    ]  # fmt: skip
    assert statutory_weekdays_left_out(2100, []) == []  # beyond what the package computes reliably
