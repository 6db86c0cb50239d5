"""Figures leadership reports, each defined once, from assignment's case summaries and the board.

Two kinds of figure. A *state* figure describes the bureau now and ignores the period. An *event* figure
counts what happened, limited to the period when one is given (`from`..`to`, whole days in Asia/Shanghai,
both included) and over all time otherwise. Reopened work is counted honestly: a reopening undoes the
case's resolution (and its settlement intent) and its rating as *state*, while the events that happened
(the first resolution, the low rating) still count where events are counted.

| figure | kind | definition |
| --- | --- | --- |
| `cases_total` | state | cases the bureau opened, all time (= sum of `cases_by_status`, = sum of `cases_by_category`) |
| `cases_by_status` | state | cases by status now: `open` (no concierge recorded yet), `in_progress`, `resolved` (resolved, not rated yet), `closed` (resolved and rated 3–5), `reopened` (rated 1–2, being worked again) |
| `cases_by_category` | state | cases by category |
| `cases_resolved` | state | cases whose resolution stands now: `resolved` + `closed`; a reopened case counts again only once resolved again |
| `cases_reopened` | state | cases reopened and not resolved again (= `cases_by_status.reopened`) |
| `enterprises_in_resolution` | state | enterprises with at least one case that entered the resolution procedure (进入解决程序: step 1, the problem clarified), resolved since or not |
| `enterprises_with_settlement_intent` | state | enterprises with at least one case whose standing resolution recorded a preliminary settlement intent (初步达成解决意向); a reopened case's intent no longer counts |
| `waiting_enterprises` | state | enterprises waiting in the queue for a concierge |
| `open_tasks`, `overdue_tasks` | state | coordination tasks open now, and those of them past their due time |
| `cases_opened` | event | cases opened in the period |
| `enterprises_assigned` | event | distinct enterprises with a case that got its first concierge in the period |
| `resolutions` | event | resolutions recorded in the period; a case resolved, reopened and resolved again counts twice |
| `resolutions_with_settlement_intent` | event | those of `resolutions` that recorded a settlement intent |
| `reopenings` | event | cases reopened in the period (by a rating of 1 or 2) |
| `ratings`, `average_rating` | event | ratings collected in the period (a low rating that reopened a case included), and their mean to two decimals (null with none) |
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel

from services.assignment.domain.board import AssignmentBoard
from shared.workdays.calendar import SHANGHAI

MAX_PERIOD_YEARS = 5
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
STATUSES = ("open", "in_progress", "resolved", "closed", "reopened")


class PeriodRefused(ValueError):
    """The period asked for is not one the figures can be given for; the message says why."""


@dataclass(frozen=True)
class Period:
    """Whole days in Asia/Shanghai, both included; an unbounded period counts all time."""

    first_day: date | None = None
    last_day: date | None = None

    @classmethod
    def of(cls, first_day: date | None, last_day: date | None) -> Period:
        """Return the period, or raise PeriodRefused (only one end given, ends reversed, over 5 years)."""
        if (first_day is None) != (last_day is None):
            raise PeriodRefused("请同时给出 from 和 to / give both from and to, or neither")
        if first_day is None or last_day is None:
            return cls()
        if not (EARLIEST <= first_day <= LATEST and EARLIEST <= last_day <= LATEST):
            raise PeriodRefused(f"日期须在 {EARLIEST} 至 {LATEST} 之间 / dates from {EARLIEST} to {LATEST}")
        if last_day < first_day:
            raise PeriodRefused("to 早于 from / to is before from")
        if last_day >= _years_after(first_day, MAX_PERIOD_YEARS):
            raise PeriodRefused(f"统计区间不得超过 {MAX_PERIOD_YEARS} 年 / a period is at most 5 years")
        return cls(first_day, last_day)

    @property
    def unbounded(self) -> bool:
        """Tell whether the period is all time."""
        return self.first_day is None

    def holds(self, moment: datetime | None) -> bool:
        """Tell whether a moment falls in the period (always, for an unbounded one)."""
        if moment is None:
            return False
        if self.first_day is None or self.last_day is None:
            return True
        start = datetime.combine(self.first_day, time(), SHANGHAI)
        end = datetime.combine(self.last_day + timedelta(days=1), time(), SHANGHAI)
        return start <= moment < end


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28) + timedelta(days=1)


class BureauStatistics(BaseModel):
    """One bureau's figures: state now, and events in the period (see the module's table)."""

    bureau: str
    period_from: date | None
    period_to: date | None
    cases_total: int
    cases_by_status: dict[str, int]
    cases_by_category: dict[str, int]
    cases_resolved: int
    cases_reopened: int
    enterprises_in_resolution: int
    enterprises_with_settlement_intent: int
    waiting_enterprises: int
    open_tasks: int
    overdue_tasks: int
    cases_opened: int
    enterprises_assigned: int
    resolutions: int
    resolutions_with_settlement_intent: int
    reopenings: int
    ratings: int
    average_rating: float | None


async def bureau_statistics(
    board: AssignmentBoard,
    summaries: AsyncIterator[dict[str, Any]],
    now: datetime,
    period: Period | None = None,
) -> BureauStatistics:
    """Compute the figures from the board and assignment's case summaries (one pass over the bureau's cases)."""
    period = period or Period()
    by_status: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    in_resolution: set[str] = set()
    settled: set[str] = set()
    assigned: set[str] = set()
    ratings: list[int] = []
    opened = resolutions = resolutions_settling = reopenings = open_tasks = overdue = 0
    async for view in summaries:
        by_status[view["status"]] += 1
        by_category[view["category"]] += 1
        code = view["enterprise"]["credit_code"]
        if (view.get("steps") or {}).get("clarify"):
            in_resolution.add(code)
        if view.get("resolution") and view["resolution"]["settlement_intent"]:
            settled.add(code)
        for task in view.get("tasks", []):
            if task["state"] == "open":
                open_tasks += 1
                overdue += int(task["due_at"] < now)
        opened += period.holds(view.get("opened_at"))
        # A summary folded before assigned_at was kept only says it has a concierge (all-time figure).
        if period.holds(view.get("assigned_at")) or (period.unbounded and view.get("concierge")):
            assigned.add(code)
        for resolution in view.get("resolutions", []):
            if period.holds(resolution["at"]):
                resolutions += 1
                resolutions_settling += int(resolution["settlement_intent"])
        ratings += [r["rating"] for r in view.get("ratings", []) if period.holds(r["at"])]
        reopenings += sum(period.holds(at) for at in view.get("reopenings", []))
    return BureauStatistics(
        bureau=board.bureau,
        period_from=period.first_day,
        period_to=period.last_day,
        cases_total=sum(by_status.values()),
        cases_by_status=dict(sorted(by_status.items(), key=lambda kv: _status_order(kv[0]))),
        cases_by_category=dict(sorted(by_category.items())),
        cases_resolved=by_status["resolved"] + by_status["closed"],
        cases_reopened=by_status["reopened"],
        enterprises_in_resolution=len(in_resolution),
        enterprises_with_settlement_intent=len(settled),
        waiting_enterprises=len(board.queue()),
        open_tasks=open_tasks,
        overdue_tasks=overdue,
        cases_opened=opened,
        enterprises_assigned=len(assigned),
        resolutions=resolutions,
        resolutions_with_settlement_intent=resolutions_settling,
        reopenings=reopenings,
        ratings=len(ratings),
        average_rating=mean_to_two_places(ratings),
    )


def _status_order(status: str) -> int:
    return STATUSES.index(status) if status in STATUSES else len(STATUSES)


def mean_to_two_places(ratings: list[int]) -> float | None:
    """Return the mean rounded half up to two decimals, as a leader's spreadsheet does (3.125 is 3.13), or None."""
    if not ratings:
        return None
    # Decimal: a binary float mean (2.675) and round()'s half-to-even would both give one hundredth less.
    mean = (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return float(mean)
