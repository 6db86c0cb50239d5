"""Time to account on the Chinese working-day calendar: weekends, public holidays, 调休 Saturdays."""

from __future__ import annotations

from datetime import datetime

from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.domain.timing import spans, time_to_account
from shared.contracts.cases import Enterprise
from shared.contracts.disbursement import DisbursementOpened, FundType, PaymentReport, Stage, StageReport
from shared.workdays.calendar import SHANGHAI
from shared.workdays.seed import default_calendar
from tests.support import credit_code

CALENDAR = default_calendar()
NOW = datetime(2026, 11, 27, 12, tzinfo=SHANGHAI)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def credited(received: datetime, paid: datetime) -> Disbursement:
    opened = DisbursementOpened(
        disbursement_id="d",
        enterprise=Enterprise(name="格力电器(郑州)有限公司", credit_code=credit_code(1)),
        source="市财政局",
        fund_type=FundType.SUBSIDY,
        allocated="70000000.00",
    )
    d = Disbursement.open(opened, received)
    events = d.report_stage(
        StageReport(stage=Stage.ALLOCATION_RECEIVED, at=received), reported_by="x", approver=None, now=NOW
    )
    for e in events:
        d.apply(e, d.version + 1)
    payment = PaymentReport(amount="70000000.00", credited_at=paid, bank_reference="b")
    for e in d.record_payment(payment, payment_id="p", reported_by="bank", now=NOW):
        d.apply(e, d.version + 1)
    return d


def test_credited_the_next_working_day_is_within_one_working_day() -> None:
    tta = time_to_account(credited(at(10, 12, 16), at(10, 13, 11)), CALENDAR)
    assert tta is not None and tta.within_one_workday and tta.workdays == 1 and tta.hours == 19.0


def test_friday_to_monday_across_a_weekend_is_one_working_day() -> None:
    tta = time_to_account(credited(at(11, 6, 17), at(11, 9, 9)), CALENDAR)  # Fri 6 Nov -> Mon 9 Nov
    assert tta is not None and tta.workdays == 1 and tta.within_one_workday and tta.hours == 64.0


def test_across_the_national_day_holiday_the_first_working_day_after_it_counts_as_one() -> None:
    tta = time_to_account(credited(at(9, 30, 15), at(10, 8, 10)), CALENDAR)  # Oct 1-7 off in 2026
    assert tta is not None and tta.workdays == 1 and tta.within_one_workday


def test_a_tiaoxiu_working_saturday_counts_so_monday_is_two_working_days_later() -> None:
    # 2026-10-09 is a Friday and 2026-10-10 a make-up working Saturday (调休).
    on_saturday = time_to_account(credited(at(10, 9), at(10, 10)), CALENDAR)
    on_monday = time_to_account(credited(at(10, 9), at(10, 12)), CALENDAR)
    assert on_saturday is not None and on_saturday.within_one_workday
    assert on_monday is not None and on_monday.workdays == 2 and not on_monday.within_one_workday


def test_spans_give_hours_and_working_days_per_stage_and_end_at_credited() -> None:
    d = credited(at(11, 6, 17), at(11, 9, 9))
    found = spans(d, CALENDAR, NOW)
    assert [(s.stage, s.hours, s.workdays) for s in found] == [
        ("allocation_received", 64.0, 1),
        ("credited", 0.0, 0),
    ]
    assert found[-1].left_at == at(11, 9, 9)
