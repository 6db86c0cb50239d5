"""The working-day calendar in force: seeded years, overridden by published WorkdayCalendarPublished events."""

from __future__ import annotations

from services.assignment.application.boards import Context, new_events
from shared.contracts.calendar import CALENDAR_STREAM, WorkdayCalendarPublished
from shared.contracts.text import read_stored
from shared.eventstore.recorder import ConcurrencyError, EventRecorder, Recording
from shared.workdays.calendar import WorkdayCalendar
from shared.workdays.published import calendar_year
from shared.workdays.seed import default_calendar


class Calendars:
    """Keeps the calendar caught up with the calendar stream."""

    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder
        self._calendar = default_calendar()
        self._version = 0
        self._published: dict[int, WorkdayCalendarPublished] = {}  # the event in force, by year

    async def current(self) -> WorkdayCalendar:
        """Return the calendar with every published year applied."""
        for envelope in await self._recorder.read_stream(CALENDAR_STREAM, from_version=self._version + 1):
            event = read_stored(WorkdayCalendarPublished, envelope.data)
            self._calendar.publish(calendar_year(event, envelope.occurred_at))
            self._published[event.year] = event
            self._version = envelope.version
        return self._calendar

    async def publish(self, context: Context, event_without_version: dict) -> WorkdayCalendarPublished:
        """Publish (or correct) a year: its version is one more than the one in force."""
        for _ in range(10):
            calendar = await self.current()
            year = calendar.year(event_without_version["year"])
            event = WorkdayCalendarPublished(**event_without_version, version=year.version + 1)
            if (in_force := self._published.get(event.year)) and _same_days(in_force, event):
                return in_force  # a PUT of the year in force changes nothing: a repeated PUT is one version
            recording = Recording(
                stream_id=CALENDAR_STREAM,
                stream_type="calendar",
                expected_version=self._version,
                bureau=context.bureau,
                actor=context.actor,
                command_id=context.command_id,
                correlation_id=context.correlation_id,
            )
            try:
                result = await self._recorder.append(recording, new_events([event]))
            except ConcurrencyError:
                continue
            return read_stored(WorkdayCalendarPublished, result.events[0].data)
        raise ConcurrencyError(CALENDAR_STREAM, self._version)


def _same_days(a: WorkdayCalendarPublished, b: WorkdayCalendarPublished) -> bool:
    return (set(a.holidays), set(a.makeup_workdays), a.source) == (
        set(b.holidays),
        set(b.makeup_workdays),
        b.source,
    )
