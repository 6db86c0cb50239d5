"""Arrears under the SME payment regulation: due in 30 calendar days by default, at most 60 agreed.

Delivered on a Monday whose 30- and 60-day terms end on working days: no day off moves them here
(tests/unit/test_arrears_due_dates.py moves them).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.disbursement.domain import rules
from services.disbursement.domain.arrears import Arrears, record_arrears
from services.disbursement.domain.rules import Invalid, Refused
from shared.contracts.cases import Enterprise
from shared.contracts.disbursement import OpenArrearsRequest, RepaymentReport
from shared.workdays.seed import default_calendar
from tests.support import credit_code

DELIVERED = date(2026, 8, 31)  # + 30: Wednesday 2026-09-30; + 60: Friday 2026-10-30
TODAY = date(2026, 12, 31)


def request(term: int | None = None, owed: str = "31800000.00") -> OpenArrearsRequest:
    body: dict[str, object] = {
        "enterprise": Enterprise(name="北控水务(郑州)有限公司", credit_code=credit_code(2)),
        "debtor": "高新区建设局",
        "purpose": "污水处理厂运维服务",
        "amount_owed": owed,
        "delivered_on": DELIVERED,
    }
    if term is not None:
        body["agreed_term_days"] = term
    return OpenArrearsRequest.model_validate(body)


def arrears(term: int | None = None, owed: str = "31800000.00") -> Arrears:
    return Arrears(record_arrears("a1", request(term, owed), today=TODAY, calendar=default_calendar()))


def repay(a: Arrears, amount: str, on: date) -> None:
    for event in a.repay(RepaymentReport(amount=amount, repaid_on=on), today=TODAY):
        a.apply(event, a.version + 1)


def test_default_term_is_30_days_and_the_31st_day_is_overdue() -> None:
    a = arrears()
    assert a.recorded.agreed_term_days == 30 and a.recorded.due_on == DELIVERED + timedelta(days=30)
    assert not a.is_overdue(DELIVERED + timedelta(days=30))
    assert a.overdue_days(DELIVERED + timedelta(days=31)) == 1


def test_an_agreed_60_day_term_is_overdue_only_after_60_days() -> None:
    a = arrears(60)
    assert not a.is_overdue(DELIVERED + timedelta(days=60))
    assert a.is_overdue(DELIVERED + timedelta(days=61))
    assert a.overdue_days(DELIVERED + timedelta(days=70)) == 10


def test_a_term_longer_than_60_days_is_invalid() -> None:
    with pytest.raises(ValidationError, match="60"):
        request(61)


def test_repayments_reduce_what_is_owed_and_settled_arrears_are_never_overdue() -> None:
    a = arrears(owed="31800000.00")
    repay(a, "10000000.00", DELIVERED + timedelta(days=10))
    assert a.outstanding == Decimal("21800000.00") and a.is_overdue(DELIVERED + timedelta(days=40))
    repay(a, "21800000.00", DELIVERED + timedelta(days=45))
    assert a.outstanding == 0 and not a.is_overdue(DELIVERED + timedelta(days=400))
    assert a.days_late() == 15


def test_a_repayment_above_what_is_owed_is_refused() -> None:
    a = arrears(owed="100.00")
    repay(a, "99.99", DELIVERED)
    with pytest.raises(Refused) as caught:
        repay(a, "0.02", DELIVERED)
    assert caught.value.rule == rules.NO_REPAYMENT_BEYOND_OUTSTANDING
    assert a.outstanding == Decimal("0.01")


def test_a_repayment_before_the_delivery_or_after_today_is_invalid() -> None:
    a = arrears()
    for day, rule in [
        (DELIVERED - timedelta(days=1), rules.NO_REPAYMENT_BEFORE_DELIVERY),
        (TODAY + timedelta(days=1), rules.NO_DAY_IN_THE_FUTURE),
    ]:
        with pytest.raises(Invalid) as caught:
            repay(a, "1.00", day)
        assert caught.value.rule == rule
    repay(a, "1.00", DELIVERED)
    repay(a, "1.00", TODAY)
    assert len(a.repayments) == 2


def test_a_delivery_after_today_is_invalid() -> None:
    with pytest.raises(Invalid) as caught:
        record_arrears("a1", request(), today=DELIVERED - timedelta(days=1), calendar=default_calendar())
    assert caught.value.rule == rules.NO_DAY_IN_THE_FUTURE
    recorded = record_arrears("a1", request(), today=DELIVERED, calendar=default_calendar())
    assert recorded.delivered_on == DELIVERED
