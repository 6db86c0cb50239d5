"""The rules that refuse a command, named as sentences; each refusal says why (HTTP 409, Kafka DLQ)."""

from __future__ import annotations

from datetime import datetime, timedelta


class Refused(Exception):
    """A rule refuses the command now; nothing is recorded."""

    def __init__(self, rule: str, reason: str) -> None:
        self.rule, self.reason = rule, reason
        super().__init__(f"{reason} [{rule}]")


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

# Clocks of banks and other systems drift: a report a few minutes ahead of ours is still believed.
CLOCK_TOLERANCE = timedelta(minutes=5)


def refuse_time_in_the_future(at: datetime, now: datetime, what: str) -> None:
    """Refuse a stage or payment time later than now (beyond clock drift)."""
    if at > now + CLOCK_TOLERANCE:
        raise Refused(
            NO_TIME_IN_THE_FUTURE,
            f"报告的时间晚于当前时间 / the {what} time {at.isoformat()} is in the future",
        )
