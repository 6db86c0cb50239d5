"""Assignment board events: the roster and every concierge decision of one bureau, on one stream.

Keeping roster changes and decisions on the same stream makes each decision see exactly the roster it was
taken against, and lets "why this person?" be answered from the events alone.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.cases import Category, Enterprise


class Post(StrEnum):
    """Posts (职务) of bureau staff."""

    DIRECTOR = "director"  # 局长
    PARTY_SECRETARY = "party_secretary"  # 党支部书记
    DEPUTY_DIRECTOR = "deputy_director"  # 副局长
    DEPUTY_SECRETARY = "deputy_secretary"  # 党支部副书记
    SECTION_CHIEF = "section_chief"  # 科室长
    EXPERIENCED_STAFF = "experienced_staff"  # 业务骨干
    SERVICE_MODEL = "service_model"  # 服务模范
    CLERK = "clerk"  # 经办人员


MANAGEMENT_POSTS = frozenset(
    {Post.DIRECTOR, Post.PARTY_SECRETARY, Post.DEPUTY_DIRECTOR, Post.DEPUTY_SECRETARY, Post.SECTION_CHIEF}
)
LEADERSHIP_POSTS = frozenset({Post.DIRECTOR, Post.PARTY_SECRETARY})
FALLBACK_POSTS = frozenset({Post.EXPERIENCED_STAFF, Post.SERVICE_MODEL})


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StaffMemberAdded(_Event):
    """A person joined the bureau's roster."""

    staff_id: str
    name: str
    post: Post
    section: str


class StaffMemberChanged(_Event):
    """A person's post or section changed."""

    staff_id: str
    post: Post
    section: str


class StaffLeaveRecorded(_Event):
    """A person is on leave for the dates given (inclusive)."""

    staff_id: str
    leave_id: str
    first_day: date
    last_day: date
    reason: str
    deputy_staff_id: str | None = Field(
        default=None, description="Who takes the person's enterprises while away (validated when recorded)"
    )


class StaffLeaveStarted(_Event):
    """A recorded leave began (its first day came, or it was recorded on a day it covers): hand-over done."""

    staff_id: str
    leave_id: str
    day: date


class StaffLeaveEnded(_Event):
    """A leave is over (its last day passed): the person is eligible again and the queue is served.

    Enterprises handed over during the leave stay with whoever took them (no second change of contact);
    leadership may move them back with a reassignment.
    """

    staff_id: str
    leave_id: str
    day: date


class StaffLeaveCancelled(_Event):
    """A leave was withdrawn before it ended; a person back early is eligible again at once."""

    staff_id: str
    leave_id: str
    reason: str


class StaffDeparted(_Event):
    """A person left the bureau: never picked again; their enterprises were handed over by the rules.

    The person stays in the history (every event naming them is kept); the roster shows them as departed.
    """

    staff_id: str
    reason: str


class CandidateConsidered(BaseModel):
    """One person looked at for an assignment, and why they could or could not take it."""

    model_config = ConfigDict(frozen=True)

    staff_id: str
    eligible: bool
    reason: str
    enterprises_served: int
    idle_since: str | None = None
    category_experience: int = 0


class ConciergeAssigned(_Event):
    """An enterprise got its dedicated concierge (专责店小二)."""

    enterprise: Enterprise
    staff_id: str
    staff_name: str
    post: Post
    case_ids: list[str]
    category: Category
    candidates: list[CandidateConsidered]
    rule_version: str
    fallback_approval_id: str | None = None
    replaces_staff_id: str | None = None
    reason: str = Field(description="Why this person, in one sentence")


class CaseJoinedEnterprise(_Event):
    """A new case of an enterprise that already has a concierge goes to the same concierge."""

    enterprise: Enterprise
    case_id: str
    staff_id: str
    reason: str | None = Field(
        default=None, description="Why this concierge, when it is not plain rule 4 (e.g. a reopened case)"
    )
    category: Category | None = Field(default=None, description="The case's category")


class EnterpriseQueued(_Event):
    """No eligible concierge is free: the enterprise waits (oldest first)."""

    enterprise: Enterprise
    case_id: str
    category: Category
    reason: str
    withdrawn_staff_id: str | None = Field(
        default=None, description="The concierge taken away (leave, departure, post change), if it had one"
    )
    case_ids: list[str] = Field(
        default_factory=list, description="Every open case of the enterprise, now without a concierge"
    )


class CaseLeftEnterprise(_Event):
    """A case of the enterprise was resolved."""

    enterprise: Enterprise
    case_id: str
    staff_id: str


class CaseLeftQueue(_Event):
    """A case of a waiting enterprise was resolved before any concierge was free: it stops waiting.

    When it was the enterprise's last open case the enterprise leaves the queue too (`enterprise_left`),
    so no concierge is later given an enterprise with nothing to solve.
    """

    enterprise: Enterprise
    case_id: str
    enterprise_left: bool


class ConciergeReleased(_Event):
    """All the enterprise's cases are resolved: its concierge is free for the next enterprise."""

    enterprise: Enterprise
    staff_id: str


class FallbackApproved(_Event):
    """Leadership approved an experienced staff member or service model as concierge for an enterprise."""

    approval_id: str
    credit_code: str
    staff_id: str
    approved_by: str
    note: str


class ConciergeReassigned(_Event):
    """Leadership moved an enterprise to another concierge (leave, conflict of interest, workload)."""

    enterprise: Enterprise
    from_staff_id: str
    to_staff_id: str
    to_staff_name: str
    reason: str
    case_ids: list[str]
    notify_enterprise: bool = True
    approved_by: str | None = Field(
        default=None,
        description="Who approved a leadership reassignment (the caller's API key id for now); "
        "None when the rules moved it (leave, departure, post change)",
    )


class NoticeRow(BaseModel):
    """One line of a notice's table, as printed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enterprise: str
    credit_code: str
    concierge: str
    post: str


class NoticePublished(_Event):
    """Leadership published the current assignments as an official notice (红头文件).

    The notice is generated from this board stream up to `board_version`, so it can be regenerated
    identically; the digests prove it.
    """

    notice_id: str
    document_number: str
    title: str
    issuer: str
    issued_on: date
    board_version: int
    enterprises: int
    pdf_sha256: str
    docx_sha256: str
    layout: int = Field(
        default=1,
        ge=1,
        description="Rendering layout: 1 = first version, 2 = GB/T 9704-2012 with embedded font",
    )
    rows: list[NoticeRow] | None = Field(
        default=None,
        description="The table as printed, so a download regenerates it without replaying the board "
        "(absent on notices published before it was recorded: those replay the board to board_version)",
    )


class ConciergeCapacitySet(_Event):
    """The bureau set how many enterprises one concierge serves at a time (default one)."""

    enterprises_per_concierge: int = Field(ge=1, le=20)
