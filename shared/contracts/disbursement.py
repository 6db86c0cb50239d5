"""Disbursement (资金拨付) and arrears (拖欠账款) contracts: money, requests, events, the Kafka report.

Money is exact: amounts are `Decimal` with exactly two places, carried in JSON as decimal strings in yuan
("70000000.00"). A JSON number is refused because a float may already have rounded it on the sender's side.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from shared.contracts.amounts import Amount, Money
from shared.contracts.answers import YEARS_2000_TO_2100, CalendarDate, IsoMoment, WholeNumber
from shared.contracts.cases import Enterprise
from shared.contracts.text import (
    Identifier,
    Line100,
    Line200,
    Line500,
    OptionalText500,
    Text500,
    read_stored,
)

# A disbursement with no stage change for this many working days is stuck, until its bureau sets its own
# number: the disbursement service's dashboard and the notification service's reminders count from the same one.
DEFAULT_STUCK_AFTER_WORKDAYS = 3


FIRST_YEAR, LAST_YEAR = 2000, 2100  # what the working-day calendar can count; anything else is a typo


def _plausible_time(moment: datetime) -> datetime:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(
            f"时间须在{FIRST_YEAR}至{LAST_YEAR}年之间 / a time must fall in {FIRST_YEAR}-{LAST_YEAR}"
        )
    return moment


def _plausible_day(day: date) -> date:
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(
            f"日期须在{FIRST_YEAR}至{LAST_YEAR}年之间 / a date must fall in {FIRST_YEAR}-{LAST_YEAR}"
        )
    return day


_IN_RANGE = Field(json_schema_extra={"pattern": YEARS_2000_TO_2100})  # FIRST_YEAR to LAST_YEAR, published
Moment = Annotated[
    IsoMoment, AfterValidator(_plausible_time), _IN_RANGE
]  # ISO 8601 with offset, not a number
Day = Annotated[CalendarDate, AfterValidator(_plausible_day), _IN_RANGE]  # "YYYY-MM-DD" only, never a time


class FundType(StrEnum):
    """What the money is."""

    SUBSIDY = "subsidy"  # 补贴
    RENT_SUBSIDY = "rent_subsidy"  # 房租补贴
    RENOVATION_SUBSIDY = "renovation_subsidy"  # 装修补贴
    AWARD = "award"  # 奖励
    ARREARS_REPAYMENT = "arrears_repayment"  # 清欠
    REFUND = "refund"  # 退付
    OTHER = "other"  # 其他


class Stage(StrEnum):
    """Reported stages: the progression, then the exceptions."""

    ALLOCATION_RECEIVED = "allocation_received"  # 资金到区
    DOCUMENTS_COMPLETE = "documents_complete"  # 材料齐全
    APPROVED = "approved"  # 审批通过 (one report per approver)
    COORDINATION = "coordination"  # 园区/银行协调
    PAYMENT_INSTRUCTED = "payment_instructed"  # 支付指令已下达
    RETURNED_BY_BANK = "returned_by_bank"  # 银行退回 (reason; the payment may be re-instructed)
    ON_HOLD = "on_hold"  # 暂缓 (reason)
    RESUMED = "resumed"  # 恢复
    CANCELLED = "cancelled"  # 撤销 (reason; final)


PROGRESSION = (
    Stage.ALLOCATION_RECEIVED,
    Stage.DOCUMENTS_COMPLETE,
    Stage.APPROVED,
    Stage.COORDINATION,
    Stage.PAYMENT_INSTRUCTED,
)
NEEDS_REASON = frozenset({Stage.RETURNED_BY_BANK, Stage.ON_HOLD, Stage.CANCELLED})


class Status(StrEnum):
    """Where a disbursement stands (the dashboard's "by stage")."""

    OPENED = "opened"  # no stage reported yet
    ALLOCATION_RECEIVED = "allocation_received"
    DOCUMENTS_COMPLETE = "documents_complete"
    APPROVED = "approved"
    COORDINATION = "coordination"
    PAYMENT_INSTRUCTED = "payment_instructed"
    RETURNED_BY_BANK = "returned_by_bank"
    PARTIALLY_CREDITED = "partially_credited"
    CREDITED = "credited"  # 到账: the sum credited equals the allocation
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"


# How stages and statuses read in Chinese: the same words in every service's answers, history, notices and
# workbook.
STAGE_LABELS: dict[str, str] = {
    "opened": "已登记",
    "allocation_received": "资金到区",
    "documents_complete": "材料齐全",
    "approved": "审批通过",
    "coordination": "园区/银行协调",
    "payment_instructed": "支付指令已下达",
    "returned_by_bank": "银行退回",
    "partially_credited": "部分到账",
    "credited": "已到账",
    "on_hold": "暂缓",
    "resumed": "恢复",
    "cancelled": "已撤销",
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class OpenDisbursementRequest(_Strict):
    """Body of `POST /api/v1/disbursements`: an allocation to one enterprise."""

    enterprise: Enterprise
    case_id: Identifier | None = Field(
        default=None,
        description="The case this money answers, if any: a case of your bureau, of this enterprise",
    )
    source: Line100 = Field(description="Who allocated it, e.g. 市财政局")
    fund_type: FundType
    policy_reference: Line200 | None = Field(
        default=None, description="Policy or document, e.g. 郑财预〔2026〕12号"
    )
    allocated: Amount
    currency: Literal["CNY"] = "CNY"
    allocation_received_at: Moment | None = Field(
        default=None,
        description="When the allocation reached the zone (资金到区), if it has; records that stage",
    )


class StageReport(_Strict):
    """Body of `POST /api/v1/disbursements/{id}/stages`: a stage with its own time."""

    stage: Stage
    at: Moment = Field(description="When the stage happened (its own time, not when it is reported)")
    note: OptionalText500 = ""
    reason: Line500 | None = Field(
        default=None, description="Required for returned_by_bank, on_hold, cancelled"
    )
    bank_reference: Line100 | None = None

    @model_validator(mode="after")
    def _reason_when_needed(self) -> StageReport:
        if self.stage in NEEDS_REASON and not self.reason:
            raise ValueError(
                f"“{STAGE_LABELS[self.stage]}”须说明原因 / a report of stage '{self.stage.value}' needs a reason"
            )
        return self


class PaymentReport(_Strict):
    """Body of `POST /api/v1/disbursements/{id}/payments`: money credited to the enterprise's account (到账)."""

    amount: Amount
    credited_at: Moment = Field(description="When the bank credited the account (its own time)")
    bank_reference: Line100
    note: OptionalText500 = ""


class OpenArrearsRequest(_Strict):
    """Body of `POST /api/v1/arrears`: money a government body owes a private enterprise (拖欠民营企业账款)."""

    enterprise: Enterprise
    debtor: Line200 = Field(description="The body that owes it, e.g. 高新区建设局")
    purpose: Text500 = Field(description="What it is for (goods, works or services)")
    amount_owed: Amount
    delivered_on: Day = Field(description="Delivery or acceptance date (交付或验收日期)")
    agreed_term_days: WholeNumber = Field(
        default=30, ge=1, le=60, description="Payment term in calendar days: 30 by the regulation, at most 60"
    )
    contract_reference: Line200 | None = None
    case_id: Identifier | None = Field(
        default=None,
        description="The case these arrears answer, if any: a case of your bureau, of this enterprise",
    )


class RepaymentReport(_Strict):
    """Body of `POST /api/v1/arrears/{id}/repayments`."""

    amount: Amount
    repaid_on: Day
    reference: Line100 | None = None
    note: OptionalText500 = ""


class DisbursementSettingsRequest(_Strict):
    """Body of `PUT /api/v1/disbursements/settings`: the bureau's dashboard settings."""

    stuck_after_workdays: WholeNumber = Field(
        ge=1, le=60, description="No stage change for this many working days"
    )


# -- Events (the `data` of envelopes on disbursement-* and arrears-* streams) --


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DisbursementOpened(_Event):
    """An allocation to an enterprise is tracked from now on."""

    disbursement_id: str
    enterprise: Enterprise
    case_id: str | None = None
    source: str
    fund_type: FundType
    policy_reference: str | None = None
    allocated: Amount
    currency: str = "CNY"


class _Progress(BaseModel):
    """Where the disbursement stands after the event, so a consumer (e.g. the case view) needs no rules.

    A mixin, not an event: registries that collect the subclasses of `_Event` must not list it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Status | None = Field(default=None, description="The disbursement's status after this event")
    credited_total: Money | None = Field(default=None, description="The sum credited after this event")
    allocation_received_at: AwareDatetime | None = Field(
        default=None, description="资金到区 time in force after this event (the start of time to account)"
    )
    fully_credited_at: AwareDatetime | None = Field(
        default=None, description="When the account held all the money, once fully credited"
    )


class DisbursementStageReported(_Event, _Progress):
    """A stage happened at `at`; `reported_by` names who reported it (the envelope's actor is the caller)."""

    disbursement_id: str
    stage: Stage
    at: AwareDatetime
    note: str = ""
    reason: str | None = None
    bank_reference: str | None = None
    reported_by: str = Field(
        description="Person or system that reported it, e.g. 张三 (副局长) or 市财政局国库系统"
    )
    approver: str | None = Field(
        default=None, description="For approved: who approved (one report per approver)"
    )
    late: bool = Field(
        default=False, description="Reported after a later stage was already reached (out of order)"
    )
    supersedes_at: AwareDatetime | None = Field(
        default=None, description="A second report of the stage with another time: the time it corrects"
    )
    request_ref: str | None = None
    request_hash: str | None = None


class DisbursementPaymentCredited(_Event, _Progress):
    """Money reached the enterprise's account; `credited_total` is the sum after it."""

    disbursement_id: str
    payment_id: str
    amount: Amount
    credited_at: AwareDatetime
    bank_reference: str
    note: str = ""
    reported_by: str
    credited_total: Money
    fully_credited: bool
    before_instruction: bool = Field(
        default=False, description="Credited before any payment instruction was reported (out of order)"
    )
    request_ref: str | None = None
    request_hash: str | None = None


class ArrearsRecorded(_Event):
    """An amount owed to a private enterprise, with its payment term."""

    arrears_id: str
    enterprise: Enterprise
    debtor: str
    purpose: str
    amount_owed: Amount
    delivered_on: date
    agreed_term_days: int
    due_on: date
    contract_reference: str | None = None
    case_id: str | None = None


class ArrearsRepaid(_Event):
    """A repayment; `outstanding` is what is left after it."""

    arrears_id: str
    amount: Amount
    repaid_on: date
    reference: str | None = None
    note: str = ""
    outstanding: Money
    days_late: int = Field(ge=0, description="Calendar days after the due date (0 when on time)")


class DisbursementSettingsChanged(_Event):
    """A bureau's dashboard settings."""

    stuck_after_workdays: int


DISBURSEMENT_EVENT_MODELS: dict[tuple[str, int], type[BaseModel]] = {
    (cls.__name__, 1): cls
    for cls in (
        DisbursementOpened,
        DisbursementStageReported,
        DisbursementPaymentCredited,
        ArrearsRecorded,
        ArrearsRepaid,
        DisbursementSettingsChanged,
    )
}


def parse_disbursement_event(event_type: str, schema_version: int, data: dict[str, Any]) -> BaseModel:
    """Validate a disbursement or arrears event payload against its model."""
    try:
        cls = DISBURSEMENT_EVENT_MODELS[(event_type, schema_version)]
    except KeyError:
        raise ValueError(f"unknown event {event_type} v{schema_version}") from None
    return read_stored(cls, data)


# -- Kafka: other bureaus' finance systems report stages and payments --


class StageReportV1(StageReport):
    """A stage reported by a finance system."""

    kind: Literal["stage"]
    approver: Line100 | None = Field(default=None, description="For approved: who approved it in that system")


class PaymentReportV1(PaymentReport):
    """A payment reported by a finance system."""

    kind: Literal["payment"]


class DisbursementReportV1(BaseModel):
    """A message on `disbursements.requests.v1`: one stage or one payment of a disbursement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: Annotated[
        Identifier, Field(description="Sender-chosen id; a report sent twice is applied once")
    ]
    bureau: Annotated[Identifier, Field(description="The bureau that tracks the disbursement")]
    disbursement_id: Identifier
    reported_by: Line100 = Field(description="The reporting system, e.g. 市财政局国库集中支付系统")
    report: Annotated[StageReportV1 | PaymentReportV1, Field(discriminator="kind")]
