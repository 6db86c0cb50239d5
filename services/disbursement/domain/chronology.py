"""Stage times follow the progression: a report dated before a stage it follows (or after one that follows it)
is refused, or time to account turns negative and the stages list shows an earlier stage as current. Money
is compared with the allocation's arrival only: credited before the instruction is accepted (see
disbursement.py).

Reports still arrive in any order (see disbursement.py): only their own times must agree with each other.
A stage is compared with the entry times of the others (approval: the first approver), the same times the
timeline and time to account use; a correction of a stage is compared with the other stages only.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from services.disbursement.domain import rules
from services.disbursement.domain.rules import Invalid
from shared.contracts.disbursement import PROGRESSION, STAGE_LABELS, Stage
from shared.workdays.calendar import SHANGHAI

if TYPE_CHECKING:
    from services.disbursement.domain.disbursement import Disbursement

CREDITED = "credited"  # how a payment is named in the reasons (its status)


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat()


def _out_of_order(what: str, at: datetime, relation: str, other: str, other_at: datetime) -> Invalid:
    # Chinese names the stages as every answer does (STAGE_LABELS), English by their identifiers.
    zh = "早于" if relation == "before" else "晚于"
    return Invalid(
        rules.STAGES_FOLLOW_THEIR_ORDER,
        f"时间顺序不符：“{STAGE_LABELS[what]}”的时间{zh}“{STAGE_LABELS[other]}” / '{what}' at {_local(at)}"
        f" would be {relation} '{other}' at {_local(other_at)}",
    )


def _progress(d: Disbursement) -> list[tuple[Stage, datetime]]:
    return [(s, at) for s in PROGRESSION if (at := d.stage_time(s)) is not None]


def _first_credit(d: Disbursement) -> datetime | None:
    return min((p.event.credited_at for p in d.payments), default=None)


def refuse_stage_out_of_order(
    d: Disbursement, stage: Stage, at: datetime, approver: str | None = None
) -> None:
    """Refuse a stage dated before a stage it follows, or after a stage (or payment) that follows it."""
    if stage in PROGRESSION:
        _refuse_progress_out_of_order(d, stage, at, _entered_after(d, stage, at, approver))
    elif stage is Stage.RETURNED_BY_BANK:
        _refuse_return_before_its_instruction(d, at)
    elif stage is Stage.CANCELLED:
        _refuse_cancellation_before_what_happened(d, at)


def _entered_after(d: Disbursement, stage: Stage, at: datetime, approver: str | None) -> datetime:
    """When the stage would be entered once this report is in force (approval: at its first approver)."""
    if stage is not Stage.APPROVED:
        return at
    # Approvals are one stage per approver: this approver's own earlier approval is the one it corrects, so
    # only the others' approvals keep the stage entered before `at`. A further approver may then sign after
    # the stages that follow the approval; the same approver re-dating the only (or first) approval may not.
    others = [
        r.event.at for r in d.in_force() if r.event.stage is Stage.APPROVED and r.event.approver != approver
    ]
    return min([at, *others])


def _refuse_progress_out_of_order(d: Disbursement, stage: Stage, at: datetime, entered: datetime) -> None:
    index = PROGRESSION.index(stage)
    for other, other_at in _progress(d):
        if PROGRESSION.index(other) < index and at < other_at:
            raise _out_of_order(stage.value, at, "before", other.value, other_at)
        if PROGRESSION.index(other) > index and entered > other_at:
            raise _out_of_order(stage.value, at, "after", other.value, other_at)
    first = _first_credit(d)
    if stage is Stage.ALLOCATION_RECEIVED and first is not None and at > first:
        raise _out_of_order(stage.value, at, "after", CREDITED, first)


def _refuse_return_before_its_instruction(d: Disbursement, at: datetime) -> None:
    # The bank returns the latest instruction; a return dated before it would be silently ignored by status.
    instructed = [r.event.at for r in d.in_force() if r.event.stage is Stage.PAYMENT_INSTRUCTED]
    if instructed and at < max(instructed):
        raise _out_of_order(
            Stage.RETURNED_BY_BANK.value, at, "before", Stage.PAYMENT_INSTRUCTED.value, max(instructed)
        )


def _refuse_cancellation_before_what_happened(d: Disbursement, at: datetime) -> None:
    # Cancelled is final: any report in force (a hold, a resumption, a return, a further approver: not only
    # the progression's entries) or money dated after it would contradict it.
    known = [(r.event.stage.value, r.event.at) for r in d.in_force()]
    known += [(CREDITED, p.event.credited_at) for p in d.payments]
    if known:
        last, last_at = max(known, key=lambda k: k[1])
        if at < last_at:
            raise _out_of_order(Stage.CANCELLED.value, at, "before", last, last_at)


def refuse_payment_out_of_order(d: Disbursement, credited_at: datetime) -> None:
    """Refuse money credited before the allocation was received (time to account would be negative).

    Money credited before the payment instruction stays accepted (marked before_instruction): the bank is
    the authority on what reached the account.
    """
    received = d.stage_time(Stage.ALLOCATION_RECEIVED)
    if received is not None and credited_at < received:
        raise _out_of_order(CREDITED, credited_at, "before", Stage.ALLOCATION_RECEIVED.value, received)
