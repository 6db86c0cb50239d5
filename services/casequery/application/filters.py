"""The case list's filters, including those a leader uses, as MongoDB queries on the case view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from shared.contracts.cases import CaseStatus, Category, Channel
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar

MAX_WAITING_WORKDAYS = 1000  # about four years: a longer wait is a data problem, not a filter


def waiting_cutoff(workdays: int, now: datetime, calendar: WorkdayCalendar) -> datetime:
    """Return the moment a case must have begun waiting before, to have waited more than `workdays`.

    A case waits one working day for each working day after the day it began waiting (Asia/Shanghai), up to
    and including today: begun on a Monday, it has waited 1 working day on Tuesday and 0 on Monday. So it has
    waited more than n when the (n+1)-th working day counted back from today is after the day it began.
    """
    day, counted = now.astimezone(SHANGHAI).date(), 0
    while True:
        counted += calendar.is_workday(day)
        if counted > workdays:
            return _start_of(day)
        day -= timedelta(days=1)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, SHANGHAI)


@dataclass(frozen=True)
class CaseFilter:
    """Optional filters of the case list; every one given must hold (AND)."""

    status: CaseStatus | None = None
    category: Category | None = None
    enterprise: str | None = None
    channel: Channel | None = None
    flagged_for_leadership: bool | None = None
    overdue: bool | None = None
    waiting_more_than: int | None = None
    concierge: str | None = None

    def query(
        self, bureau: str, now: datetime | None = None, calendar: WorkdayCalendar | None = None
    ) -> dict[str, Any]:
        """Return the MongoDB query for this filter within a bureau (now and calendar for the timed ones)."""
        q: dict[str, Any] = {"bureau": bureau}
        for field, value in (("status", self.status), ("category", self.category), ("channel", self.channel)):
            if value is not None:
                q[field] = value.value
        if self.enterprise:
            q["enterprise.credit_code"] = self.enterprise.strip().upper()
        if self.flagged_for_leadership is not None:
            q["flagged_for_leadership"] = self.flagged_for_leadership
        if self.concierge is not None:
            q["concierge.staff_id"] = self.concierge
        if self.overdue is not None:
            if now is None:
                raise ValueError("the overdue filter needs the current time")
            overdue_task = {"$elemMatch": {"state": "open", "due_at": {"$lt": now}}}
            q["tasks"] = overdue_task if self.overdue else {"$not": overdue_task}
        if self.waiting_more_than is not None:
            if now is None or calendar is None:
                raise ValueError("the waiting filter needs the current time and the working-day calendar")
            cutoff = waiting_cutoff(self.waiting_more_than, now, calendar)
            q["waiting_since"] = {"$ne": None, "$lt": cutoff}
        return q
