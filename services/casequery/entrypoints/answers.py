"""What the case query API answers, and in which time zone.

One convention for the whole API: every time is answered in Asia/Shanghai with its `+08:00` offset, the time
users read (commands answer so too). Stored times stay in UTC; the conversion happens here, on the way out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.contracts.answers import in_shanghai as moment_in_shanghai
from shared.contracts.cases import CaseStatus, Category, Channel, Enterprise
from shared.contracts.disbursement import DISBURSEMENT_EVENT_MODELS
from shared.contracts.envelope import Actor, EventEnvelope
from shared.contracts.events import EVENT_MODELS
from shared.crypto.masking import mask_email, mask_mobile, mask_name
from shared.crypto.vault import Vault
from shared.workdays.calendar import SHANGHAI


def in_shanghai(value: Any) -> Any:
    """Return the value with every datetime in it (in dicts and lists too) moved to Asia/Shanghai."""
    if isinstance(value, datetime):
        return moment_in_shanghai(value)
    if isinstance(value, dict):
        return {k: in_shanghai(v) for k, v in value.items()}
    if isinstance(value, list):
        return [in_shanghai(v) for v in value]
    return value


def event_data_in_shanghai(event_type: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
    """Return an event's payload with its time fields (as its model declares them) in Asia/Shanghai."""
    model = EVENT_MODELS.get((event_type, schema_version)) or DISBURSEMENT_EVENT_MODELS.get(
        (event_type, schema_version)
    )
    if model is None:
        return data
    converted = dict(data)
    for name in model.model_fields:
        value = data.get(name)
        if isinstance(value, str):
            try:  # only the fields that hold a moment: dates and free text stay as they are
                moment = datetime.fromisoformat(value)
            except ValueError:
                continue
            if moment.tzinfo is not None and "T" in value:
                converted[name] = moment.astimezone(SHANGHAI).isoformat()
        elif isinstance(value, datetime):
            converted[name] = in_shanghai(value).isoformat()
    return converted


def envelope_in_shanghai(envelope: EventEnvelope) -> EventEnvelope:
    """Return an event envelope with its times and its payload's times in Asia/Shanghai."""
    return envelope.model_copy(
        update={
            "occurred_at": in_shanghai(envelope.occurred_at),
            "recorded_at": in_shanghai(envelope.recorded_at),
            "data": event_data_in_shanghai(envelope.event_type, envelope.schema_version, envelope.data),
        }
    )


class Concierge(BaseModel):
    """The case's dedicated concierge (专责店小二)."""

    staff_id: str
    name: str
    since: datetime


class Task(BaseModel):
    """A coordination task (积极协调) for a section."""

    task_id: str
    section: str
    description: str
    due_at: datetime
    due_provisional: bool
    state: str
    chased: int
    opened_at: datetime
    outcome: str | None = None
    due_history: list[dict[str, Any]] = Field(
        default=[], description="Earlier due dates, e.g. provisional ones"
    )


class Steps(BaseModel):
    """When each of the six steps was first taken (None: not yet)."""

    clarify: datetime | None = None
    coordinate: datetime | None = None
    handle: datetime | None = None
    resolve: datetime | None = None
    recommend: datetime | None = None
    review: datetime | None = None


class DecisionPerson(BaseModel):
    """A person named by a decision, with name and post as the roster had them then."""

    staff_id: str | None = None
    name: str | None = None
    post: str | None = None
    key_id: str | None = Field(default=None, description="The API key that approved, when no person is known")


class CandidateExplained(BaseModel):
    """One person the board considered, and why they were or were not chosen."""

    staff_id: str
    name: str | None = None
    post: str | None = None
    eligible: bool
    chosen: bool
    reason: str = Field(description="The rule verdict recorded for this person, e.g. eligible, on leave")
    not_chosen_because: str | None = Field(
        default=None,
        description="Why another was chosen: the rule that excluded them, or the preference (rule 5)",
    )
    enterprises_served: int
    category_experience: int
    idle_since: datetime | None = None


DecisionKind = Literal[
    "assigned",
    "fallback_assigned",
    "handed_over",
    "reassigned",
    "joined_enterprise",
    "queued",
    "left_queue",
    "left_enterprise",
    "fallback_approved",
]


class AssignmentDecision(BaseModel):
    """A board decision about the case, with its explanation."""

    kind: DecisionKind
    label: str = Field(description="The decision in words (Chinese first)")
    concierge: DecisionPerson | None = Field(default=None, description="Who serves the case by this decision")
    reason: str | None = Field(default=None, description="Why this person (or why the case waits)")
    candidates: list[CandidateExplained] = Field(default=[], description="Everyone considered, chosen first")
    rule_version: str | None = None
    decided_at: datetime
    board_event_id: str
    board_version: int
    approved_by: DecisionPerson | None = Field(
        default=None, description="The approving leader, when there is one"
    )
    previous_staff_id: str | None = Field(default=None, description="The concierge this decision replaced")


class QueuePlace(BaseModel):
    """Where a waiting case's enterprise stands in the bureau's queue now."""

    position: int = Field(description="1 = next to be served")
    enterprises_ahead: int
    queued_at: datetime
    reason: str = Field(description="Why the enterprise waits")


class WaitingForConcierge(BaseModel):
    """The concierge was withdrawn (leave, departure, post change) and nobody eligible was free."""

    since: datetime
    withdrawn_staff_id: str
    reason: str


class SupervisionOrder(BaseModel):
    """A supervision order (督办) on an overdue coordination task, issued by the notification service's ladder."""

    order_id: str
    task_id: str
    section: str
    issued_by: str = Field(
        description="Staff id of the leader it is issued in the name of ('system' when none)"
    )
    issued_by_name: str
    issued_to: list[str]
    overdue_workdays: int
    task_due_at: datetime
    order_due_at: datetime = Field(description="The order's own deadline")
    issued_at: datetime
    outcome: str | None = Field(
        default=None, description="closed_in_time | closed_late | cancelled; None: open"
    )
    settled_at: datetime | None = None


class TimeToAccount(BaseModel):
    """From the allocation reaching the zone (资金到区) to the enterprise's account holding all of it."""

    hours: float = Field(description="Wall-clock hours, two decimals")
    workdays: int = Field(
        description="Working days after the arrival's day up to the credited day (Shanghai)"
    )
    within_one_working_day: bool = Field(
        description="一天到账: credited at most one working day after arrival"
    )


class CaseDisbursement(BaseModel):
    """A disbursement (资金拨付) linked to the case: its money and where it stands. Amounts are yuan strings."""

    disbursement_id: str
    allocated: str = Field(description='Yuan as a decimal string, e.g. "70000000.00"')
    credited: str = Field(description='The sum credited so far, e.g. "0.00"')
    status: str = Field(
        description="opened, allocation_received, ..., partially_credited, credited, cancelled"
    )
    source: str = Field(description="Who allocated it, e.g. 市财政局")
    fund_type: str
    policy_reference: str | None = None
    opened_at: datetime
    allocation_received_at: datetime | None = None
    fully_credited_at: datetime | None = None
    time_to_account: TimeToAccount | None = Field(default=None, description="Once fully credited")


class ContactShown(BaseModel):
    """The enterprise's contact as lists show it: masked; `erased` once the enterprise's key was destroyed."""

    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    erased: bool = False


class CaseView(BaseModel):
    """A case as the bureau sees it."""

    case_id: str
    bureau: str
    status: CaseStatus
    enterprise: Enterprise
    category: Category
    title: str
    description: str
    channel: Channel
    legacy: bool
    source: str
    opened_at: datetime
    updated_at: datetime
    version: int
    concierge: Concierge | None = None
    assignment: AssignmentDecision | None = Field(
        default=None, description="The board decision in force for the case, with its explanation (now only)"
    )
    queue: QueuePlace | None = Field(
        default=None, description="Its place in the queue while it waits (now only)"
    )
    waiting_since: datetime | None = Field(default=None, description="Waiting for a concierge since")
    waiting_for_concierge: WaitingForConcierge | None = None
    steps: Steps = Steps()
    problem: dict[str, Any] | None = None
    clarifications: list[dict[str, Any]] = Field(default=[], description="Every clarification, in order")
    tasks: list[Task] = []
    open_tasks: int = 0
    procedures: list[dict[str, Any]] = []
    policies: list[dict[str, Any]] = []
    resolution: dict[str, Any] | None = None
    rating: dict[str, Any] | None = None
    ratings: list[dict[str, Any]] = Field(default=[], description="Every rating, in order")
    flagged_for_leadership: bool = False
    contact: ContactShown | None = Field(default=None, description="The enterprise's contact, masked")
    supervision_orders: list[SupervisionOrder] = Field(
        default=[], description="Supervision orders (督办) on the case's overdue tasks, with their outcome"
    )
    disbursements: list[CaseDisbursement] = Field(
        default=[],
        description="Disbursements linked to the case, oldest first (the case now only; not in lists)",
    )


class CasePage(BaseModel):
    """One page of the case list."""

    items: list[CaseView]
    total: int
    limit: int
    offset: int


class HistoryEntry(BaseModel):
    """One entry of the case's history: an event of the case, a board decision, supervision, or its money."""

    source: Literal["case", "board", "supervision", "disbursement"] = Field(
        description="case: the case's own stream; board: board-<bureau>; supervision: supervision-<case>-<task>;"
        " disbursement: disbursement-<id> of a disbursement linked to the case"
    )
    stream_id: str
    version: int = Field(description="Position of the event in its own stream")
    position: int | None = Field(default=None, description="Global order in the event store")
    event_id: str
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    summary: str = Field(description="What happened, in words (Chinese first)")
    data: dict[str, Any] | None = Field(default=None, description="The case event's payload")
    decision: AssignmentDecision | None = Field(default=None, description="A board decision's explanation")


async def shown_contact(sealed: dict[str, Any] | None, vault: Vault) -> dict[str, Any] | None:
    """Open a sealed contact and mask it; an erased one says so."""
    if not sealed:
        return None
    opened = await vault.open(sealed)
    if opened is None:
        return {"erased": True}
    return {
        "name": mask_name(opened["name"]) if opened.get("name") else None,
        "mobile": mask_mobile(opened["mobile"]) if opened.get("mobile") else None,
        "email": mask_email(opened["email"]) if opened.get("email") else None,
    }


def case_answer(doc: dict[str, Any]) -> CaseView:
    """Return a case view document as the API answers it."""
    return CaseView.model_validate(in_shanghai({k: v for k, v in doc.items() if k != "_id"}))


def reads_as_a_case(doc: dict[str, Any]) -> bool:
    """Tell whether a stored view reads as a case (one written by hand, or by a faulty code, may not)."""
    try:
        case_answer({**doc, "contact": None, "assignment": None, "queue": None})
    except (ValueError, TypeError, KeyError, AttributeError):  # pydantic's ValidationError is a ValueError
        return False
    return True


def history_answer(entry: dict[str, Any]) -> HistoryEntry:
    """Return a history entry as the API answers it."""
    schema_version = entry.get("schema_version")
    data = entry.get("data")
    if data is not None and schema_version is not None:
        data = event_data_in_shanghai(entry["event_type"], schema_version, data)
    fields = {k: v for k, v in entry.items() if k not in ("schema_version", "data")}
    return HistoryEntry.model_validate({**in_shanghai(fields), "data": data})
