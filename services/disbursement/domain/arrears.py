"""Arrears owed to a private enterprise (拖欠民营企业账款) under the SME payment regulation.

保障中小企业款项支付条例 (in force 2020-09-01): government bodies pay within 30 days of delivery or
acceptance; a contract may agree a longer term, at most 60 days. The term runs in calendar days, as the
regulation counts them: delivered on day D with a 30-day term, the term ends on D+30. Its last day follows
民法典第二百零三条 ("期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日"): a last day that is
not a working day (a weekend not worked, a statutory holiday, a 调休 rest day) moves to the next working day of
the calendar in force. Payment is due on that day and overdue from the day after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel

from services.disbursement.domain import rules
from services.disbursement.domain.references import same_reference, spelled_as
from services.disbursement.domain.rules import Invalid, Refused
from shared.contracts.disbursement import ArrearsRecorded, ArrearsRepaid, OpenArrearsRequest, RepaymentReport
from shared.workdays.calendar import WorkdayCalendar

ZERO = Decimal("0.00")
DEFAULT_TERM_DAYS = 30
MAX_TERM_DAYS = 60


def term_ends_on(delivered_on: date, term_days: int) -> date:
    """Return the last calendar day of the term, before any move for a day off."""
    return delivered_on + timedelta(days=term_days)


def a_last_day_off_moves_to_the_next_working_day(last_day: date, calendar: WorkdayCalendar) -> date:
    """民法典第二百零三条: a period ending on a day off ends on the working day after the days off."""
    while not calendar.is_workday(last_day):
        last_day += timedelta(days=1)
    return last_day


def due_on(delivered_on: date, term_days: int, calendar: WorkdayCalendar) -> date:
    """Return the last day payment is on time: the term's end, moved off a day off."""
    return a_last_day_off_moves_to_the_next_working_day(term_ends_on(delivered_on, term_days), calendar)


def days_overdue(due: date, *, still_owed: bool, today: date) -> int:
    """Calendar days past the due date while money is still owed, as of today (0 when not overdue)."""
    # One rule for the arrears folded from their stream and for the list read from the read model: the list
    # computes it as of today, never as it stood when the view was written.
    return max(0, (today - due).days) if still_owed else 0


def refuse_day_in_the_future(day: date, today: date, *, zh: str, field: str) -> None:
    """Refuse a delivery or repayment day after today (Asia/Shanghai): it has not happened yet."""
    if day > today:
        raise Invalid(
            rules.NO_DAY_IN_THE_FUTURE,
            f"{zh}日期晚于今天 / {field} {day} is after today ({today}, Asia/Shanghai)",
        )


def record_arrears(
    arrears_id: str, request: OpenArrearsRequest, *, today: date, calendar: WorkdayCalendar
) -> ArrearsRecorded:
    """Return the event that records arrears with the due date of their term (delivered by today).

    The due date is decided once, on the calendar in force now, and kept in the event: a calendar corrected
    later does not move the due date of arrears already recorded (nor their replays, views and counters).
    """
    refuse_day_in_the_future(request.delivered_on, today, zh="交付", field="delivered_on")
    return ArrearsRecorded(
        arrears_id=arrears_id,
        enterprise=request.enterprise,
        debtor=request.debtor,
        purpose=request.purpose,
        amount_owed=request.amount_owed,
        delivered_on=request.delivered_on,
        agreed_term_days=request.agreed_term_days,
        due_on=due_on(request.delivered_on, request.agreed_term_days, calendar),
        contract_reference=request.contract_reference,
        case_id=request.case_id,
    )


@dataclass
class Arrears:
    """State folded from an arrears stream."""

    recorded: ArrearsRecorded
    version: int = 1
    repayments: list[ArrearsRepaid] = field(default_factory=list)

    @property
    def repaid(self) -> Decimal:
        """The sum repaid so far."""
        return sum((r.amount for r in self.repayments), ZERO)

    @property
    def outstanding(self) -> Decimal:
        """What is still owed."""
        return self.recorded.amount_owed - self.repaid

    @property
    def settled_on(self) -> date | None:
        """The day the last of it was repaid, once nothing is owed."""
        return max(r.repaid_on for r in self.repayments) if self.outstanding == 0 else None

    def overdue_days(self, today: date) -> int:
        """Calendar days past the due date with money still owed (0 when not overdue)."""
        return days_overdue(self.recorded.due_on, still_owed=self.outstanding > 0, today=today)

    def is_overdue(self, today: date) -> bool:
        """Whether money is still owed after the due date."""
        return self.overdue_days(today) > 0

    def days_late(self) -> int:
        """For settled arrears, how many calendar days after the due date they were settled."""
        settled = self.settled_on
        return max(0, (settled - self.recorded.due_on).days) if settled else 0

    def repay(self, repayment: RepaymentReport, today: date) -> list[BaseModel]:
        """Decide a repayment: between delivery and today (Asia/Shanghai), never more than is owed."""
        refuse_day_in_the_future(repayment.repaid_on, today, zh="还款", field="repaid_on")
        if repayment.repaid_on < self.recorded.delivered_on:
            raise Invalid(
                rules.NO_REPAYMENT_BEFORE_DELIVERY,
                f"还款日期早于交付日期 / repaid_on {repayment.repaid_on} is before the delivery on"
                f" {self.recorded.delivered_on}",
            )
        self._refuse_a_reference_already_repaid(repayment.reference)
        if repayment.amount > self.outstanding:
            raise Refused(
                rules.NO_REPAYMENT_BEYOND_OUTSTANDING,
                f"还款超过欠款余额 / {repayment.amount:.2f} is more than the {self.outstanding:.2f} still owed",
            )
        return [
            ArrearsRepaid(
                arrears_id=self.recorded.arrears_id,
                amount=repayment.amount,
                repaid_on=repayment.repaid_on,
                reference=repayment.reference,
                note=repayment.note,
                outstanding=self.outstanding - repayment.amount,
                days_late=max(0, (repayment.repaid_on - self.recorded.due_on).days),
            )
        ]

    def _refuse_a_reference_already_repaid(self, reference: str | None) -> None:
        # As a bank reference is credited once per disbursement: the same transfer recorded twice (a resend
        # without an Idempotency-Key) must not count twice. Without a reference two repayments of the same
        # amount on the same day may both be real, so nothing tells them apart. Compared by reference_key:
        # `icbc-1` or a full-width `ＩＣＢＣ-1` is the transfer recorded as `ICBC-1`.
        if reference is None:
            return
        for earlier in self.repayments:
            if same_reference(earlier.reference, reference):
                raise Refused(
                    rules.ONE_REPAYMENT_PER_REFERENCE,
                    f"该还款凭证号已登记 / reference {reference} was already recorded as a repayment of"
                    f" {earlier.amount:.2f} on {earlier.repaid_on} of these arrears"
                    f"{spelled_as(earlier.reference, reference)}",
                )

    def apply(self, event: BaseModel, version: int) -> None:
        """Apply a recorded event."""
        if isinstance(event, ArrearsRepaid):
            self.repayments.append(event)
        self.version = version
