"""Reminder and escalation ladders: which timers a coordination task gets, counted on working days.

Timers are data (a due moment and what to do then), derived from events, so a restart loses none and a
published calendar year moves them: re-derive and replace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from shared.workdays.calendar import SHANGHAI, WorkdayCalendar

MORNING = time(9, 0)  # reminders go out at the start of a working day, not at midnight


class Step(StrEnum):
    """What a timer does when it falls due."""

    DUE_SOON = "due_soon"  # remind the concierge N working days before
    DUE_TODAY = "due_today"  # remind on the due day
    OVERDUE = "overdue"  # tell the concierge and escalate to the section chief
    SUPERVISION = "supervision"  # issue a supervision order (督办) to leadership
    # Money (domain/money_deadlines.py): a disbursement stuck in a stage, arrears near or past their due date.
    STUCK = "stuck"  # remind whoever answers for the disbursement
    STUCK_ESCALATED = "stuck_escalated"  # still stuck: tell leadership
    ARREARS_DUE_SOON = "arrears_due_soon"
    ARREARS_DUE_TODAY = "arrears_due_today"
    ARREARS_OVERDUE = "arrears_overdue"  # tell the responsible person and the money section's chiefs
    ARREARS_ESCALATED = "arrears_escalated"  # still unpaid: tell leadership


@dataclass(frozen=True)
class EscalationRules:
    """A bureau's ladder, as data, changed over HTTP with a version."""

    version: int = 1
    remind_workdays_before: int = 1  # 0: no early reminder
    remind_on_due_day: bool = True
    supervise_after_overdue_workdays: int = 2  # working days overdue before the 督办 order
    supervision_deadline_workdays: int = 2  # the order's own deadline, in working days
    # Money ladders (added in rules v2 events; older stored rules read these defaults).
    stuck_escalate_after_workdays: int = 2  # working days after the stuck reminder before leadership hears
    arrears_remind_workdays_before: int = 3  # 0: no early reminder
    arrears_remind_on_due_day: bool = True
    arrears_escalate_after_overdue_workdays: int = 3  # working days overdue before leadership hears
    money_section: str = ""  # the section (e.g. 资金科) whose chiefs answer for money without a concierge

    def problems(self) -> list[str]:
        """Return why these rules cannot be used (empty when fine)."""
        problems = []
        if not 1 <= self.stuck_escalate_after_workdays <= 30:
            problems.append("stuck_escalate_after_workdays must be 1..30")
        if not 0 <= self.arrears_remind_workdays_before <= 10:
            problems.append("arrears_remind_workdays_before must be 0..10")
        if not 1 <= self.arrears_escalate_after_overdue_workdays <= 30:
            problems.append("arrears_escalate_after_overdue_workdays must be 1..30")
        if not 0 <= self.remind_workdays_before <= 10:
            problems.append("remind_workdays_before must be 0..10")
        if not 1 <= self.supervise_after_overdue_workdays <= 30:
            problems.append("supervise_after_overdue_workdays must be 1..30")
        if not 1 <= self.supervision_deadline_workdays <= 30:
            problems.append("supervision_deadline_workdays must be 1..30")
        return problems


@dataclass(frozen=True)
class Timer:
    """One step of a task's ladder and when it falls due."""

    step: Step
    fire_at: datetime
    provisional: bool = False  # counted over a year not yet published: moves when it is
    calendar_versions: dict[int, int] = field(default_factory=dict)


def workday_morning(calendar: WorkdayCalendar, day: date) -> datetime:
    """Return 09:00 Asia/Shanghai of a day."""
    return datetime.combine(day, MORNING, SHANGHAI)


def previous_workday(calendar: WorkdayCalendar, day: date, count: int) -> date:
    """Return the count-th working day before a day."""
    seen = 0
    while seen < count:
        day -= timedelta(days=1)
        seen += calendar.is_workday(day)
    return day


def next_workday(calendar: WorkdayCalendar, day: date) -> date:
    """Return the first working day after a day."""
    day += timedelta(days=1)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def ladder(
    calendar: WorkdayCalendar, due_at: datetime, rules: EscalationRules, opened_at: datetime | None = None
) -> list[Timer]:
    """Return the timers of a task due at due_at (opened at opened_at, when known), in the order they fire."""
    due_day = due_at.astimezone(SHANGHAI).date()
    timers = []
    if rules.remind_workdays_before:
        soon = workday_morning(calendar, previous_workday(calendar, due_day, rules.remind_workdays_before))
        # An early reminder not after the opening would fire at once, beside the task_opened message that
        # already says the due date: it is left out. The due day, overdue and 督办 steps always stay.
        if opened_at is None or soon > opened_at:
            timers.append(Timer(Step.DUE_SOON, soon))
    if rules.remind_on_due_day:
        timers.append(Timer(Step.DUE_TODAY, workday_morning(calendar, due_day)))
    # Overdue is told at the start of the next working day: at midnight nobody reads it, and an
    # escalation ignores quiet hours.
    timers.append(Timer(Step.OVERDUE, workday_morning(calendar, next_workday(calendar, due_day))))
    supervision = calendar.add_workdays(due_at, rules.supervise_after_overdue_workdays)
    morning = workday_morning(calendar, supervision.due.date())
    timers.append(
        Timer(Step.SUPERVISION, morning, supervision.provisional, dict(supervision.calendar_versions))
    )
    return sorted(timers, key=lambda t: t.fire_at)


def overdue_workdays(calendar: WorkdayCalendar, due_at: datetime, now: datetime) -> int:
    """Count the working days a task is overdue at now (0 when not overdue)."""
    if now <= due_at:
        return 0
    return max(
        calendar.workdays_between(due_at.astimezone(SHANGHAI).date(), now.astimezone(SHANGHAI).date()), 1
    )
