"""Arrears due dates under 民法典第二百零三条: a term ending on a day off ends on the next working day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.disbursement.domain.arrears import Arrears, due_on, record_arrears
from services.notification.domain.deadlines import EscalationRules, Step
from services.notification.domain.money_deadlines import arrears_ladder
from shared.contracts.cases import Enterprise
from shared.contracts.disbursement import ArrearsRepaid, OpenArrearsRequest, RepaymentReport
from shared.workdays.calendar import SHANGHAI, CalendarYear, WorkdayCalendar
from shared.workdays.seed import default_calendar
from tests.support import credit_code

TODAY = date(2026, 12, 31)


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return default_calendar()


def recorded(delivered_on: date, calendar: WorkdayCalendar, term: int = 30) -> Arrears:
    request = OpenArrearsRequest.model_validate(
        {
            "enterprise": Enterprise(name="北控水务(郑州)有限公司", credit_code=credit_code(2)),
            "debtor": "高新区建设局",
            "purpose": "污水处理厂运维服务",
            "amount_owed": "1000.00",
            "delivered_on": delivered_on,
            "agreed_term_days": term,
        }
    )
    return Arrears(record_arrears("a1", request, today=TODAY, calendar=calendar))


def test_a_term_ending_on_a_saturday_is_due_on_monday_and_overdue_only_from_tuesday(calendar):
    a = recorded(date(2026, 10, 29), calendar)  # + 30 days: Saturday 2026-11-28
    assert a.recorded.due_on == date(2026, 11, 30)
    assert not a.is_overdue(date(2026, 11, 29)) and not a.is_overdue(date(2026, 11, 30))
    assert a.overdue_days(date(2026, 12, 1)) == 1


def test_a_term_ending_in_the_national_day_holiday_is_due_on_the_first_working_day_after_it(calendar):
    a = recorded(date(2026, 9, 1), calendar)  # + 30 days: 2026-10-01, 国庆 until 10-07
    assert a.recorded.due_on == date(2026, 10, 8)
    [on_time] = a.repay(RepaymentReport(amount="400.00", repaid_on=date(2026, 10, 8)), TODAY)
    assert isinstance(on_time, ArrearsRepaid) and on_time.days_late == 0
    a.apply(on_time, 2)
    [late] = a.repay(RepaymentReport(amount="600.00", repaid_on=date(2026, 10, 9)), TODAY)
    a.apply(late, 3)
    assert isinstance(late, ArrearsRepaid) and (late.days_late, a.days_late()) == (1, 1)


def test_a_make_up_working_saturday_ends_the_term_where_it_falls(calendar):
    assert calendar.is_workday(date(2026, 10, 10))  # 调休: the Saturday after 国庆 is worked
    assert due_on(date(2026, 9, 10), 30, calendar) == date(2026, 10, 10)


def test_a_term_ending_on_a_working_day_is_not_moved(calendar):
    assert due_on(date(2026, 10, 28), 30, calendar) == date(2026, 11, 27)  # a Friday


def test_the_due_date_follows_the_calendar_in_force_when_the_arrears_are_recorded(calendar):
    # A corrected 2026 that makes Friday 2026-11-27 a day off: arrears recorded from then on are due Monday.
    year = calendar.year(2026)
    calendar.publish(
        CalendarYear(
            year=2026,
            holidays=year.holidays | {date(2026, 11, 27)},
            makeup_workdays=year.makeup_workdays,
            version=year.version + 1,
            published_by="test",
            published_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
    )
    assert recorded(date(2026, 10, 28), calendar).recorded.due_on == date(2026, 11, 30)


def test_the_notification_ladder_of_a_moved_due_date_tells_overdue_only_after_it(calendar):
    due = recorded(date(2026, 9, 1), calendar).recorded.due_on
    steps = {t.step: t.fire_at for t in arrears_ladder(calendar, due, EscalationRules())}
    assert steps[Step.ARREARS_DUE_TODAY] == datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)
    assert steps[Step.ARREARS_OVERDUE] == datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI)
