"""Instruction cycles: returns by the bank cut the instructions into cycles, and a report of an instruction
corrects the one of its own cycle (by where its own time falls), never a re-issue of another cycle."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.disbursement.application.queries import timeline
from services.disbursement.domain import rules
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.domain.rules import Invalid, Refused
from services.disbursement.domain.timing import spans
from shared.contracts.disbursement import DisbursementStageReported, Stage, Status
from shared.workdays.calendar import SHANGHAI
from shared.workdays.seed import default_calendar
from tests.unit.test_disbursement_domain import opened, pay, stage

CALENDAR = default_calendar()
DAY = datetime(2026, 11, 20, tzinfo=SHANGHAI)  # the outside tester's repro, Beijing time
NOW = datetime(2026, 11, 20, 12, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def returned_and_reissued() -> Disbursement:
    """Instructed 09:00, returned 09:30, re-issued 10:00 (the allocation arrived at 08:00)."""
    d = opened("100.00")
    stage(d, Stage.ALLOCATION_RECEIVED, at(8))
    stage(d, Stage.PAYMENT_INSTRUCTED, at(9))
    stage(d, Stage.RETURNED_BY_BANK, at(9, 30), reason="户名不符")
    stage(d, Stage.PAYMENT_INSTRUCTED, at(10))
    assert d.status is Status.PAYMENT_INSTRUCTED
    return d


def reported(d: Disbursement, s: Stage, when: datetime, **kw: str) -> DisbursementStageReported:
    (event,) = stage(d, s, when, **kw)
    assert isinstance(event, DisbursementStageReported)
    return event


def superseded(d: Disbursement) -> list[tuple[str, datetime, bool]]:
    return [(r.event.stage.value, r.event.at, r.superseded) for r in d.reports]


def replayed(d: Disbursement) -> Disbursement:
    """The same events applied to a fresh aggregate, as a fold of the stream does."""
    again = Disbursement.open(d.opened, d.opened_at)
    for n, r in enumerate(d.reports, start=2):
        again.apply(r.event, n)
    return again


def test_a_backdated_instruction_corrects_the_first_cycle_and_the_reissue_stays_returnable() -> None:
    d = returned_and_reissued()
    late = reported(d, Stage.PAYMENT_INSTRUCTED, at(9, 15))
    assert late.supersedes_at == at(9)  # was 10:00: the re-issue was taken for the instruction corrected
    assert superseded(d) == [
        ("allocation_received", at(8), False),
        ("payment_instructed", at(9), True),
        ("returned_by_bank", at(9, 30), False),
        ("payment_instructed", at(10), False),
        ("payment_instructed", at(9, 15), False),
    ]
    assert d.status is Status.PAYMENT_INSTRUCTED and late.status is Status.PAYMENT_INSTRUCTED
    assert d.instruction_outstanding
    # The bank's real return of the 10:00 re-issue is accepted (was 409 ReturnOnlyAnInstructedPayment).
    reported(d, Stage.RETURNED_BY_BANK, at(10, 30), reason="账户冻结")
    assert d.status is Status.RETURNED_BY_BANK
    assert reported(d, Stage.PAYMENT_INSTRUCTED, at(10, 40)).supersedes_at is None  # a re-issue again
    assert d.status is Status.PAYMENT_INSTRUCTED
    assert superseded(replayed(d)) == superseded(d)


def test_a_correction_of_the_latest_reissue_supersedes_only_it_and_leaves_the_stage_entry_alone() -> None:
    d = returned_and_reissued()
    before = spans(d, CALENDAR, NOW)
    correction = reported(d, Stage.PAYMENT_INSTRUCTED, at(10, 10))
    assert correction.supersedes_at == at(10)
    assert [s for _, _, s in superseded(d)] == [False, False, False, True, False]  # 09:00 stays in force
    assert d.status is Status.PAYMENT_INSTRUCTED and d.instruction_outstanding
    # The stage is entered at the first instruction in force: a later cycle's correction does not move it,
    # nor lengthen the time spent in the allocation's arrival.
    assert d.stage_time(Stage.PAYMENT_INSTRUCTED) == at(9)
    after = spans(d, CALENDAR, NOW)
    assert after == before
    assert [(s.stage, s.entered_at, s.left_at, s.hours) for s in after] == [
        ("allocation_received", at(8), at(9), 1.0),
        ("payment_instructed", at(9), None, 3.0),
    ]
    assert superseded(replayed(d)) == superseded(d)


def test_a_recorded_correction_supersedes_only_the_time_it_names_on_replay() -> None:
    # A stream recorded before the fix (the 09:15 report named the 10:00 re-issue) keeps that meaning.
    d = returned_and_reissued()
    event = reported(d, Stage.PAYMENT_INSTRUCTED, at(9, 15))
    again = Disbursement.open(d.opened, d.opened_at)
    for n, r in enumerate(d.reports[:-1], start=2):
        again.apply(r.event, n)
    again.apply(event.model_copy(update={"supersedes_at": at(10)}), 9)
    assert [(t, s) for _, t, s in superseded(again)][1:] == [
        (at(9), False),
        (at(9, 30), False),
        (at(10), True),
        (at(9, 15), False),
    ]


def test_an_instruction_at_the_time_of_a_return_corrects_the_instruction_that_return_returned() -> None:
    d = returned_and_reissued()
    assert reported(d, Stage.PAYMENT_INSTRUCTED, at(9, 30)).supersedes_at == at(9)
    assert d.status is Status.PAYMENT_INSTRUCTED


def test_a_correction_of_a_returned_cycle_keeps_the_status_returned() -> None:
    d = returned_and_reissued()
    stage(d, Stage.RETURNED_BY_BANK, at(10, 30), reason="账户冻结")
    assert reported(d, Stage.PAYMENT_INSTRUCTED, at(9, 45)).supersedes_at == at(10)
    assert reported(d, Stage.PAYMENT_INSTRUCTED, at(8, 30)).supersedes_at == at(9)
    assert d.status is Status.RETURNED_BY_BANK and not d.instruction_outstanding
    with pytest.raises(Refused) as caught:
        stage(d, Stage.RETURNED_BY_BANK, at(11), reason="x")  # nothing outstanding to return
    assert caught.value.rule == rules.RETURN_ONLY_AN_INSTRUCTED_PAYMENT
    assert reported(d, Stage.PAYMENT_INSTRUCTED, at(11)).supersedes_at is None  # after the last return


def test_a_backdated_instruction_before_a_stage_it_follows_is_still_invalid() -> None:
    d = returned_and_reissued()
    with pytest.raises(Invalid) as caught:
        stage(d, Stage.PAYMENT_INSTRUCTED, at(7))  # before the allocation arrived at 08:00
    assert caught.value.rule == rules.STAGES_FOLLOW_THEIR_ORDER
    assert len(d.reports) == 4


def test_without_returns_an_instruction_for_the_remainder_corrects_the_first_as_before() -> None:
    d = opened("100.00")
    stage(d, Stage.PAYMENT_INSTRUCTED, at(9))
    pay(d, "1.00", at(10), "B1")
    assert reported(d, Stage.PAYMENT_INSTRUCTED, at(11)).supersedes_at == at(9)
    assert d.status is Status.PARTIALLY_CREDITED


def test_the_timeline_names_each_payment_by_the_id_the_enterprise_mail_gives() -> None:
    d = returned_and_reissued()
    pay(d, "40.00", at(11), "pay-1")  # the helper records the payment with this id
    pay(d, "60.00", at(11, 30), "pay-2")
    entries = timeline(d)
    assert [e.payment_id for e in entries if e.kind == "payment"] == ["pay-1", "pay-2"]
    assert all(e.payment_id is None for e in entries if e.kind == "stage")
    answer = [e.model_dump(mode="json") for e in entries]
    assert [a["payment_id"] for a in answer if a["kind"] == "payment"] == ["pay-1", "pay-2"]
