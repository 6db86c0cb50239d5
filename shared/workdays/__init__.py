"""Chinese working days (工作日): holidays and 调休 make-up days, per year, versioned and updatable."""

from shared.workdays.calendar import CalendarYear, Deadline, WorkdayCalendar

__all__ = ["CalendarYear", "Deadline", "WorkdayCalendar"]
