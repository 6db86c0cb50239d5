"""Roster decisions of the board: people join, change post, leave the bureau, go on leave and come back.

A leave starts and ends by events (`StaffLeaveStarted`, `StaffLeaveEnded`), decided when its day comes by
the scheduled check (`application/scheduled.py`), never by a timer: the board holds the data, so a check
run twice, or by two instances, finds nothing left to do the second time. Eligibility itself follows the
dates (rule 2), so nobody is picked on a day of leave even before the check ran.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import singledispatch
from typing import TYPE_CHECKING

from pydantic import BaseModel

from services.assignment.domain.roster import EnterpriseFile, Leave, Staff
from services.assignment.domain.rules import (
    AssignmentRefused,
    UnknownOnTheBoard,
    a_post_change_keeps_a_concierge_only_if_the_post_may_serve,
)
from shared.contracts.assignment import (
    MANAGEMENT_POSTS,
    Post,
    StaffDeparted,
    StaffLeaveCancelled,
    StaffLeaveEnded,
    StaffLeaveRecorded,
    StaffLeaveStarted,
    StaffMemberAdded,
    StaffMemberChanged,
)
from shared.workdays.calendar import SHANGHAI

# A leave starts within a year of today (either way) and lasts a year at most.
LEAVE_HORIZON = timedelta(days=366)


def leave_dates_are_bounded(first_day: date, last_day: date, today: date) -> str | None:
    """A leave ends after it starts, starts within a year of today (either way) and lasts a year at most."""
    if last_day < first_day:
        return "假期结束日早于开始日 / leave ends before it starts"
    if not today - LEAVE_HORIZON <= first_day <= today + LEAVE_HORIZON:
        return f"假期开始日须在今天前后一年内 / a leave starts between {today - LEAVE_HORIZON} and {today + LEAVE_HORIZON}"
    if last_day - first_day >= LEAVE_HORIZON:
        return "假期不得超过一年 / a leave lasts a year at most"
    return None


def leaves_of_one_person_never_overlap(person: Staff, first_day: date, last_day: date) -> str | None:
    """A person has at most one leave on any day (the same leave recorded twice overlaps itself)."""
    for leave in person.leaves.values():
        if leave.overlaps(first_day, last_day):
            return (
                f"与已登记的假期 {leave.leave_id} ({leave.first_day}–{leave.last_day}) 重叠 "
                f"/ overlaps leave {leave.leave_id}; cancel it first to change the dates"
            )
    return None


def a_deputy_can_take_over(
    board: StaffingDecisions, person: Staff, deputy_id: str, first_day: date, last_day: date, now: datetime
) -> str | None:
    """A deputy is another present management-post person, not away then, free enough if the hand-over is now."""
    # A leave starting later is checked again on its first day: a deputy busy then gives way to the rules.
    if deputy_id == person.staff_id:
        return "代理人不能是休假者本人 / the deputy cannot be the person on leave"
    deputy = board.staff.get(deputy_id)
    if deputy is None:
        return f"代理人 {deputy_id} 不在本局名册 / deputy {deputy_id} is not on the roster"
    if deputy.departed:
        return f"代理人 {deputy.name} 已离职 / deputy {deputy_id} left the bureau"
    if deputy.post not in MANAGEMENT_POSTS:
        return f"代理人 {deputy.name} 不是管理岗位 / deputy {deputy_id} is not on a management post"
    if any(leave.overlaps(first_day, last_day) for leave in deputy.leaves.values()):
        return f"代理人 {deputy.name} 在此期间也休假 / deputy {deputy_id} is on leave then too"
    starts_now = first_day <= now.astimezone(SHANGHAI).date() <= last_day
    if starts_now and len(deputy.serving) + len(person.serving) > board.capacity:
        return (
            f"代理人 {deputy.name} 已服务 {len(deputy.serving)} 家企业, 上限 {board.capacity} "
            f"/ deputy {deputy_id} cannot take {len(person.serving)} more enterprise(s)"
        )
    return None


class StaffingDecisions:
    """The roster half of AssignmentBoard (a mixin: the board supplies state and the assignment helpers)."""

    bureau: str
    capacity: int
    staff: dict[str, Staff]
    files: dict[str, EnterpriseFile]

    if TYPE_CHECKING:

        def _emit(self, events: list[BaseModel], now: datetime) -> list[BaseModel]: ...
        def _person(self, staff_id: str) -> Staff: ...
        def serve_queue(self, now: datetime, only: str | None = None) -> list[BaseModel]: ...
        def _reassign_away(
            self,
            credit_code: str,
            to_staff_id: str | None,
            reason: str,
            now: datetime,
            required: bool = False,
            approved_by: str | None = None,
        ) -> list[BaseModel]: ...

    def add_staff(self, staff_id: str, name: str, post: Post, section: str, now: datetime) -> list[BaseModel]:
        """Add a person to the roster; a management-post newcomer takes the oldest waiting enterprise."""
        if staff_id in self.staff:
            raise AssignmentRefused(f"{staff_id} 已在本局名册中 / staff {staff_id} is already on the roster")
        added = self._emit([StaffMemberAdded(staff_id=staff_id, name=name, post=post, section=section)], now)
        return [*added, *self.serve_queue(now)]

    def change_staff(
        self, staff_id: str, post: Post | None, section: str | None, now: datetime
    ) -> list[BaseModel]:
        """Change post and/or section; a concierge whose new post may not serve hands over by the rules."""
        person = self._present(staff_id)
        if post is None and section is None:
            raise AssignmentRefused("请给出新的职务或科室 / give a new post or section")
        old_post, new_post, new_section = person.post, post or person.post, section or person.section
        if (new_post, new_section) == (person.post, person.section):
            return []
        events = self._emit([StaffMemberChanged(staff_id=staff_id, post=new_post, section=new_section)], now)
        why = a_post_change_keeps_a_concierge_only_if_the_post_may_serve(old_post, new_post)
        if why:
            for code in sorted(person.serving):
                events += self._reassign_away(code, None, f"{person.name}: {why}", now)
        if new_post != old_post:
            events += self.serve_queue(now)  # a new management post may take a waiting enterprise
        return events

    def depart(self, staff_id: str, reason: str, now: datetime) -> list[BaseModel]:
        """A person leaves the bureau: their enterprises go to the next eligible person, or wait."""
        person = self._present(staff_id)
        if not reason.strip():
            raise AssignmentRefused("离职需要说明原因 / a departure needs a reason")
        events = self._emit([StaffDeparted(staff_id=staff_id, reason=reason)], now)
        for code in sorted(person.serving):
            events += self._reassign_away(code, None, f"{person.name} left the bureau: {reason}", now)
        return events

    def record_leave(
        self,
        leave_id: str,
        staff_id: str,
        first_day: date,
        last_day: date,
        reason: str,
        deputy: str | None,
        now: datetime,
    ) -> list[BaseModel]:
        """Record leave; if it covers today it starts now (hand-over to the deputy or the next eligible)."""
        person = self._present(staff_id)
        if leave_id in person.leaves:
            return []  # a retried command
        refusal = leave_dates_are_bounded(
            first_day, last_day, now.astimezone(SHANGHAI).date()
        ) or leaves_of_one_person_never_overlap(person, first_day, last_day)
        if refusal is None and deputy is not None:
            refusal = a_deputy_can_take_over(self, person, deputy, first_day, last_day, now)
        if refusal:
            raise AssignmentRefused(refusal)
        recorded = StaffLeaveRecorded(
            staff_id=staff_id,
            leave_id=leave_id,
            first_day=first_day,
            last_day=last_day,
            reason=reason,
            deputy_staff_id=deputy,
        )
        return [*self._emit([recorded], now), *self.advance_leave(staff_id, leave_id, now)]

    def cancel_leave(self, staff_id: str, leave_id: str, reason: str, now: datetime) -> list[BaseModel]:
        """Withdraw a leave that has not ended; a person back early is eligible at once and serves the queue."""
        person = self._present(staff_id)
        leave = person.leaves.get(leave_id)
        if leave is None:
            why = f"{person.name} 没有假期 {leave_id} / no leave {leave_id}"
            raise UnknownOnTheBoard(why, leave_id)
        if leave.cancelled or leave.ended:
            raise AssignmentRefused(
                f"假期 {leave_id} 已{'取消' if leave.cancelled else '结束'} / leave is {leave.state}"
            )
        cancelled = StaffLeaveCancelled(staff_id=staff_id, leave_id=leave_id, reason=reason)
        return [*self._emit([cancelled], now), *self.serve_queue(now)]

    def leaves_due(self, now: datetime) -> list[tuple[str, str]]:
        """Return (staff id, leave id) of every leave that should start or end by today and has not."""
        today = now.astimezone(SHANGHAI).date()
        return [
            (person.staff_id, leave.leave_id)
            for person in self.staff.values()
            if not person.departed
            for leave in person.leaves.values()
            if not (leave.cancelled or leave.ended)
            and (leave.last_day < today or (not leave.started and leave.first_day <= today))
        ]

    def advance_leave(self, staff_id: str, leave_id: str, now: datetime) -> list[BaseModel]:
        """Start a leave whose first day came (hand-over) or end one whose last day passed (queue served)."""
        person = self._person(staff_id)
        leave = person.leaves.get(leave_id)
        today = now.astimezone(SHANGHAI).date()
        if person.departed or leave is None or leave.cancelled or leave.ended:
            return []
        if leave.last_day < today:  # over (perhaps while no check ran: it then never needed starting)
            ended = StaffLeaveEnded(staff_id=staff_id, leave_id=leave_id, day=today)
            return [*self._emit([ended], now), *self.serve_queue(now)]
        if leave.started or today < leave.first_day:
            return []
        events = self._emit([StaffLeaveStarted(staff_id=staff_id, leave_id=leave_id, day=today)], now)
        why = f"{person.name} on leave {leave.first_day}–{leave.last_day}: {leave.reason}"
        for code in sorted(person.serving):
            events += self._reassign_away(code, leave.deputy_staff_id, why, now)
        return events

    def _present(self, staff_id: str) -> Staff:
        person = self._person(staff_id)
        if person.departed:
            raise AssignmentRefused(f"{person.name} 已离职 / staff {staff_id} left the bureau")
        return person


@singledispatch
def apply_roster(event: BaseModel, staff: dict[str, Staff]) -> None:
    """Change the roster by one event (events of other kinds leave it alone)."""


@apply_roster.register
def _(e: StaffMemberAdded, staff: dict[str, Staff]) -> None:
    staff[e.staff_id] = Staff(e.staff_id, e.name, e.post, e.section)


@apply_roster.register
def _(e: StaffMemberChanged, staff: dict[str, Staff]) -> None:
    staff[e.staff_id].post, staff[e.staff_id].section = e.post, e.section


@apply_roster.register
def _(e: StaffLeaveRecorded, staff: dict[str, Staff]) -> None:
    staff[e.staff_id].leaves[e.leave_id] = Leave(
        e.leave_id, e.first_day, e.last_day, e.reason, e.deputy_staff_id
    )


@apply_roster.register
def _(e: StaffLeaveStarted, staff: dict[str, Staff]) -> None:
    staff[e.staff_id].leaves[e.leave_id].started = True


@apply_roster.register
def _(e: StaffLeaveEnded, staff: dict[str, Staff]) -> None:
    staff[e.staff_id].leaves[e.leave_id].ended = True


@apply_roster.register
def _(e: StaffLeaveCancelled, staff: dict[str, Staff]) -> None:
    staff[e.staff_id].leaves[e.leave_id].cancelled = True


@apply_roster.register
def _(e: StaffDeparted, staff: dict[str, Staff]) -> None:
    staff[e.staff_id].departed, staff[e.staff_id].departure_reason = True, e.reason
