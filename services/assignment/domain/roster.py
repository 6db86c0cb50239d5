"""What the board knows of people and enterprises: the roster entries and the open enterprise files."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from shared.contracts.assignment import Post
from shared.contracts.cases import Category, Enterprise


@dataclass
class Leave:
    """A recorded leave and where it stands (started and ended are set by events, never by the clock)."""

    leave_id: str
    first_day: date
    last_day: date
    reason: str
    deputy_staff_id: str | None = None
    started: bool = False
    ended: bool = False
    cancelled: bool = False

    def covers(self, day: date) -> bool:
        """Tell whether the person is away that day under this leave."""
        return not self.cancelled and self.first_day <= day <= self.last_day

    def overlaps(self, first_day: date, last_day: date) -> bool:
        """Tell whether this (not cancelled) leave shares a day with another span."""
        return not self.cancelled and self.first_day <= last_day and first_day <= self.last_day

    @property
    def state(self) -> str:
        """cancelled | ended | started | scheduled."""
        if self.cancelled:
            return "cancelled"
        return "ended" if self.ended else "started" if self.started else "scheduled"


@dataclass
class Staff:
    """A person on the roster and their concierge record."""

    staff_id: str
    name: str
    post: Post
    section: str
    leaves: dict[str, Leave] = field(default_factory=dict)  # by leave id, in the order recorded
    serving: set[str] = field(default_factory=set)  # credit codes
    served: set[str] = field(default_factory=set)  # every enterprise ever given to them, once each
    idle_since: datetime | None = None
    experience: Counter[str] = field(default_factory=Counter)
    departed: bool = False
    departure_reason: str | None = None

    @property
    def served_total(self) -> int:
        """Enterprises served so far (rule 5): one taken back after a leave is still one."""
        return len(self.served)

    def on_leave(self, day: date) -> bool:
        """Tell whether the person is on leave that day (a cancelled leave does not count)."""
        return any(leave.covers(day) for leave in self.leaves.values())


@dataclass
class EnterpriseFile:
    """An enterprise with unresolved cases and its concierge (None while it waits)."""

    enterprise: Enterprise
    category: Category
    open_cases: list[str]
    staff_id: str | None = None
    queued_at: datetime | None = None
    assigned_at: datetime | None = (
        None  # when its concierge of now was given it (a notice is not dated earlier)
    )
