"""The calendar in force as any service reads it: seeded years, overridden by the published calendar stream."""

from __future__ import annotations

from datetime import datetime

from shared.contracts.calendar import CALENDAR_STREAM, WorkdayCalendarPublished
from shared.contracts.text import read_stored
from shared.eventstore.recorder import EventRecorder
from shared.workdays.calendar import CalendarYear, WorkdayCalendar
from shared.workdays.seed import default_calendar


def calendar_year(event: WorkdayCalendarPublished, published_at: datetime) -> CalendarYear:
    """Return the calendar year an event publishes."""
    return CalendarYear(
        year=event.year,
        holidays=frozenset(event.holidays),
        makeup_workdays=frozenset(event.makeup_workdays),
        version=event.version,
        published_by=event.published_by,
        published_at=published_at,
    )


class PublishedCalendar:
    """Keeps a calendar caught up with the calendar stream of the event store (read only)."""

    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder
        self._calendar = default_calendar()
        self.version = 0

    async def current(self) -> WorkdayCalendar:
        """Return the calendar with every published year applied."""
        for envelope in await self._recorder.read_stream(CALENDAR_STREAM, from_version=self.version + 1):
            event = read_stored(WorkdayCalendarPublished, envelope.data)
            self._calendar.publish(calendar_year(event, envelope.occurred_at))
            self.version = envelope.version
        return self._calendar
