"""The dashboard, read from the read models (counters per bureau and per day), never from the events.

Definitions (README, "Dashboard"):
- Totals (allocated, credited, outstanding; count and amount by status) are as of now, all time.
- Time to account runs from the allocation reaching the zone (资金到区, its own time) to the enterprise's
  account holding all of it (the latest credited time); it counts the disbursements fully credited on the
  Asia/Shanghai days from..to (all time without them). Median and p90 are nearest-rank over whole minutes.
- Stuck: not credited or cancelled, with no stage or payment (by own time) for N working days.
- Arrears: outstanding now; overdue = money still owed after the due date (calendar days).
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement.projections.store import ReadModels
from services.disbursement.projections.views import totals_id
from shared.contracts.amounts import from_fen
from shared.contracts.disbursement import Status
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar


def nearest_rank(histogram: dict[int, int], share: float) -> int | None:
    """Return the nearest-rank percentile of a histogram {value: count}; None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank, seen = max(1, math.ceil(share * total)), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # pragma: no cover - rank <= total


def stuck_cutoff(calendar: WorkdayCalendar, today: date, workdays: int) -> datetime:
    """Return the moment before which a last change makes a disbursement stuck (N working days ago)."""
    day, counted = today, 0
    while counted < workdays:
        counted += calendar.is_workday(day)
        day -= timedelta(days=1)
    # A change on `day` or earlier has at least N working days after it up to today.
    return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI)


def _hours(minutes: int | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 2)


async def time_to_account(
    db: AsyncDatabase,
    names: ReadModels,
    bureau: str,
    period: tuple[date | None, date | None],
    totals: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return median, p90 and the share within one working day over the days in the period (or all time)."""
    start, end = period
    if start or end:
        query: dict[str, Any] = {"kind": "day", "bureau": bureau}
        query["day"] = {
            k: v for k, v in (("$gte", start and start.isoformat()), ("$lte", end and end.isoformat())) if v
        }
        documents = await db[names.dashboard].find(query, {"tta": 1}).to_list()
    elif totals is not None:
        documents = [totals]  # all time: the figures are in the totals document already read
    else:
        documents = await db[names.dashboard].find({"_id": totals_id(bureau)}, {"tta": 1}).to_list()
    histogram: dict[int, int] = {}
    credited = within = 0
    for doc in documents:
        tta = doc.get("tta") or {}
        credited += int(tta.get("credited", 0))
        within += int(tta.get("within_one_workday", 0))
        for minutes, count in (tta.get("minutes") or {}).items():
            if count:
                histogram[int(minutes)] = histogram.get(int(minutes), 0) + int(count)
    return {
        "credited": credited,
        "median_hours": _hours(nearest_rank(histogram, 0.5)),
        "p90_hours": _hours(nearest_rank(histogram, 0.9)),
        "within_one_workday": within,
        "share_within_one_workday": None if credited == 0 else f"{within / credited:.4f}",
    }


def sum_before(by_day: dict[str, Any], before: str) -> dict[str, Any]:
    """Add up per-day counters of the days before a day (YYYY-MM-DD sorts as text)."""
    days = [v for day, v in by_day.items() if day < before]
    return {
        "count": sum(int(v.get("count", 0)) for v in days),
        "outstanding": from_fen(sum(int(v.get("outstanding_fen", 0)) for v in days)),
    }


async def dashboard(
    db: AsyncDatabase,
    names: ReadModels,
    bureau: str,
    *,
    period: tuple[date | None, date | None],
    now: datetime,
    calendar: WorkdayCalendar,
    stuck_after_workdays: int,
) -> dict[str, Any]:
    """Return the bureau's dashboard (amounts as exact Decimals in yuan)."""
    totals = await db[names.dashboard].find_one({"_id": totals_id(bureau)}) or {}
    arrears = totals.get("arrears") or {}
    today = now.astimezone(SHANGHAI).date()
    by_status = totals.get("by_status") or {}
    return {
        "bureau": bureau,
        "as_of": now.astimezone(SHANGHAI),
        "period_from": period[0],
        "period_to": period[1],
        "disbursements": int(totals.get("disbursements", 0)),
        "allocated": from_fen(int(totals.get("allocated_fen", 0))),
        "credited": from_fen(int(totals.get("credited_fen", 0))),
        "outstanding": from_fen(int(totals.get("outstanding_fen", 0))),
        "by_status": [
            {
                "status": status.value,
                "count": int(by_status.get(status.value, {}).get("count", 0)),
                "allocated": from_fen(int(by_status.get(status.value, {}).get("allocated_fen", 0))),
                "credited": from_fen(int(by_status.get(status.value, {}).get("credited_fen", 0))),
            }
            for status in Status
        ],
        "time_to_account": await time_to_account(db, names, bureau, period, totals),
        "stuck_after_workdays": stuck_after_workdays,
        # Counters by day of last change (active disbursements) and by due day (open arrears): no scan.
        "stuck": sum_before(
            totals.get("active") or {}, stuck_cutoff(calendar, today, stuck_after_workdays).date().isoformat()
        ),
        "arrears": {
            "count": int(arrears.get("count", 0)),
            "owed": from_fen(int(arrears.get("owed_fen", 0))),
            "repaid": from_fen(int(arrears.get("repaid_fen", 0))),
            "outstanding": from_fen(int(arrears.get("outstanding_fen", 0))),
            "open": int(arrears.get("open", 0)),
            "overdue": sum_before(arrears.get("due") or {}, today.isoformat()),
        },
    }
