"""Every figure uses the times in force: a corrected (superseded) stage time no longer counts anywhere."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.disbursement.application.queries import summary
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.projections.dashboard import stuck_cutoff, sum_before
from services.disbursement.projections.views import (
    add,
    contributions,
    counters_as_documents,
    disbursement_view,
)
from shared.contracts.cases import Enterprise
from shared.contracts.disbursement import DisbursementOpened, FundType, Stage, StageReport
from shared.workdays.calendar import SHANGHAI
from shared.workdays.seed import default_calendar
from tests.support import credit_code

CALENDAR = default_calendar()
RECEIVED = datetime(2026, 11, 24, 9, tzinfo=SHANGHAI)
NOW = datetime(2026, 11, 30, 12, tzinfo=SHANGHAI)  # a Monday: three working days after the 24th have passed


def received(n: int) -> Disbursement:
    opening = DisbursementOpened(
        disbursement_id=f"d{n}",
        enterprise=Enterprise(name=f"企业{n}", credit_code=credit_code(n)),
        source="市财政局",
        fund_type=FundType.SUBSIDY,
        allocated="500.00",
    )
    d = Disbursement.open(opening, RECEIVED)
    report(d, Stage.ALLOCATION_RECEIVED, RECEIVED)
    return d


def report(d: Disbursement, stage: Stage, at: datetime) -> None:
    decided = d.report_stage(StageReport(stage=stage, at=at), reported_by="国库科", approver=None, now=NOW)
    for event in decided:
        d.apply(event, d.version + 1)


def test_a_stage_time_corrected_to_an_earlier_day_leaves_the_money_as_stuck_as_if_reported_so() -> None:
    # The outside trial's repro: b reported documents on 11-24; a reported them on 11-27, then corrected to 11-24.
    a, b = received(1), received(2)
    report(b, Stage.DOCUMENTS_COMPLETE, RECEIVED + timedelta(hours=1))
    report(a, Stage.DOCUMENTS_COMPLETE, datetime(2026, 11, 27, 10, tzinfo=SHANGHAI))
    report(a, Stage.DOCUMENTS_COMPLETE, RECEIVED + timedelta(hours=1))

    assert a.last_change_at() == b.last_change_at() == RECEIVED + timedelta(hours=1)
    views = [disbursement_view(d, "finance", CALENDAR) for d in (a, b)]
    cutoff = stuck_cutoff(CALENDAR, date(2026, 11, 30), 3)
    assert [summary(v, cutoff).overdue for v in views] == [True, True]  # the ?overdue=true list
    totals = add(add({}, contributions(views[0])), contributions(views[1]))["totals:finance"]
    active = {path: value for path, value in totals.items() if path.startswith("active.")}
    assert active == {"active.2026-11-24.count": 2, "active.2026-11-24.outstanding_fen": 100000}
    by_day = counters_as_documents({"totals:finance": active})[0]["active"]
    assert sum_before(by_day, cutoff.date().isoformat())["count"] == 2  # the dashboard's stuck
