"""Own times agree with the progression: the further-approver exception and cancellations, as the outside
trial found them (a single approver re-dating the approval after the money; a cancellation before a hold)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.disbursement.domain import rules
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.domain.rules import Invalid
from services.disbursement.domain.timing import milestones
from shared.contracts.disbursement import DisbursementStageReported, Stage, Status
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_disbursement_domain import opened, pay, stage

DAY = datetime(2026, 11, 20, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def approved_instructed_and_partly_paid(approver: str = "周建国") -> Disbursement:
    """Received 08:00, approved 09:00 by one approver, instructed 10:00, half credited 11:00."""
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, at(8))
    stage(d, Stage.APPROVED, at(9), approver=approver)
    stage(d, Stage.PAYMENT_INSTRUCTED, at(10))
    pay(d, "50.00", at(11), "ICBC-1")
    return d


def refused_as_out_of_order(call: object) -> Invalid:
    with pytest.raises(Invalid) as caught:
        assert callable(call)
        call()
    assert caught.value.rule == rules.STAGES_FOLLOW_THEIR_ORDER
    return caught.value


def test_the_only_approver_re_dating_the_approval_after_the_instruction_is_invalid() -> None:
    d = approved_instructed_and_partly_paid()
    before = d.version
    refusal = refused_as_out_of_order(lambda: stage(d, Stage.APPROVED, at(12), approver="周建国"))
    assert "'approved'" in refusal.reason and "'payment_instructed'" in refusal.reason
    assert d.version == before and d.stage_time(Stage.APPROVED) == at(9)
    assert [name for name, _ in milestones(d)][-1] == Status.PARTIALLY_CREDITED.value


def test_a_further_approver_may_still_sign_after_the_instruction() -> None:
    d = approved_instructed_and_partly_paid()
    (event,) = stage(d, Stage.APPROVED, at(12), approver="李书记")
    assert isinstance(event, DisbursementStageReported) and event.supersedes_at is None
    assert d.stage_time(Stage.APPROVED) == at(9)  # the stage stays entered at the first approver


def test_the_only_approver_may_correct_the_approval_within_its_place() -> None:
    d = approved_instructed_and_partly_paid()
    (event,) = stage(d, Stage.APPROVED, at(9, 30), approver="周建国")
    assert isinstance(event, DisbursementStageReported) and event.supersedes_at == at(9)
    assert d.stage_time(Stage.APPROVED) == at(9, 30)


def test_a_further_approvers_correction_that_leaves_the_first_approval_in_place_is_accepted() -> None:
    # The same state as if the further approver had signed at the new time in the first place.
    d = approved_instructed_and_partly_paid()
    stage(d, Stage.APPROVED, at(12), approver="李书记")
    (event,) = stage(d, Stage.APPROVED, at(12, 30), approver="李书记")
    assert isinstance(event, DisbursementStageReported) and event.supersedes_at == at(12)
    assert d.stage_time(Stage.APPROVED) == at(9)


def test_the_first_approver_re_dating_past_the_instruction_is_invalid_even_with_a_further_approver() -> None:
    # The stage would then be entered at the further approver's 12:00, after the instruction at 10:00.
    d = approved_instructed_and_partly_paid()
    stage(d, Stage.APPROVED, at(12), approver="李书记")
    refused_as_out_of_order(lambda: stage(d, Stage.APPROVED, at(13), approver="周建国"))
    assert d.stage_time(Stage.APPROVED) == at(9)


@pytest.mark.parametrize(
    ("reported", "when", "kw"),
    [
        (Stage.ON_HOLD, at(10), {"reason": "待核实"}),
        (Stage.RESUMED, at(10), {}),
        (Stage.RETURNED_BY_BANK, at(10), {"reason": "户名不符"}),
    ],
)
def test_a_cancellation_dated_before_a_hold_resumption_or_return_already_reported_is_invalid(
    reported: Stage, when: datetime, kw: dict[str, str]
) -> None:
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, at(8))
    stage(d, Stage.PAYMENT_INSTRUCTED, at(9))
    if reported is Stage.RESUMED:
        stage(d, Stage.ON_HOLD, at(9, 30), reason="待核实")
    stage(d, reported, when, **kw)
    before = d.version
    refusal = refused_as_out_of_order(lambda: stage(d, Stage.CANCELLED, at(9, 45), reason="撤销"))
    assert f"'{reported.value}'" in refusal.reason and d.version == before
    stage(d, Stage.CANCELLED, at(10, 30), reason="撤销")
    assert d.status is Status.CANCELLED


def test_a_cancellation_is_compared_with_the_times_in_force_not_with_corrected_ones() -> None:
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, at(8))
    stage(d, Stage.DOCUMENTS_COMPLETE, at(12))
    stage(d, Stage.DOCUMENTS_COMPLETE, at(9))  # corrected: complete at 09:00
    stage(d, Stage.CANCELLED, at(10), reason="撤销")
    assert d.status is Status.CANCELLED
