"""The working-day calendar in force for this service: seeded years, overridden by published years."""

from __future__ import annotations

from shared.contracts.calendar import CALENDAR_STREAM, WorkdayCalendarPublished
from shared.eventstore.recorder import EventRecorder
from shared.workdays.calendar import CalendarYear, WorkdayCalendar
from shared.workdays.seed import default_calendar


class Calendars:
    """Keeps the calendar caught up with the zone's calendar stream (read from the event store)."""

    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder
        self._calendar = default_calendar()
        self._version = 0

    async def current(self) -> WorkdayCalendar:
        """Return the calendar with every published year applied."""
        for envelope in await self._recorder.read_stream(CALENDAR_STREAM, from_version=self._version + 1):
            event = WorkdayCalendarPublished.model_validate(envelope.data)
            self._calendar.publish(
                CalendarYear(
                    year=event.year,
                    holidays=frozenset(event.holidays),
                    makeup_workdays=frozenset(event.makeup_workdays),
                    version=event.version,
                    published_by=event.published_by,
                    published_at=envelope.occurred_at,
                )
            )
            self._version = envelope.version
        return self._calendar
