"""Request and response bodies of the assignment API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.assignment import Post


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddStaff(_Body):
    """A person to add to the roster."""

    name: str = Field(min_length=1, max_length=50)
    post: Post
    section: str = Field(min_length=1, max_length=50, description="科室, e.g. 预算科")


class ChangeStaff(_Body):
    """A new post or section."""

    post: Post
    section: str = Field(min_length=1, max_length=50)


class RecordLeave(_Body):
    """Leave dates (inclusive); enterprises served go to the deputy, or the next eligible person."""

    first_day: date
    last_day: date
    reason: str = Field(min_length=1, max_length=200)
    deputy_staff_id: str | None = None


class ApproveFallback(_Body):
    """Leadership (局长 or 党支部书记) approves a fallback concierge for a waiting enterprise."""

    credit_code: str
    staff_id: str
    approved_by: str = Field(description="staff_id of the approving director or party-branch secretary")
    note: str = Field(default="经局班子研究同意", max_length=500)


class Reassign(_Body):
    """Move an enterprise to another concierge."""

    credit_code: str
    to_staff_id: str
    reason: str = Field(min_length=1, max_length=500)


class Clarify(_Body):
    """Step 1 (摸清问题)."""

    summary: str = Field(min_length=1, max_length=5000)
    sections: list[str] = Field(min_length=1)


class OpenTask(_Body):
    """Step 2 (积极协调): a task for a section, due in working days."""

    section: str = Field(min_length=1, max_length=50)
    description: str = Field(min_length=1, max_length=2000)
    working_days: int = Field(ge=1, le=60)


class Note(_Body):
    """A free-text note (chasing a task)."""

    note: str = Field(default="", max_length=2000)


class Outcome(_Body):
    """How a task ended."""

    outcome: str = Field(min_length=1, max_length=2000)


class Reason(_Body):
    """Why (cancelling a task)."""

    reason: str = Field(min_length=1, max_length=2000)


class Procedure(_Body):
    """Step 3 (主动代办)."""

    description: str = Field(min_length=1, max_length=2000)


class Resolve(_Body):
    """Step 4 (加快解决)."""

    summary: str = Field(min_length=1, max_length=5000)
    settlement_intent: bool = False


class Policy(_Body):
    """Step 5 (宣讲政策)."""

    policy: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=2000)


class Rating(_Body):
    """Step 6 (征求意见)."""

    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class Recorded(BaseModel):
    """Answer to a command: the events it recorded."""

    recorded: list[str]
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)


class StaffCard(BaseModel):
    """A person on the roster, as leadership sees them."""

    staff_id: str
    name: str
    post: Post
    section: str
    on_leave_today: bool
    current_enterprises: list[str]
    enterprises_served: int
    idle_since: datetime | None
    open_cases: int = 0
    open_tasks: int = 0
    overdue_tasks: int = 0


class Waiting(BaseModel):
    """An enterprise waiting for a concierge."""

    credit_code: str
    name: str
    case_ids: list[str]
    category: str
    queued_at: datetime | None
