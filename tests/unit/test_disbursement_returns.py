"""Returns by the bank: the latest instruction is returned while it is outstanding, money credited or not;
the status, views, dashboard counters and a replay of the recorded events agree after each step."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.disbursement.adapters.bank_references import MemoryBankReferences
from services.disbursement.application import commands
from services.disbursement.application.commands import Context
from services.disbursement.domain import rules
from services.disbursement.domain.rules import Invalid, Refused
from services.disbursement.domain.streams import disbursement_stream, fold_disbursement
from services.disbursement.projections.views import Counters, add, contributions, delta, disbursement_view
from shared.contracts.disbursement import (
    DisbursementStageReported,
    OpenDisbursementRequest,
    PaymentReport,
    Stage,
    StageReport,
    Status,
)
from shared.contracts.envelope import Actor
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from shared.workdays.seed import default_calendar
from tests.support import credit_code
from tests.unit.test_disbursement_domain import opened, pay, stage

CALENDAR = default_calendar()
DAY = datetime(2026, 11, 20, tzinfo=SHANGHAI)  # the outside tester's repro: 2026-11-20, Beijing time
NOW = datetime(2026, 11, 27, 12, tzinfo=SHANGHAI)


def at(hour: int) -> datetime:
    return DAY + timedelta(hours=hour)


def refused(call: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        call()
    return caught.value


def test_a_partly_credited_disbursement_has_its_instruction_for_the_rest_returned_and_reissued() -> None:
    d = opened("100.00")
    pay(d, "1.00", at(8), "B1")
    stage(d, Stage.PAYMENT_INSTRUCTED, at(10))
    assert d.status is Status.PARTIALLY_CREDITED
    stage(d, Stage.RETURNED_BY_BANK, at(12), reason="户名不符")  # refused before the fix
    assert d.status is Status.RETURNED_BY_BANK  # ranked above partially_credited
    (reissued,) = stage(d, Stage.PAYMENT_INSTRUCTED, at(14), note="更正户名后重新下达")
    assert isinstance(reissued, DisbursementStageReported) and reissued.supersedes_at is None  # a re-issue
    assert not any(r.superseded for r in d.reports)
    assert d.status is Status.PARTIALLY_CREDITED
    stage(d, Stage.RETURNED_BY_BANK, at(15), reason="账户冻结")  # the re-issue may be returned in turn
    stage(d, Stage.PAYMENT_INSTRUCTED, at(16))
    pay(d, "99.00", at(17), "B2")
    assert d.status is Status.CREDITED and d.outstanding == 0


def test_a_return_with_no_instruction_since_the_last_return_is_refused_naming_that_return() -> None:
    d = opened("100.00")
    pay(d, "1.00", at(8), "B1")
    stage(d, Stage.PAYMENT_INSTRUCTED, at(10))
    stage(d, Stage.RETURNED_BY_BANK, at(12), reason="户名不符")
    again = refused(lambda: stage(d, Stage.RETURNED_BY_BANK, at(13), reason="x"))
    assert again.rule == rules.RETURN_ONLY_AN_INSTRUCTED_PAYMENT
    assert "没有待到账的支付指令" in again.reason and "re-issued after the return at" in again.reason
    # The same return again (same time) is a repeat, not a second return: nothing to record, nothing refused.
    assert stage(d, Stage.RETURNED_BY_BANK, at(12), reason="户名不符") == []


def test_money_credited_without_any_instruction_cannot_be_returned() -> None:
    d = opened("100.00")
    pay(d, "1.00", at(8), "B1")
    nothing = refused(lambda: stage(d, Stage.RETURNED_BY_BANK, at(9), reason="x"))
    assert nothing.rule == rules.RETURN_ONLY_AN_INSTRUCTED_PAYMENT and "none was reported" in nothing.reason


def test_a_fully_credited_disbursement_refuses_a_return_as_settled_in_words_that_read() -> None:
    d = opened("100.00")
    pay(d, "1.00", at(8), "B1")
    stage(d, Stage.PAYMENT_INSTRUCTED, at(10))
    pay(d, "99.00", at(11), "B2")
    settled = refused(lambda: stage(d, Stage.RETURNED_BY_BANK, at(12), reason="x"))
    assert settled.rule == rules.FULLY_CREDITED_IS_SETTLED
    assert settled.reason == (
        "已全额到账，不能再报告“银行退回” / fully credited: a report of stage 'returned_by_bank' no longer applies"
    )


def test_a_return_dated_before_the_reissued_instruction_stays_invalid() -> None:
    d = opened("100.00")
    pay(d, "1.00", at(8), "B1")
    stage(d, Stage.PAYMENT_INSTRUCTED, at(10))
    stage(d, Stage.RETURNED_BY_BANK, at(12), reason="户名不符")
    stage(d, Stage.PAYMENT_INSTRUCTED, at(14))
    with pytest.raises(Invalid):
        stage(d, Stage.RETURNED_BY_BANK, at(13), reason="x")


def test_a_return_waits_for_the_end_of_a_hold_as_a_payment_does() -> None:
    d = opened("100.00")
    pay(d, "1.00", at(8), "B1")
    stage(d, Stage.PAYMENT_INSTRUCTED, at(10))
    stage(d, Stage.ON_HOLD, at(11), reason="材料待补")
    held = refused(lambda: stage(d, Stage.RETURNED_BY_BANK, at(12), reason="x"))
    assert held.rule == rules.RETURN_ONLY_AN_INSTRUCTED_PAYMENT and "on hold since" in held.reason
    stage(d, Stage.RESUMED, at(13))
    stage(d, Stage.RETURNED_BY_BANK, at(14), reason="户名不符")
    assert d.status is Status.RETURNED_BY_BANK


def nonzero(paths: dict[str, int]) -> dict[str, int]:
    return {path: value for path, value in paths.items() if value}


def context(n: int) -> Context:
    return Context(
        bureau="finance",
        actor=Actor(kind="integration", id="treasury", bureau="finance"),
        command_id=f"c-{n}",
        correlation_id=uuid.uuid4(),
        reported_by="国库集中支付系统",
        now=NOW,
    )


async def test_views_dashboard_and_a_replay_agree_on_each_status_of_a_returned_remainder() -> None:
    recorder = InMemoryRecorder()
    request = OpenDisbursementRequest.model_validate(
        {
            "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": credit_code(1)},
            "source": "市财政局",
            "fund_type": "subsidy",
            "allocated": "100.00",
        }
    )
    disbursement_id = (await commands.open_disbursement(request, context(0), recorder=recorder)).id
    steps: list[tuple[Any, Status]] = [
        (PaymentReport(amount="1.00", credited_at=at(8), bank_reference="B1"), Status.PARTIALLY_CREDITED),
        (StageReport(stage=Stage.PAYMENT_INSTRUCTED, at=at(10)), Status.PARTIALLY_CREDITED),
        (StageReport(stage=Stage.RETURNED_BY_BANK, at=at(12), reason="户名不符"), Status.RETURNED_BY_BANK),
        (StageReport(stage=Stage.PAYMENT_INSTRUCTED, at=at(14)), Status.PARTIALLY_CREDITED),
        (PaymentReport(amount="99.00", credited_at=at(17), bank_reference="B2"), Status.CREDITED),
    ]
    live: Counters = {}
    previous = None
    for n, (report, status) in enumerate(steps, start=1):
        if isinstance(report, PaymentReport):
            await commands.record_payment(
                disbursement_id, report, context(n), recorder=recorder, references=MemoryBankReferences()
            )
        else:
            await commands.report_stage(disbursement_id, report, context(n), recorder=recorder)
        stream = await recorder.read_stream(disbursement_stream(disbursement_id))
        assert stream[-1].data["status"] == status.value  # what consumers (the case view) read
        folded = fold_disbursement(stream)
        assert folded is not None and folded.status is status
        view = disbursement_view(folded, "finance", CALENDAR)
        assert view["status"] == status.value
        add(live, delta(previous, view))  # the live consumer applies differences
        totals = live["totals:finance"]
        by_status = {
            k: v for k, v in nonzero(totals).items() if k.startswith("by_status.") and k.endswith("count")
        }
        assert totals["disbursements"] == 1 and by_status == {f"by_status.{status.value}.count": 1}
        previous = view
    replayed = fold_disbursement(await recorder.read_stream(disbursement_stream(disbursement_id)))
    assert replayed is not None
    rebuilt = contributions(disbursement_view(replayed, "finance", CALENDAR))
    assert {k: nonzero(paths) for k, paths in live.items()} == {k: nonzero(p) for k, p in rebuilt.items()}


def test_an_instruction_for_the_remainder_is_not_late_one_dated_before_money_credited_is() -> None:
    d = opened("100.00")
    pay(d, "1.00", at(8), "r-first")
    (remainder,) = stage(d, Stage.PAYMENT_INSTRUCTED, at(10))  # after the partial payment, in its order
    (returned,) = stage(d, Stage.RETURNED_BY_BANK, at(12), reason="账号有误")
    (reissued,) = stage(d, Stage.PAYMENT_INSTRUCTED, at(14))
    assert isinstance(remainder, DisbursementStageReported) and not remainder.late
    assert isinstance(returned, DisbursementStageReported) and not returned.late
    assert isinstance(reissued, DisbursementStageReported) and not reissued.late

    e = opened("100.00")
    pay(e, "1.00", at(8), "r-early")
    (late,) = stage(e, Stage.PAYMENT_INSTRUCTED, at(7))  # reported after the money it paid
    assert isinstance(late, DisbursementStageReported) and late.late
