"""Read-model documents and dashboard counters: live differences add up to what a rebuild sums."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook

from services.disbursement.application.report import YUAN, workbook
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.projections.dashboard import nearest_rank, stuck_cutoff, sum_before
from services.disbursement.projections.views import (
    Counters,
    add,
    contributions,
    counters_as_documents,
    delta,
    disbursement_view,
)
from shared.contracts.cases import Enterprise
from shared.contracts.disbursement import DisbursementOpened, FundType, PaymentReport, Stage, StageReport
from shared.workdays.calendar import SHANGHAI
from shared.workdays.seed import default_calendar
from tests.support import credit_code

CALENDAR = default_calendar()
T0 = datetime(2026, 11, 6, 17, tzinfo=SHANGHAI)
NOW = datetime(2026, 11, 27, 12, tzinfo=SHANGHAI)


def opened(n: int, allocated: str) -> Disbursement:
    event = DisbursementOpened(
        disbursement_id=f"d{n}",
        enterprise=Enterprise(name=f"企业{n}", credit_code=credit_code(n)),
        source="市财政局",
        fund_type=FundType.SUBSIDY,
        allocated=allocated,
    )
    return Disbursement.open(event, T0)


def steps(n: int) -> list[Disbursement]:
    """Snapshots of one disbursement after each of its events."""
    d = opened(n, "300.00")
    snapshots = [d]
    decisions = [
        lambda: d.report_stage(
            StageReport(stage=Stage.ALLOCATION_RECEIVED, at=T0), reported_by="x", approver=None, now=NOW
        ),
        lambda: d.record_payment(
            PaymentReport(amount="100.00", credited_at=T0 + timedelta(hours=n), bank_reference="a"),
            payment_id="p1",
            reported_by="bank",
            now=NOW,
        ),
        lambda: d.record_payment(
            PaymentReport(amount="200.00", credited_at=T0 + timedelta(hours=10 * n), bank_reference="b"),
            payment_id="p2",
            reported_by="bank",
            now=NOW,
        ),
    ]
    for decide in decisions:
        for event in decide():
            d.apply(event, d.version + 1)
        copy = opened(n, "300.00")
        copy.reports, copy.payments, copy.version = list(d.reports), list(d.payments), d.version
        snapshots.append(copy)
    return snapshots


def test_live_differences_equal_the_rebuilds_sum_of_final_contributions() -> None:
    live: Counters = {}
    finals: Counters = {}
    for n in (1, 2, 3):
        views = [disbursement_view(s, "finance", CALENDAR) for s in steps(n)]
        previous: dict[str, Any] | None = None
        for view in views:
            add(live, delta(previous, view))
            previous = view
        add(finals, contributions(views[-1]))

    def nonzero(counters: Counters) -> dict[str, dict[str, int]]:
        return {k: {p: v for p, v in paths.items() if v} for k, paths in counters.items()}

    assert nonzero(live) == nonzero(finals)
    totals = finals["totals:finance"]
    assert totals["credited_fen"] == 90000 and totals["by_status.credited.count"] == 3
    assert totals["tta.credited"] == 3
    assert sum(paths.get("tta.credited", 0) for k, paths in live.items() if k.startswith("day:")) == 3


def test_a_view_keeps_sums_in_fen_and_time_to_account_in_seconds() -> None:
    view = disbursement_view(steps(1)[-1], "finance", CALENDAR)
    assert view["allocated_fen"] == view["credited_fen"] == 30000 and view["outstanding_fen"] == 0
    assert view["tta_seconds"] == 10 * 3600 and view["within_one_workday"] is True  # Fri 17:00 -> Sat 03:00
    assert view["credited_day"] == "2026-11-07"


def test_counters_become_nested_documents_like_inc_builds_them() -> None:
    [doc] = counters_as_documents({"totals:finance": {"by_status.credited.count": 2, "allocated_fen": 5}})
    assert doc == {
        "_id": "totals:finance",
        "kind": "totals",
        "bureau": "finance",
        "by_status": {"credited": {"count": 2}},
        "allocated_fen": 5,
    }


def test_nearest_rank_percentiles() -> None:
    histogram = {60: 5, 120: 4, 600: 1}
    assert nearest_rank(histogram, 0.5) == 60 and nearest_rank(histogram, 0.9) == 120
    assert nearest_rank({}, 0.5) is None


def test_stuck_cutoff_counts_working_days_back_over_a_weekend() -> None:
    # Monday 2026-11-09: three working days back are Mon, Fri, Thu; a change on Wed 4 Nov or before is stuck.
    cutoff = stuck_cutoff(CALENDAR, datetime(2026, 11, 9).date(), 3)
    assert cutoff == datetime(2026, 11, 5, tzinfo=SHANGHAI)


def test_the_workbook_has_chinese_headers_and_amounts_as_numbers_in_yuan_format() -> None:
    view = disbursement_view(steps(1)[-1], "finance", CALENDAR)
    figures: dict[str, Any] = {
        "as_of": NOW,
        "period_from": None,
        "period_to": None,
        "disbursements": 1,
        "allocated": Decimal("300.00"),
        "credited": Decimal("300.00"),
        "outstanding": Decimal("0.00"),
        "by_status": [
            {"status": "credited", "count": 1, "allocated": Decimal("300.00"), "credited": Decimal("300.00")}
        ],
        "time_to_account": {
            "credited": 1,
            "median_hours": 10.0,
            "p90_hours": 10.0,
            "within_one_workday": 0,
            "share_within_one_workday": "0.0000",
        },
        "stuck_after_workdays": 3,
        "stuck": {"count": 0, "outstanding": Decimal("0.00")},
        "arrears": {
            "count": 0,
            "owed": Decimal("0.00"),
            "repaid": Decimal("0.00"),
            "outstanding": Decimal("0.00"),
            "open": 0,
            "overdue": {"count": 0, "outstanding": Decimal("0.00")},
        },
    }
    book = load_workbook(io.BytesIO(workbook(figures, [view], "财政金融局")))
    summary, listing = book["汇总"], book["拨付明细"]
    assert summary["A1"].value == "财政金融局资金拨付情况表"
    assert [c.value for c in listing[1]][:6] == [
        "拨付编号",
        "企业名称",
        "统一社会信用代码",
        "资金来源",
        "资金类型",
        "拨付金额（元）",
    ]
    amount = listing.cell(2, 6)
    assert amount.value == 300 and isinstance(amount.value, int | float) and amount.number_format == YUAN


def test_active_money_is_counted_by_its_last_change_day_and_stuck_sums_the_days_before_the_cutoff() -> None:
    d = opened(9, "500.00")
    for event in d.report_stage(
        StageReport(stage=Stage.ALLOCATION_RECEIVED, at=T0), reported_by="x", approver=None, now=NOW
    ):
        d.apply(event, d.version + 1)
    totals = contributions(disbursement_view(d, "finance", CALENDAR))["totals:finance"]
    assert totals["active.2026-11-06.count"] == 1 and totals["active.2026-11-06.outstanding_fen"] == 50000
    by_day = counters_as_documents({"totals:finance": totals})[0]["active"]
    assert sum_before(by_day, "2026-11-07") == {"count": 1, "outstanding": Decimal("500.00")}
    assert sum_before(by_day, "2026-11-06") == {"count": 0, "outstanding": Decimal("0.00")}
