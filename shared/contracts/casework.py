"""The six-step flow of a case (点菜 催菜 做菜 上菜 荐菜 评菜), as events on the case's stream."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConciergeAssignedToCase(_Event):
    """The case is served by this concierge (recorded from the assignment board's decision)."""

    staff_id: str
    staff_name: str
    board_event_id: str
    board_version: int | None = Field(
        default=None,
        ge=1,
        description="Version of the board event this records; a case ignores board decisions it is past",
    )


class ConciergeWithdrawnFromCase(_Event):
    """The case's concierge was taken away (leave, departure, post change) and nobody eligible was free:
    the case waits in the bureau's queue with no concierge until the board assigns one."""

    staff_id: str = Field(description="The concierge withdrawn")
    reason: str
    board_event_id: str
    board_version: int = Field(ge=1, description="Version of the board event this records")


class ProblemClarified(_Event):
    """Step 1, 摸清问题 (点菜): the problem as understood, and the sections involved."""

    summary: str
    sections: list[str]


class CoordinationTaskOpened(_Event):
    """Step 2, 积极协调 (催菜): a section is asked to act by a due date in working days."""

    task_id: str
    section: str
    description: str
    working_days: int
    opened_at: datetime
    due_at: datetime
    due_provisional: bool
    calendar_versions: dict[int, int] | None = Field(
        default=None, description="Calendar version of each year the count crossed (0: provisional)"
    )


class CoordinationTaskChased(_Event):
    """Step 2: the concierge chased (催办) a task."""

    task_id: str
    note: str
    overdue: bool


class CoordinationTaskClosed(_Event):
    """Step 2: a section finished its task."""

    task_id: str
    outcome: str


class CoordinationTaskCancelled(_Event):
    """Step 2: a task was dropped, with the reason."""

    task_id: str
    reason: str


class ProcedureHandled(_Event):
    """Step 3, 主动代办 (做菜): a procedure done on the enterprise's behalf."""

    description: str


class CaseResolved(_Event):
    """Step 4, 加快解决 (上菜): the case is resolved."""

    summary: str
    settlement_intent: bool = Field(description="A preliminary settlement intent (初步达成解决意向)")


class PolicyRecommended(_Event):
    """Step 5, 宣讲政策 (荐菜): a policy explained to the enterprise."""

    policy: str
    note: str


class RatingCollected(_Event):
    """Step 6, 征求意见 (评菜): the enterprise's rating and comment."""

    rating: int = Field(ge=1, le=5)
    comment: str


class CaseReopened(_Event):
    """A low rating (1 or 2) reopens the case for the same concierge and flags it for leadership."""

    reason: str
    flagged_for_leadership: bool


class CoordinationTaskDueRecomputed(_Event):
    """A due date was recomputed after its year's calendar was published or corrected; both are kept."""

    task_id: str
    previous_due_at: datetime
    due_at: datetime
    due_provisional: bool
    calendar_year: int
    calendar_version: int
    previous_calendar_version: int | None = Field(
        default=None, description="Version of that year the previous due date was counted with"
    )
