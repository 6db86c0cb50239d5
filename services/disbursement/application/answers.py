"""Answers of the disbursement API (amounts as decimal strings, times in +08:00)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from shared.contracts.amounts import Money
from shared.contracts.answers import Time
from shared.contracts.cases import Enterprise
from shared.contracts.envelope import Actor


class DisbursementRecorded(BaseModel):
    """What a command recorded."""

    id: str = Field(description="The disbursement or arrears id")
    version: int = Field(description="The stream's version after the command")
    recorded: list[str] = Field(description="Event types recorded; empty for an exact repeat of a report")
    replayed: bool = Field(description="True when this request was recorded before (same key or request_id)")
    payment_id: str | None = Field(
        default=None,
        description="A payment's id (POST …/payments), as the timeline and the enterprise's mail name it",
    )


Via = Literal["http", "kafka", "kafka_unsigned"]
VIA = (
    "How it came: http (a signed-in person or a bureau key), kafka (a finance system's report, signed by an"
    " integration key), kafka_unsigned (a report believed unsigned while signatures were not required)"
)
ACTOR = (
    "Who caused it (the event's actor): a person (kind person: staff_id, name, post), a bureau key, or the"
    " integration key that signed a Kafka report (kind integration: key_id, name); reported_by and approver"
    " are what the report says"
)


class TimelineEntry(BaseModel):
    """One report as it came: the stage's own time and when it was recorded."""

    kind: str = Field(description="stage | payment")
    stage: str
    label: str = Field(description="The stage in Chinese")
    at: Time = Field(description="When it happened (the stage's own time)")
    recorded_at: Time | None = Field(description="When this service recorded the report")
    reported_by: str
    approver: str | None = None
    note: str = ""
    reason: str | None = None
    bank_reference: str | None = None
    amount: Money | None = None
    payment_id: str | None = Field(
        default=None,
        description="A payment's id, as the enterprise's mail names it (到账记录); None for a stage",
    )
    late: bool = Field(
        description="Reported after a later stage was reached, or credited before any instruction"
    )
    superseded: bool = Field(description="A later report of the same stage corrected its time")
    supersedes_at: Time | None = None
    via: Via | None = Field(default=None, description=VIA)
    actor: Actor | None = Field(default=None, description=ACTOR)


class StageSpan(BaseModel):
    """Time spent in a stage, from the stages' own times."""

    stage: str
    label: str
    entered_at: Time
    left_at: Time | None = Field(description="None for the current stage (counted until now)")
    hours: float
    workdays: int = Field(
        description="Working days after the day it was entered, up to the day it was left (or today)"
    )
    via: Via | None = Field(default=None, description=f"The report (or payment) that entered it: {VIA}")
    actor: Actor | None = Field(default=None, description=f"The report (or payment) that entered it: {ACTOR}")


class TimeToAccountAnswer(BaseModel):
    """From allocation received (资金到区) to fully credited (到账)."""

    hours: float
    workdays: int
    within_one_workday: bool


class DisbursementDetail(BaseModel):
    """A disbursement with its timeline and time in each stage."""

    disbursement_id: str
    bureau: str
    enterprise: Enterprise
    case_id: str | None
    source: str
    fund_type: str
    policy_reference: str | None
    currency: str
    allocated: Money
    credited: Money
    outstanding: Money
    status: str
    status_label: str
    opened_at: Time
    version: int
    timeline: list[TimelineEntry]
    stages: list[StageSpan]
    time_to_account: TimeToAccountAnswer | None


class DisbursementSummary(BaseModel):
    """A disbursement in a list."""

    disbursement_id: str
    enterprise: Enterprise
    case_id: str | None
    source: str
    fund_type: str
    allocated: Money
    credited: Money
    outstanding: Money
    status: str
    opened_at: Time
    last_change_at: Time
    overdue: bool = Field(description="Stuck: no stage change for the bureau's N working days")
    time_to_account_hours: float | None


class DisbursementPage(BaseModel):
    """A page of the bureau's disbursements, newest first."""

    items: list[DisbursementSummary]
    total: int
    limit: int
    offset: int


class RepaymentEntry(BaseModel):
    """A repayment of arrears."""

    amount: Money
    repaid_on: date
    reference: str | None
    note: str
    days_late: int
    recorded_at: Time


DUE_ON = (
    "Delivery plus the term in calendar days; a last day that is not a working day moves to the next working"
    " day (民法典第二百零三条)"
)


class ArrearsFacts(BaseModel):
    """Arrears owed to a private enterprise, with the regulation's overdue figures as of today (Asia/Shanghai)."""

    arrears_id: str
    enterprise: Enterprise
    case_id: str | None
    debtor: str
    purpose: str
    amount_owed: Money
    repaid: Money
    outstanding: Money
    delivered_on: date
    agreed_term_days: int
    due_on: date = Field(description=DUE_ON)
    overdue: bool = Field(description="Money still owed after the due date, as of today (Asia/Shanghai)")
    overdue_days: int = Field(description="Calendar days past the due date with money still owed")
    settled_on: date | None
    days_late: int = Field(description="For settled arrears: calendar days after the due date")


class ArrearsDetail(ArrearsFacts):
    """Arrears folded from their stream, with every repayment."""

    repayments: list[RepaymentEntry]
    version: int


class ArrearsSummary(ArrearsFacts):
    """A list item: arrears as the read model holds them."""

    open: bool = Field(description="Money is still owed")


class ArrearsPage(BaseModel):
    """A page of the bureau's arrears: overdue first, then the others still owed, then settled ones."""

    items: list[ArrearsSummary]
    total: int
    limit: int
    offset: int


TIMESTAMPS = (
    "各项用时按各环节自身发生时间计算（非登记时间）/ every duration uses the stages' own times (at, credited_at), "
    "never the times they were recorded; periods are Asia/Shanghai days of full credit"
)


class StatusFigure(BaseModel):
    """Disbursements in one status."""

    status: str
    count: int
    allocated: Money
    credited: Money


class TimeToAccountFigures(BaseModel):
    """Time to account over the period (by the day the money was fully credited)."""

    credited: int = Field(
        description="Disbursements fully credited in the period with a known allocation time"
    )
    median_hours: float | None
    p90_hours: float | None
    within_one_workday: int
    share_within_one_workday: str | None = Field(description='A decimal string, 4 places, e.g. "0.9500"')


class StuckFigures(BaseModel):
    """Active disbursements with no change for the bureau's N working days."""

    count: int
    outstanding: Money


class OverdueFigures(BaseModel):
    """Arrears still owed after their due date."""

    count: int
    outstanding: Money


class ArrearsFigures(BaseModel):
    """The bureau's arrears."""

    count: int
    owed: Money
    repaid: Money
    outstanding: Money
    open: int
    overdue: OverdueFigures


class Dashboard(BaseModel):
    """A bureau's disbursement dashboard (exact amounts in yuan)."""

    bureau: str
    as_of: Time
    period_from: date | None
    period_to: date | None
    disbursements: int
    allocated: Money
    credited: Money
    outstanding: Money
    by_status: list[StatusFigure]
    time_to_account: TimeToAccountFigures
    stuck_after_workdays: int
    stuck: StuckFigures
    arrears: ArrearsFigures
    timestamps: str = Field(
        default=TIMESTAMPS,
        description="Which times the figures use: the stages' own times, not recording times",
    )


class SettingsAnswer(BaseModel):
    """The bureau's dashboard settings in force."""

    stuck_after_workdays: int
