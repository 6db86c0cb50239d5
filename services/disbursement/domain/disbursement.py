"""The disbursement aggregate (资金拨付): an allocation, its reported stages and the payments credited.

Reports arrive late and out of order, so the aggregate keeps every report as it came and derives where the
disbursement stands from the reports' own times (see README, "Order of reports"):

- A stage is in force at the time of its latest report: a second report of the same stage with another
  time corrects it (`supersedes_at` names the time it replaces, and only that report is superseded; both
  stay in the timeline). The same stage reported again with the same time is a repeat and records nothing.
- A stage reported after a later one was reached (e.g. "payment instructed" after the money was credited)
  is recorded with `late`; the status never moves backwards because of it.
- A payment is believed when it comes, even before any payment instruction (`before_instruction`): the
  bank is the authority on what reached the account. Only the sum is checked (never above the allocation).
- A return by the bank returns the latest payment instruction: it is accepted while one is outstanding (later
  than the last return), whatever was credited already, until the money is fully credited; the instruction
  reported again after it is a re-issue, not a correction. Returns cut the instructions into cycles: an
  instruction reported at time t corrects the one of its own cycle (the one the first return at or after t
  returned, or the outstanding one when t is after every return), never a re-issue of another cycle.
- Whatever order reports arrive in, their own times must agree with the progression (chronology.py): a
  stage or payment dated before a stage it follows is refused as invalid.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel

from services.disbursement.domain import chronology, rules
from services.disbursement.domain.references import same_reference, spelled_as
from services.disbursement.domain.rules import Refused
from shared.contracts.disbursement import (
    PROGRESSION,
    STAGE_LABELS,
    DisbursementOpened,
    DisbursementPaymentCredited,
    DisbursementStageReported,
    PaymentReport,
    Stage,
    StageReport,
    Status,
)
from shared.contracts.envelope import Actor

ZERO = Decimal("0.00")
E = TypeVar("E", DisbursementStageReported, DisbursementPaymentCredited)


@dataclass
class Report:
    """One stage report as recorded, with when it was recorded."""

    event: DisbursementStageReported
    recorded_at: datetime | None = None
    superseded: bool = False
    actor: Actor | None = None  # who caused it (the envelope's actor): a person, a bureau key, a signing key

    @property
    def key(self) -> tuple[Stage, str | None]:
        """Which stage this reports: approvals are one stage per approver."""
        return self.event.stage, self.event.approver if self.event.stage is Stage.APPROVED else None


@dataclass
class Payment:
    """One payment as recorded."""

    event: DisbursementPaymentCredited
    recorded_at: datetime | None = None
    actor: Actor | None = None


@dataclass
class Disbursement:
    """State folded from the events of one disbursement stream."""

    opened: DisbursementOpened
    opened_at: datetime
    version: int = 1
    reports: list[Report] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)

    @classmethod
    def open(cls, event: DisbursementOpened, opened_at: datetime) -> Disbursement:
        """Return a new disbursement from its opening event."""
        return cls(opened=event, opened_at=opened_at)

    # -- state derived from the reports --

    @property
    def allocated(self) -> Decimal:
        """The allocated amount."""
        return self.opened.allocated

    @property
    def credited(self) -> Decimal:
        """The sum credited so far (exact)."""
        return sum((p.event.amount for p in self.payments), ZERO)

    @property
    def outstanding(self) -> Decimal:
        """What is still to be credited (zero once cancelled)."""
        return ZERO if self.cancelled else self.allocated - self.credited

    @property
    def fully_credited(self) -> bool:
        """Whether the sum credited equals the allocation."""
        return self.credited == self.allocated

    def in_force(self) -> list[Report]:
        """The reports in force: every report except those a later report of the same stage corrected."""
        return [r for r in self.reports if not r.superseded]

    def _by_time(self, *stages: Stage) -> list[Report]:
        return sorted((r for r in self.in_force() if r.event.stage in stages), key=lambda r: r.event.at)

    @property
    def cancelled(self) -> bool:
        """Whether it was cancelled (final)."""
        return bool(self._by_time(Stage.CANCELLED))

    @property
    def on_hold_since(self) -> datetime | None:
        """When the hold in force began, by the reports' own times; None when not on hold."""
        switches = self._by_time(Stage.ON_HOLD, Stage.RESUMED)
        return switches[-1].event.at if switches and switches[-1].event.stage is Stage.ON_HOLD else None

    def stage_time(self, stage: Stage) -> datetime | None:
        """When a progression stage was first reached (approval: the first approver), by its own time."""
        found = self._by_time(stage)
        return found[0].event.at if found else None

    @property
    def fully_credited_at(self) -> datetime | None:
        """When the last of the money arrived (the latest credited time), once fully credited."""
        return max(p.event.credited_at for p in self.payments) if self.fully_credited else None

    @property
    def status(self) -> Status:
        """Where it stands: final states first, then exceptions, then the furthest stage reached."""
        if self.cancelled:
            return Status.CANCELLED
        if self.fully_credited:
            return Status.CREDITED
        if self.on_hold_since is not None:
            return Status.ON_HOLD
        if self._by_time(Stage.RETURNED_BY_BANK) and not self.instruction_outstanding:
            return Status.RETURNED_BY_BANK
        if self.payments:
            return Status.PARTIALLY_CREDITED
        reached = [s for s in PROGRESSION if self.stage_time(s) is not None]
        return Status(reached[-1].value) if reached else Status.OPENED

    @property
    def instruction_outstanding(self) -> bool:
        """Whether the latest instruction (by own time) is later than the latest return: nothing returned it."""
        # A return at the same time as the instruction returns it (the status says returned_by_bank).
        instructed, returned = self._by_time(Stage.PAYMENT_INSTRUCTED), self._by_time(Stage.RETURNED_BY_BANK)
        return bool(instructed) and (not returned or instructed[-1].event.at > returned[-1].event.at)

    def last_change_at(self) -> datetime:
        """The latest own time of any report in force or payment; the opening when there is none."""
        # A corrected time no longer happened: counting it would keep stuck money off "stuck" and reminders.
        times = [r.event.at for r in self.in_force()] + [p.event.credited_at for p in self.payments]
        return max(times, default=self.opened_at)

    # -- decisions: return the events to record, or raise Refused --

    def report_stage(
        self, report: StageReport, *, reported_by: str, approver: str | None, now: datetime
    ) -> list[BaseModel]:
        """Decide a stage report; an exact repeat records nothing."""
        key = (report.stage, approver if report.stage is Stage.APPROVED else None)
        earlier = [r for r in self.in_force() if r.key == key]
        if any(r.event.at == report.at for r in earlier):
            return []  # the same stage at the same time: a repeat, nothing new to record
        self._refuse_after_cancellation()
        rules.refuse_time_in_the_future(report.at, now, "stage")
        self._refuse_by_state(report)
        chronology.refuse_stage_out_of_order(self, report.stage, report.at, approver)
        supersedes = self._corrected_time(report, earlier)
        return [
            self._with_progress(
                DisbursementStageReported(
                    disbursement_id=self.opened.disbursement_id,
                    stage=report.stage,
                    at=report.at,
                    note=report.note,
                    reason=report.reason,
                    bank_reference=report.bank_reference,
                    reported_by=reported_by,
                    approver=approver if report.stage is Stage.APPROVED else None,
                    late=self._is_late(report.stage, report.at),
                    supersedes_at=supersedes,
                )
            )
        ]

    def record_payment(
        self, payment: PaymentReport, *, payment_id: str, reported_by: str, now: datetime
    ) -> list[BaseModel]:
        """Decide a payment credited to the enterprise's account."""
        self._refuse_after_cancellation()
        if self.on_hold_since is not None:
            raise Refused(
                rules.NO_PAYMENT_WHILE_ON_HOLD,
                f"拨付暂缓中，不能登记到账 / on hold since {self.on_hold_since.isoformat()}: resume it first",
            )
        rules.refuse_time_in_the_future(payment.credited_at, now, "payment")
        chronology.refuse_payment_out_of_order(self, payment.credited_at)
        # Compared by reference_key: `br-1` or a full-width `ＢＲ-1` is the transfer credited as `BR-1`.
        earlier = next(
            (
                p.event
                for p in self.payments
                if same_reference(p.event.bank_reference, payment.bank_reference)
            ),
            None,
        )
        if earlier is not None:
            raise Refused(
                rules.ONE_CREDIT_PER_BANK_REFERENCE,
                f"该银行流水号已登记 / bank reference {payment.bank_reference} was already credited"
                f"{spelled_as(earlier.bank_reference, payment.bank_reference)}",
            )
        total = self.credited + payment.amount
        if total > self.allocated:
            raise Refused(
                rules.NO_OVERPAYMENT,
                f"到账合计将超过拨付金额 / {payment.amount:.2f} would bring the credited sum to {total:.2f},"
                f" above the allocated {self.allocated:.2f} (already credited {self.credited:.2f})",
            )
        return [
            self._with_progress(
                DisbursementPaymentCredited(
                    disbursement_id=self.opened.disbursement_id,
                    payment_id=payment_id,
                    amount=payment.amount,
                    credited_at=payment.credited_at,
                    bank_reference=payment.bank_reference,
                    note=payment.note,
                    reported_by=reported_by,
                    credited_total=total,
                    fully_credited=total == self.allocated,
                    before_instruction=self.stage_time(Stage.PAYMENT_INSTRUCTED) is None,
                )
            )
        ]

    def _with_progress(self, event: E) -> E:
        """Return the event with where the disbursement stands after it (applied to a copy)."""
        after = copy.deepcopy(self)
        after.apply(event, self.version + 1)
        return event.model_copy(
            update={
                "status": after.status,
                "credited_total": after.credited,
                "allocation_received_at": after.stage_time(Stage.ALLOCATION_RECEIVED),
                "fully_credited_at": after.fully_credited_at,
            }
        )

    def _refuse_after_cancellation(self) -> None:
        if self.cancelled:
            raise Refused(
                rules.NO_CHANGE_AFTER_CANCELLATION,
                "拨付已撤销（终态） / the disbursement was cancelled; it is final",
            )

    def _refuse_by_state(self, report: StageReport) -> None:
        stage, hold = report.stage, self.on_hold_since
        if stage in (Stage.ON_HOLD, Stage.CANCELLED, Stage.RETURNED_BY_BANK) and self.fully_credited:
            raise Refused(
                rules.FULLY_CREDITED_IS_SETTLED,
                f"已全额到账，不能再报告“{STAGE_LABELS[stage.value]}” / fully credited: a report of stage"
                f" '{stage.value}' no longer applies",
            )
        if stage is Stage.ON_HOLD and hold is not None:
            raise Refused(
                rules.HOLD_ONLY_WHAT_IS_ACTIVE, f"已暂缓 / already on hold since {hold.isoformat()}"
            )
        if stage is Stage.RESUMED and (hold is None or report.at < hold):
            raise Refused(
                rules.RESUME_ONLY_WHAT_IS_ON_HOLD,
                "未暂缓，无需恢复 / not on hold at that time: nothing to resume",
            )
        if stage in PROGRESSION and hold is not None and report.at > hold:
            raise Refused(
                rules.NO_PROGRESS_WHILE_ON_HOLD,
                f"暂缓期间不能推进 / on hold since {hold.isoformat()}: resume before reporting progress",
            )
        if stage is Stage.RETURNED_BY_BANK:
            self._refuse_return_of_nothing_outstanding()

    def _refuse_return_of_nothing_outstanding(self) -> None:
        # Money already credited does not matter (fully credited is refused above): what the bank returns is
        # the latest instruction, so one must be in force and later than the last return. Chronology refuses
        # a return dated before that instruction, so it was outstanding at the return's own time too.
        hold = self.on_hold_since
        if hold is not None:
            # As for payments: what the bank reports waits until the hold is resumed.
            raise Refused(
                rules.RETURN_ONLY_AN_INSTRUCTED_PAYMENT,
                f"拨付暂缓中，不能登记银行退回 / on hold since {hold.isoformat()}: resume it before reporting"
                " a return by the bank",
            )
        if not self.instruction_outstanding:
            returned = self._by_time(Stage.RETURNED_BY_BANK)
            last = returned[-1].event.at.isoformat() if returned else None
            zh = f"{last} 银行退回后未重新下达" if last else "未下达支付指令"
            en = f"none was re-issued after the return at {last}" if last else "none was reported"
            raise Refused(
                rules.RETURN_ONLY_AN_INSTRUCTED_PAYMENT,
                f"没有待到账的支付指令（{zh}） / no payment instruction is outstanding ({en}), so none can be"
                " returned",
            )

    def _cycle(self, at: datetime) -> int:
        # Returns cut the instructions into cycles; a return at an instruction's own time returns it.
        return sum(1 for r in self._by_time(Stage.RETURNED_BY_BANK) if r.event.at < at)

    def _corrected_time(self, report: StageReport, earlier: list[Report]) -> datetime | None:
        """The time of the report in force this one corrects; None when it records the stage anew."""
        if report.stage not in PROGRESSION:
            return None
        if report.stage is Stage.PAYMENT_INSTRUCTED:
            # By where its own time falls, not by what is outstanding now: a late report of the first
            # instruction must not take the place of a re-issue (that one stays outstanding, returnable).
            # None in its cycle: after the last return with nothing outstanding, it is a re-issue.
            cycle = self._cycle(report.at)
            earlier = [r for r in earlier if self._cycle(r.event.at) == cycle]
        return max((r.event.at for r in earlier), default=None)

    def _is_late(self, stage: Stage, at: datetime) -> bool:
        # Late: reported after something that follows it, a later stage or money credited at or after its time.
        # An instruction for what remains after a partial payment (or re-issued after a return) is not late.
        if stage not in PROGRESSION:
            return False
        if any(p.event.credited_at >= at for p in self.payments):
            return True
        later = PROGRESSION[PROGRESSION.index(stage) + 1 :]
        return any(self.stage_time(s) is not None for s in later)

    # -- evolution --

    def apply(
        self, event: BaseModel, version: int, recorded_at: datetime | None = None, actor: Actor | None = None
    ) -> None:
        """Apply a recorded event (with when it was recorded and by whom, when folded from its envelope)."""
        if isinstance(event, DisbursementStageReported):
            report = Report(event, recorded_at, actor=actor)
            if event.supersedes_at is not None:
                # Only the report it names: earlier instruction cycles (re-issued after a return) stay in force.
                for r in self.reports:
                    if r.key == report.key and not r.superseded and r.event.at == event.supersedes_at:
                        r.superseded = True
            self.reports.append(report)
        elif isinstance(event, DisbursementPaymentCredited):
            self.payments.append(Payment(event, recorded_at, actor))
        self.version = version
