"""The rules that refuse a command, named as sentences; each says why (HTTP 409 or 422, Kafka DLQ)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta


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
STAGES_FOLLOW_THEIR_ORDER = "StagesFollowTheirOrderInTime"
NO_REPAYMENT_BEFORE_DELIVERY = "NoRepaymentBeforeDelivery"
NO_DAY_IN_THE_FUTURE = "NoDayInTheFuture"
LINKS_ONLY_TO_A_CASE_ID = "LinksOnlyToACaseId"

# Clocks of banks and other systems drift: a report a few minutes ahead of ours is still believed.
CLOCK_TOLERANCE = timedelta(minutes=5)


def refuse_time_in_the_future(at: datetime, now: datetime, what: str) -> None:
    """Refuse a stage or payment time later than now (beyond clock drift)."""
    if at > now + CLOCK_TOLERANCE:
        raise Refused(
            NO_TIME_IN_THE_FUTURE,
            f"报告的时间晚于当前时间 / the {what} time {at.isoformat()} is in the future",
        )


def refuse_what_is_not_a_case_id(case_id: str | None) -> None:
    """Refuse a case link that cannot name a case: intake names every case by a UUID version 5."""
    # Only the shape is checked here: whether the case exists in the caller's bureau for the same enterprise
    # needs a projection of CaseOpened that this service does not keep yet.
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
