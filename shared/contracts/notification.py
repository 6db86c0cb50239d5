"""Notification events: supervision orders (督办) and the enterprise's own rating, on the notification's streams."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

SUPERVISION_STREAM_TYPE = "supervision"  # stream id: supervision-{case_id}-{task_id}
FEEDBACK_STREAM_TYPE = "feedback"  # stream id: feedback_stream(token id)


def feedback_stream(token_id: str) -> str:
    """Return the stream of one rating link, whose token id is its resolution's CaseResolved event id (hex): its
    first event uses it up."""
    return f"feedback-{token_id}"


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SupervisionOrderIssued(_Event):
    """A coordination task overdue past the bureau's limit is put under supervision (督办) by leadership."""

    order_id: str
    case_id: str
    task_id: str
    section: str
    issued_by: str = Field(description="Who issues it: the bureau's leader on the rules' behalf (staff id)")
    issued_by_name: str
    issued_to: list[str] = Field(description="Staff ids the order is addressed to (section chief, concierge)")
    overdue_workdays: int = Field(ge=1)
    task_due_at: datetime
    order_due_at: datetime = Field(description="The order's own deadline, in working days from its issue")
    rules_version: int = Field(ge=1)


class SupervisionOrderSettled(_Event):
    """A supervision order ended: the task was closed or cancelled (in time or late)."""

    order_id: str
    case_id: str
    task_id: str
    outcome: str = Field(description="closed_in_time | closed_late | cancelled")
    settled_at: datetime


class EnterpriseRatedService(_Event):
    """The enterprise rated the service through its single-use rating link (评菜), no account needed."""

    case_id: str
    token_id: str
    rating: int = Field(ge=1, le=5)
    comment: str


class EscalationRulesSet(_Event):
    """A bureau changed its reminder and escalation ladder (a new version)."""

    version: int = Field(ge=1)
    remind_workdays_before: int = Field(ge=0, le=10)
    remind_on_due_day: bool
    supervise_after_overdue_workdays: int = Field(ge=1, le=30)
    supervision_deadline_workdays: int = Field(ge=1, le=30)


class EscalationRulesSetV2(EscalationRulesSet):
    """Schema version 2 of EscalationRulesSet: the task ladder plus the money ladders (stuck disbursements,
    arrears due dates). Only optional fields are added, so a version 1 event reads as version 2 with these
    defaults and needs no upcaster."""

    stuck_escalate_after_workdays: int = Field(2, ge=1, le=30)
    arrears_remind_workdays_before: int = Field(3, ge=0, le=10)
    arrears_remind_on_due_day: bool = True
    arrears_escalate_after_overdue_workdays: int = Field(3, ge=1, le=30)
    money_section: str = Field("", max_length=100)
