"""Deadlines in working hours ("a complete filing is signed off within 2 hours"), on working days only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from shared.workdays.calendar import SHANGHAI, WorkdayCalendar


@dataclass(frozen=True)
class OfficeHours:
    """The office day in Asia/Shanghai: morning and afternoon sessions (lunch is not counted)."""

    sessions: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))


def add_working_hours(
    calendar: WorkdayCalendar, start: datetime, hours: float, office: OfficeHours = OfficeHours()
) -> datetime:
    """Return the moment `hours` of office time after start, skipping nights, lunch, weekends and holidays."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if hours <= 0:
        raise ValueError("hours must be positive")
    left = timedelta(hours=hours)
    now = start.astimezone(SHANGHAI)
    while True:
        day = now.date()
        if calendar.is_workday(day):
            for opens, closes in office.sessions:
                begin = max(now, datetime.combine(day, opens, SHANGHAI))
                end = datetime.combine(day, closes, SHANGHAI)
                if begin >= end:
                    continue
                if begin + left <= end:
                    return begin + left
                left -= end - begin
                now = end
        now = datetime.combine(day + timedelta(days=1), time(0, 0), SHANGHAI)
