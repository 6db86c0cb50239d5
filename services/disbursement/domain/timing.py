"""Time spent in each stage and time to account, from the stages' own times (never the recording times).

Working days are those of the Chinese calendar in Asia/Shanghai (weekends and public holidays off, 调休
Saturdays worked). "Within one working day" (一天到账) means credited on the day the allocation reached the
zone or on the next working day: at most one working day lies after the allocation's day up to the
credited day. Hours are wall-clock hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.disbursement.domain.disbursement import Disbursement
from shared.contracts.disbursement import PROGRESSION, Stage, Status
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar


@dataclass(frozen=True)
class Span:
    """A stage and how long the disbursement stayed in it (open-ended for the current stage)."""

    stage: str
    entered_at: datetime
    left_at: datetime | None
    hours: float
    workdays: int


def workdays(calendar: WorkdayCalendar, start: datetime, end: datetime) -> int:
    """Working days after start's local day up to and including end's local day."""
    return calendar.workdays_between(start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date())


def hours(start: datetime, end: datetime) -> float:
    """Wall-clock hours between two moments, to two decimals."""
    return round((end - start).total_seconds() / 3600, 2)


def milestones(d: Disbursement) -> list[tuple[str, datetime]]:
    """The stages entered, in the order of their own times: progression, first payment, credited, cancelled."""
    found: list[tuple[str, datetime]] = [
        (stage.value, at) for stage in PROGRESSION if (at := d.stage_time(stage)) is not None
    ]
    if d.payments:
        first = min(p.event.credited_at for p in d.payments)
        full = d.fully_credited_at
        if full is None or first < full:
            found.append((Status.PARTIALLY_CREDITED.value, first))
        if full is not None:
            found.append((Status.CREDITED.value, full))
    cancelled = d.stage_time(Stage.CANCELLED)
    if cancelled is not None:
        found.append((Status.CANCELLED.value, cancelled))
    return sorted(found, key=lambda m: m[1])


def spans(d: Disbursement, calendar: WorkdayCalendar, now: datetime) -> list[Span]:
    """Time in each stage: until the next stage's time; the current stage until now; final stages none."""
    found = milestones(d)
    out = []
    for i, (stage, at) in enumerate(found):
        final = stage in (Status.CREDITED.value, Status.CANCELLED.value)
        left = found[i + 1][1] if i + 1 < len(found) else (at if final else None)
        end = left or now
        out.append(Span(stage, at, left, hours(at, end), workdays(calendar, at, end)))
    return out


@dataclass(frozen=True)
class TimeToAccount:
    """From the allocation reaching the zone to the enterprise's account holding all of it."""

    hours: float
    workdays: int
    within_one_workday: bool
    seconds: int


def time_to_account(d: Disbursement, calendar: WorkdayCalendar) -> TimeToAccount | None:
    """Return time to account once fully credited with the allocation's arrival known; else None."""
    received, credited = d.stage_time(Stage.ALLOCATION_RECEIVED), d.fully_credited_at
    if received is None or credited is None:
        return None
    days = workdays(calendar, received, credited)
    seconds = max(0, int((credited - received).total_seconds()))
    return TimeToAccount(hours(received, credited), days, days <= 1 and credited >= received, seconds)
