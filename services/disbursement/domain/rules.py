"""The rules that refuse a command, named as sentences; each says why (HTTP 409 or 422, Kafka DLQ)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.workdays.calendar import SHANGHAI


class Refused(Exception):
    """A rule refuses the command now; nothing is recorded."""

    def __init__(self, rule: str, reason: str) -> None:
        self.rule, self.reason = rule, reason
        super().__init__(f"{reason} [{rule}]")


class Invalid(Refused):
    """The command contradicts what it says or what is known, and never will be right (HTTP 422)."""


NO_CHANGE_AFTER_CANCELLATION = "NoChangeAfterCancellation"
NO_PAYMENT_WHILE_ON_HOLD = "NoPaymentWhileOnHold"
NO_PROGRESS_WHILE_ON_HOLD = "NoProgressWhileOnHold"
NO_OVERPAYMENT = "CreditedNeverExceedsAllocated"
ONE_CREDIT_PER_BANK_REFERENCE = "OneCreditPerBankReference"
FULLY_CREDITED_IS_SETTLED = "FullyCreditedIsSettled"
RESUME_ONLY_WHAT_IS_ON_HOLD = "ResumeOnlyWhatIsOnHold"
HOLD_ONLY_WHAT_IS_ACTIVE = "HoldOnlyWhatIsActive"
RETURN_ONLY_AN_INSTRUCTED_PAYMENT = "ReturnOnlyAnInstructedPayment"
ONLY_LEADERSHIP_APPROVES = "OnlyLeadershipApproves"
NO_TIME_IN_THE_FUTURE = "NoStageTimeInTheFuture"
NO_REPAYMENT_BEYOND_OUTSTANDING = "RepaidNeverExceedsOwed"
ONE_REPAYMENT_PER_REFERENCE = "OneRepaymentPerReference"
STAGES_FOLLOW_THEIR_ORDER = "StagesFollowTheirOrderInTime"
NO_REPAYMENT_BEFORE_DELIVERY = "NoRepaymentBeforeDelivery"
NO_DAY_IN_THE_FUTURE = "NoDayInTheFuture"
LINKS_ONLY_TO_A_CASE_ID = "LinksOnlyToACaseId"
LINKS_ONLY_TO_A_CASE_OF_THE_SAME_ENTERPRISE = "LinksOnlyToACaseOfTheSameEnterprise"

# Clocks of banks and other systems drift: a report a few minutes ahead of ours is still believed.
CLOCK_TOLERANCE = timedelta(minutes=5)


def refuse_time_in_the_future(at: datetime, now: datetime, what: str) -> None:
    """Refuse a stage or payment time later than now (beyond clock drift)."""
    if at > now + CLOCK_TOLERANCE:
        raise Refused(
            NO_TIME_IN_THE_FUTURE,
            f"报告的时间晚于当前时间 / the {what} time {at.astimezone(SHANGHAI).isoformat()} is in the future"
            f" (now {now.astimezone(SHANGHAI).isoformat(timespec='seconds')})",
        )


def refuse_what_is_not_a_case_id(case_id: str | None) -> None:
    """Refuse a case link that cannot name a case: intake names every case by a UUID version 5."""
    # Only the shape is checked here; refuse_a_case_of_another_enterprise checks what the case was opened as.
    if case_id is None:
        return
    try:
        parsed = uuid.UUID(case_id)
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 5 or str(parsed) != case_id:
        raise Invalid(
            LINKS_ONLY_TO_A_CASE_ID,
            f"没有这个案件 / case_id {case_id!r} is not a case id (cases are named by intake with a UUID v5)",
        )


@dataclass(frozen=True)
class CaseOpening:
    """What a linked case was opened as: its bureau and its enterprise's credit code."""

    bureau: str
    credit_code: str


def refuse_a_case_of_another_enterprise(
    case_id: str, opening: CaseOpening | None, bureau: str, credit_code: str
) -> None:
    """Refuse a link to a case that is not the caller's bureau's, or not the same enterprise's."""
    # A case of another bureau answers like a case that does not exist: its existence is not told.
    if opening is None or opening.bureau != bureau:
        raise Invalid(
            LINKS_ONLY_TO_A_CASE_OF_THE_SAME_ENTERPRISE,
            f"本局没有这个案件 / case_id {case_id} names no case of your bureau",
        )
    if opening.credit_code != credit_code:
        raise Invalid(
            LINKS_ONLY_TO_A_CASE_OF_THE_SAME_ENTERPRISE,
            f"该案件属于另一家企业 / case_id {case_id} is a case of another enterprise, not of {credit_code}",
        )
