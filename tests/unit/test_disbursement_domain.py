"""The disbursement aggregate: every refusal is a named rule; sums are exact; late reports lose nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from services.disbursement.application.queries import timeline
from services.disbursement.domain import rules
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.domain.rules import Invalid, Refused
from shared.contracts.cases import Enterprise
from shared.contracts.disbursement import (
    DisbursementOpened,
    DisbursementPaymentCredited,
    DisbursementStageReported,
    FundType,
    PaymentReport,
    Stage,
    StageReport,
    Status,
)
from shared.workdays.calendar import SHANGHAI
from tests.support import credit_code

T0 = datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI)
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=SHANGHAI)


def opened(allocated: str = "70000000.00") -> Disbursement:
    event = DisbursementOpened(
        disbursement_id="d1",
        enterprise=Enterprise(name="格力电器(郑州)有限公司", credit_code=credit_code(1)),
        source="市财政局",
        fund_type=FundType.SUBSIDY,
        allocated=allocated,
    )
    return Disbursement.open(event, T0)


def apply(d: Disbursement, events: list[BaseModel]) -> list[BaseModel]:
    for event in events:
        d.apply(event, d.version + 1)
    return events


def stage(d: Disbursement, s: Stage, at: datetime, approver: str | None = None, **kw: str) -> list[BaseModel]:
    report = StageReport(stage=s, at=at, **kw)
    return apply(d, d.report_stage(report, reported_by="国库科", approver=approver, now=NOW))


def pay(d: Disbursement, amount: str, at: datetime, ref: str) -> list[BaseModel]:
    report = PaymentReport(amount=amount, credited_at=at, bank_reference=ref)
    return apply(d, d.record_payment(report, payment_id=ref, reported_by="工商银行", now=NOW))


def refused_rule(call: object) -> str:
    with pytest.raises(Refused) as caught:
        assert callable(call)
        call()
    return caught.value.rule


def test_full_payment_marks_the_disbursement_credited_with_the_exact_sum() -> None:
    d = opened()
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    stage(d, Stage.APPROVED, T0 + timedelta(hours=2), approver="李局长")
    stage(d, Stage.PAYMENT_INSTRUCTED, T0 + timedelta(hours=3))
    (event,) = pay(d, "70000000.00", T0 + timedelta(hours=20), "ICBC-1")

    assert isinstance(event, DisbursementPaymentCredited) and event.fully_credited
    assert d.credited == Decimal("70000000.00") and d.status is Status.CREDITED
    assert event.model_dump(mode="json")["credited_total"] == "70000000.00"


def test_a_payment_above_the_outstanding_amount_is_refused_as_overpayment() -> None:
    d = opened("100.00")
    pay(d, "60.00", T0, "r1")
    assert refused_rule(lambda: pay(d, "40.01", T0, "r2")) == rules.NO_OVERPAYMENT
    assert d.credited == Decimal("60.00") and d.status is Status.PARTIALLY_CREDITED


def test_nothing_is_accepted_after_cancellation() -> None:
    d = opened()
    stage(d, Stage.CANCELLED, T0, reason="政策调整")
    assert (
        refused_rule(lambda: stage(d, Stage.APPROVED, T0, approver="李局长"))
        == rules.NO_CHANGE_AFTER_CANCELLATION
    )
    assert refused_rule(lambda: pay(d, "1.00", T0, "r")) == rules.NO_CHANGE_AFTER_CANCELLATION
    assert d.status is Status.CANCELLED and d.outstanding == 0


def test_a_payment_on_hold_is_refused_until_resumed() -> None:
    d = opened("100.00")
    stage(d, Stage.ON_HOLD, T0, reason="材料待补")
    assert (
        refused_rule(lambda: pay(d, "1.00", T0 + timedelta(hours=1), "r")) == rules.NO_PAYMENT_WHILE_ON_HOLD
    )
    assert d.status is Status.ON_HOLD
    stage(d, Stage.RESUMED, T0 + timedelta(hours=2))
    pay(d, "100.00", T0 + timedelta(hours=3), "r")
    assert d.status is Status.CREDITED


def test_resume_without_hold_and_return_without_instruction_are_refused() -> None:
    d = opened()
    assert refused_rule(lambda: stage(d, Stage.RESUMED, T0)) == rules.RESUME_ONLY_WHAT_IS_ON_HOLD
    assert (
        refused_rule(lambda: stage(d, Stage.RETURNED_BY_BANK, T0, reason="账号有误"))
        == rules.RETURN_ONLY_AN_INSTRUCTED_PAYMENT
    )


def test_returned_by_bank_then_reissued_payment_reaches_the_account() -> None:
    d = opened("100.00")
    stage(d, Stage.PAYMENT_INSTRUCTED, T0)
    stage(d, Stage.RETURNED_BY_BANK, T0 + timedelta(hours=1), reason="户名不符")
    assert d.status is Status.RETURNED_BY_BANK
    again = T0 + timedelta(hours=1, minutes=30)
    assert refused_rule(lambda: stage(d, Stage.RETURNED_BY_BANK, again, reason="x")) == (
        rules.RETURN_ONLY_AN_INSTRUCTED_PAYMENT
    )
    (reissued,) = stage(d, Stage.PAYMENT_INSTRUCTED, T0 + timedelta(hours=2), note="更正户名后重新下达")
    assert isinstance(reissued, DisbursementStageReported) and reissued.supersedes_at is None  # a re-issue
    assert d.status is Status.PAYMENT_INSTRUCTED and not any(r.superseded for r in d.reports)
    pay(d, "100.00", T0 + timedelta(hours=3), "r")
    assert d.status is Status.CREDITED


def test_a_cancellation_or_hold_after_full_credit_is_refused() -> None:
    d = opened("1.00")
    pay(d, "1.00", T0, "r")
    assert refused_rule(lambda: stage(d, Stage.CANCELLED, T0, reason="x")) == rules.FULLY_CREDITED_IS_SETTLED
    assert refused_rule(lambda: stage(d, Stage.ON_HOLD, T0, reason="x")) == rules.FULLY_CREDITED_IS_SETTLED


def test_refusals_name_stages_in_chinese_and_english_in_words_that_read() -> None:
    d = opened("1.00")
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    with pytest.raises(Invalid) as early:
        stage(d, Stage.DOCUMENTS_COMPLETE, T0 - timedelta(hours=1))
    assert early.value.reason.startswith(
        "时间顺序不符：“材料齐全”的时间早于“资金到区” / 'documents_complete' at"
    )
    assert "would be before 'allocation_received' at 2026-10-09T09:00:00+08:00" in early.value.reason
    pay(d, "1.00", T0 + timedelta(hours=1), "r")
    with pytest.raises(Refused) as settled:
        stage(d, Stage.CANCELLED, T0 + timedelta(hours=2), reason="x")
    assert settled.value.reason == (
        "已全额到账，不能再报告“已撤销” / fully credited: a report of stage 'cancelled' no longer applies"
    )


def test_the_same_bank_reference_is_credited_once() -> None:
    d = opened("100.00")
    pay(d, "10.00", T0, "ICBC-7")
    assert refused_rule(lambda: pay(d, "10.00", T0, "ICBC-7")) == rules.ONE_CREDIT_PER_BANK_REFERENCE


def test_a_stage_time_in_the_future_is_refused() -> None:
    d = opened()
    assert refused_rule(lambda: stage(d, Stage.DOCUMENTS_COMPLETE, NOW + timedelta(hours=1))) == (
        rules.NO_TIME_IN_THE_FUTURE
    )


def test_credited_before_instruction_is_accepted_and_a_late_instruction_keeps_the_status() -> None:
    d = opened("100.00")
    (payment,) = pay(d, "100.00", T0 + timedelta(hours=5), "r")
    assert isinstance(payment, DisbursementPaymentCredited) and payment.before_instruction
    (late,) = stage(d, Stage.PAYMENT_INSTRUCTED, T0 + timedelta(hours=1))
    assert isinstance(late, DisbursementStageReported) and late.late
    assert d.status is Status.CREDITED
    assert d.stage_time(Stage.PAYMENT_INSTRUCTED) == T0 + timedelta(hours=1)


def test_a_stage_reported_twice_with_another_time_is_corrected_and_both_reports_are_kept() -> None:
    d = opened()
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    (second,) = stage(d, Stage.ALLOCATION_RECEIVED, T0 + timedelta(hours=1))
    assert isinstance(second, DisbursementStageReported) and second.supersedes_at == T0
    assert d.stage_time(Stage.ALLOCATION_RECEIVED) == T0 + timedelta(hours=1)
    assert [r.superseded for r in d.reports] == [True, False]


def test_the_same_stage_at_the_same_time_records_nothing() -> None:
    d = opened()
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    assert stage(d, Stage.ALLOCATION_RECEIVED, T0) == []
    assert len(d.reports) == 1


def test_each_approver_is_recorded_and_the_stage_counts_from_the_first() -> None:
    d = opened()
    stage(d, Stage.APPROVED, T0 + timedelta(hours=2), approver="张科长")
    stage(d, Stage.APPROVED, T0 + timedelta(hours=1), approver="李局长")
    assert sorted(r.event.approver or "" for r in d.reports) == ["张科长", "李局长"]
    assert d.stage_time(Stage.APPROVED) == T0 + timedelta(hours=1)


def test_progress_while_on_hold_is_refused_but_a_late_report_from_before_the_hold_is_kept() -> None:
    d = opened()
    stage(d, Stage.ON_HOLD, T0 + timedelta(hours=5), reason="待核实")
    assert refused_rule(lambda: stage(d, Stage.DOCUMENTS_COMPLETE, T0 + timedelta(hours=6))) == (
        rules.NO_PROGRESS_WHILE_ON_HOLD
    )
    stage(d, Stage.DOCUMENTS_COMPLETE, T0 + timedelta(hours=1))
    assert d.status is Status.ON_HOLD


cents = st.integers(min_value=1, max_value=10_000_000_00)
small = st.integers(min_value=1, max_value=50_000_00)


# 200 examples of up to 60 payments each: thousands of random payments against the hand-kept ledger.
@settings(max_examples=200, deadline=None)
@given(allocated=cents, payments=st.lists(st.one_of(cents, small), min_size=1, max_size=60))
def test_credited_sum_matches_a_hand_kept_ledger_and_never_exceeds_the_allocation(
    allocated: int, payments: list[int]
) -> None:
    d = opened(f"{Decimal(allocated) / 100:.2f}")
    ledger = 0  # fen, kept by hand as integers
    for i, amount in enumerate(payments):
        yuan = f"{Decimal(amount) / 100:.2f}"
        if ledger + amount > allocated:
            assert refused_rule(lambda y=yuan, r=f"r{i}": pay(d, y, T0, r)) == rules.NO_OVERPAYMENT
        else:
            (event,) = pay(d, yuan, T0, f"r{i}")
            ledger += amount
            assert isinstance(event, DisbursementPaymentCredited)
            assert event.credited_total == Decimal(ledger) / 100
            assert event.fully_credited == (ledger == allocated)
        assert d.credited == Decimal(ledger) / 100 <= d.allocated
        assert d.outstanding == Decimal(allocated - ledger) / 100
    assert (d.status is Status.CREDITED) == (ledger == allocated)


def test_each_event_says_where_the_disbursement_stands_after_it_for_consumers_without_rules() -> None:
    d = opened("100.00")
    (received,) = stage(d, Stage.ALLOCATION_RECEIVED, T0)
    (partial,) = pay(d, "40.00", T0 + timedelta(hours=2), "r1")
    (full,) = pay(d, "60.00", T0 + timedelta(hours=5), "r2")
    assert isinstance(received, DisbursementStageReported) and received.status is Status.ALLOCATION_RECEIVED
    assert isinstance(partial, DisbursementPaymentCredited) and partial.status is Status.PARTIALLY_CREDITED
    assert isinstance(full, DisbursementPaymentCredited) and full.status is Status.CREDITED
    assert full.allocation_received_at == T0 and full.fully_credited_at == T0 + timedelta(hours=5)
    assert full.model_dump(mode="json")["credited_total"] == "100.00"


def test_a_payment_credited_before_the_allocation_arrived_is_invalid_and_after_it_is_credited() -> None:
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    with pytest.raises(Invalid) as caught:
        pay(d, "100.00", T0 - timedelta(days=7), "E1")
    assert (
        caught.value.rule == rules.STAGES_FOLLOW_THEIR_ORDER and "allocation_received" in caught.value.reason
    )
    pay(d, "100.00", T0 + timedelta(hours=2), "E1")
    assert d.status is Status.CREDITED


@pytest.mark.parametrize(
    ("reported", "at"),
    [
        (Stage.DOCUMENTS_COMPLETE, T0 - timedelta(hours=1)),  # before the allocation it follows
        (Stage.ALLOCATION_RECEIVED, T0 + timedelta(hours=3)),  # a correction after the approval that follows
        (Stage.CANCELLED, T0 + timedelta(hours=1)),  # before the approval and payment it would undo
    ],
)
def test_a_stage_dated_out_of_the_progressions_order_is_invalid(reported: Stage, at: datetime) -> None:
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    stage(d, Stage.APPROVED, T0 + timedelta(hours=2), approver="局长")
    pay(d, "10.00", T0 + timedelta(hours=5), "r")
    before = d.version
    with pytest.raises(Invalid) as caught:
        stage(d, reported, at, reason="x") if reported is Stage.CANCELLED else stage(d, reported, at)
    assert caught.value.rule == rules.STAGES_FOLLOW_THEIR_ORDER and d.version == before


def test_money_credited_before_the_instruction_is_accepted_whichever_report_comes_first() -> None:
    # README: the bank is the authority on what reached the account; only the allocation's arrival bounds it.
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    pay(d, "10.00", T0 + timedelta(hours=2), "r1")
    stage(d, Stage.PAYMENT_INSTRUCTED, T0 + timedelta(hours=3))  # reported after the money, dated after it
    pay(d, "10.00", T0 + timedelta(hours=1), "r2")  # credited before the instruction already known
    assert [p.event.bank_reference for p in d.payments] == ["r1", "r2"]
    with pytest.raises(Invalid):
        pay(d, "10.00", T0 - timedelta(hours=1), "r3")  # before the allocation arrived


def test_a_late_stage_dated_in_its_place_is_accepted_and_a_return_before_the_instruction_is_not() -> None:
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    stage(d, Stage.PAYMENT_INSTRUCTED, T0 + timedelta(hours=4))
    (late,) = stage(d, Stage.DOCUMENTS_COMPLETE, T0 + timedelta(hours=1))
    assert isinstance(late, DisbursementStageReported) and late.late
    stage(d, Stage.ALLOCATION_RECEIVED, T0 - timedelta(hours=1))  # a correction to an earlier time
    with pytest.raises(Invalid):
        stage(d, Stage.RETURNED_BY_BANK, T0 + timedelta(hours=3), reason="账号有误")
    stage(d, Stage.RETURNED_BY_BANK, T0 + timedelta(hours=5), reason="账号有误")
    assert d.status is Status.RETURNED_BY_BANK


def test_the_timeline_marks_money_credited_before_the_instruction_whichever_was_reported_first() -> None:
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, T0)
    stage(d, Stage.PAYMENT_INSTRUCTED, T0 + timedelta(hours=3))
    pay(d, "10.00", T0 + timedelta(hours=1), "early")  # reported after the instruction, credited before it
    pay(d, "10.00", T0 + timedelta(hours=4), "after")
    late = {e.bank_reference: e.late for e in timeline(d) if e.kind == "payment"}
    assert late == {"early": True, "after": False}
