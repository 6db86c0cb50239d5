"""Money ladders: a disbursement stuck in one stage, and arrears near or past their due date.

Counted like the task ladders (working days of the versioned calendar, Asia/Shanghai, reminders at 09:00), so
a published or corrected year moves them: re-derive and replace. "Stuck after N working days" means what the
disbursement dashboard means: N working days lie after the day of the last change, up to today.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from services.notification.domain.deadlines import (
    EscalationRules,
    Step,
    Timer,
    next_workday,
    previous_workday,
    workday_morning,
)
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar

FINAL_STATUSES = frozenset({"credited", "cancelled"})  # nothing left to chase


def _nth_workday_morning(calendar: WorkdayCalendar, start: datetime, workdays: int) -> Timer:
    deadline = calendar.add_workdays(start, workdays)
    return Timer(
        Step.STUCK,
        workday_morning(calendar, deadline.due.date()),
        deadline.provisional,
        dict(deadline.calendar_versions),
    )


def stuck_since(opened_at: datetime, own_times: Iterable[datetime | None]) -> datetime:
    """Return when a disbursement last changed, as the dashboard counts "stuck": the latest own time of its
    reports and payments (in whatever order they came), the opening's recording time when none has one."""
    # Reports carry the moment the stage happened, often days before anyone recorded it: counting from the
    # recording (or from the arrival order) would remind days after the dashboard already shows it stuck.
    return max((t for t in own_times if t is not None), default=opened_at)


def stuck_ladder(
    calendar: WorkdayCalendar, last_change_at: datetime, stuck_after: int, rules: EscalationRules
) -> list[Timer]:
    """Return the timers of a disbursement whose stage last changed at last_change_at."""
    stuck = _nth_workday_morning(calendar, last_change_at, stuck_after)
    later = _nth_workday_morning(calendar, last_change_at, stuck_after + rules.stuck_escalate_after_workdays)
    escalated = Timer(Step.STUCK_ESCALATED, later.fire_at, later.provisional, later.calendar_versions)
    return [stuck, escalated]


def last_workday_on_or_before(calendar: WorkdayCalendar, day: date) -> date:
    """Return the day itself when it is a working day, else the working day before it."""
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def arrears_ladder(
    calendar: WorkdayCalendar, due_on: date, rules: EscalationRules, today: date | None = None
) -> list[Timer]:
    """Return the timers of arrears due on a calendar day (the term is in calendar days, not working days).

    Given today (Asia/Shanghai), reminders of a due day already gone are left out: arrears recorded (or
    replanned) late must not be announced as "due soon".
    """
    # A due date on a weekend or holiday is reminded on the working day before it: nobody reads it that day,
    # and the money must leave before the date passes. Arrears recorded since 民法典第二百零三条 moves a last
    # day off are due on a working day (this applies to older events, or to a day a calendar correction took off).
    reminder_day = last_workday_on_or_before(calendar, due_on)
    timers = []
    soon_is_gone = today is not None and today >= reminder_day  # the due day's own reminder says it now
    if rules.arrears_remind_workdays_before and not soon_is_gone:
        day = previous_workday(calendar, reminder_day, rules.arrears_remind_workdays_before)
        timers.append(Timer(Step.ARREARS_DUE_SOON, workday_morning(calendar, day)))
    if rules.arrears_remind_on_due_day and (today is None or today <= due_on):
        timers.append(Timer(Step.ARREARS_DUE_TODAY, workday_morning(calendar, reminder_day)))
    timers.append(Timer(Step.ARREARS_OVERDUE, workday_morning(calendar, next_workday(calendar, due_on))))
    end_of_due_day = datetime.combine(due_on, datetime.max.time(), SHANGHAI)
    escalation = calendar.add_workdays(end_of_due_day, rules.arrears_escalate_after_overdue_workdays)
    timers.append(
        Timer(
            Step.ARREARS_ESCALATED,
            workday_morning(calendar, escalation.due.date()),
            escalation.provisional,
            dict(escalation.calendar_versions),
        )
    )
    return sorted(timers, key=lambda t: t.fire_at)


def overdue_days(due_on: date, now: datetime) -> int:
    """Count the calendar days arrears are late at now (0 on or before the due date), as the regulation counts."""
    return max((now.astimezone(SHANGHAI).date() - due_on).days, 0)
