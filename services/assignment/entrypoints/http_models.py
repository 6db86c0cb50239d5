"""Request and response bodies of the assignment API.

Every request body is strict and bounded: strings are the safe text types of shared.contracts.text (no
control characters, never blank, a maximum length), lists have a maximum size, numbers and dates a range,
booleans are true or false (never "yes" or 1), and ids follow the Identifier pattern. The limits show in
the OpenAPI document.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from services.assignment.domain.staffing import leave_dates_are_bounded
from shared.contracts.answers import YEARS_2000_TO_2100, CalendarDate, Time, WholeNumber
from shared.contracts.assignment import Post
from shared.contracts.cases import CreditCode
from shared.contracts.text import (
    Identifier,
    Line50,
    Line200,
    OptionalText500,
    OptionalText2000,
    Text500,
    Text2000,
    Text5000,
)
from shared.workdays.calendar import SHANGHAI

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
MAX_SECTIONS = 20


def _plausible(day: date) -> date:
    # Why: a date near year 1 or 9999 overflows the working-day arithmetic; no leave is that far off.
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"须在 {FIRST_DAY} 至 {LAST_DAY} 之间 / must be between {FIRST_DAY} and {LAST_DAY}")
    return day


Day = Annotated[
    CalendarDate,
    AfterValidator(_plausible),
    Field(
        description=f"A date from {FIRST_DAY} to {LAST_DAY}",
        json_schema_extra={"pattern": YEARS_2000_TO_2100},
    ),
]
StaffId = Annotated[Identifier, Field(description="A staff_id from the roster")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddStaff(_Body):
    """A person to add to the roster."""

    name: Line50
    post: Post
    section: Annotated[Line50, Field(description="科室, e.g. 预算科")]


class ChangeStaff(_Body):
    """A new post and/or section (at least one); what is left out stays as it is."""

    post: Post | None = None
    section: Line50 | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ChangeStaff:
        if self.post is None and self.section is None:
            raise ValueError("请给出新的职务、科室或两者 / give post, section or both")
        return self


class RecordLeave(_Body):
    """Leave dates (inclusive); enterprises served go to the deputy, or the next eligible person."""

    first_day: Day
    last_day: Day
    reason: Line200
    deputy_staff_id: StaffId | None = None

    @model_validator(mode="after")
    def _bounded(self) -> RecordLeave:
        # Why here as well as on the board: implausible dates are invalid input (422), not a rule (409).
        refusal = leave_dates_are_bounded(self.first_day, self.last_day, datetime.now(SHANGHAI).date())
        if refusal:
            raise ValueError(refusal)
        return self


class Departure(_Body):
    """Why a person leaves the bureau (调离, 退休, 辞职 …)."""

    reason: Line200


class CancelLeave(_Body):
    """Why a leave is withdrawn."""

    reason: Line200


class ApproveFallback(_Body):
    """Leadership (局长 or 党支部书记) approves a fallback concierge for a waiting enterprise."""

    credit_code: CreditCode
    staff_id: StaffId
    approved_by: Annotated[
        Identifier | None,
        Field(
            description=(
                "Only with a bureau key: staff_id of the approving director or party-branch secretary. "
                "A signed-in leader leaves it out: the approver is the person signed in"
            )
        ),
    ] = None
    note: OptionalText500 = "经局班子研究同意"


class Reassign(_Body):
    """Move an enterprise to another concierge."""

    credit_code: CreditCode
    to_staff_id: StaffId
    reason: Text500


class Clarify(_Body):
    """Step 1 (摸清问题)."""

    summary: Text5000
    sections: list[Line50] = Field(min_length=1, max_length=MAX_SECTIONS)


class OpenTask(_Body):
    """Step 2 (积极协调): a task for a section, due in working days."""

    section: Line50
    description: Text2000
    working_days: WholeNumber = Field(ge=1, le=60, description="Chinese working days until due, 1 to 60")


class Note(_Body):
    """A free-text note (chasing a task)."""

    note: OptionalText2000 = ""


class Outcome(_Body):
    """How a task ended."""

    outcome: Text2000


class Reason(_Body):
    """Why (cancelling a task)."""

    reason: Text2000


class Procedure(_Body):
    """Step 3 (主动代办)."""

    description: Text2000


class Resolve(_Body):
    """Step 4 (加快解决)."""

    summary: Text5000
    settlement_intent: StrictBool = False


class Policy(_Body):
    """Step 5 (宣讲政策)."""

    policy: Line200
    note: OptionalText2000 = ""


class Rating(_Body):
    """Step 6 (征求意见)."""

    rating: WholeNumber = Field(ge=1, le=5)
    comment: OptionalText2000 = ""


class Recorded(BaseModel):
    """Answer to a command: the events it recorded."""

    recorded: list[str]
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)


class LeaveCard(BaseModel):
    """A leave not over yet, and where it stands."""

    leave_id: str
    first_day: date
    last_day: date
    reason: str
    deputy_staff_id: str | None
    state: str = Field(description="scheduled | started")


class StaffCard(BaseModel):
    """A person on the roster, as leadership sees them."""

    staff_id: str
    name: str
    post: Post
    section: str
    departed: bool = False
    departure_reason: str | None = None
    on_leave_today: bool
    leaves: list[LeaveCard] = Field(default_factory=list, description="Leaves not over yet")
    current_enterprises: list[str]
    enterprises_served: int
    idle_since: Time | None
    open_cases: int = 0
    open_tasks: int = 0
    overdue_tasks: int = 0


class Waiting(BaseModel):
    """An enterprise waiting for a concierge."""

    credit_code: str
    name: str
    case_ids: list[str]
    category: str
    queued_at: Time | None
