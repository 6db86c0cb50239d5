"""HTTP entry points of the roster: people, posts, departures and leaves (admin key for changes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from services.assignment.application.boards import Boards, Context
from services.assignment.application.people import follow_roster
from services.assignment.application.scheduled import advance_leaves
from services.assignment.application.workload import workload_by_concierge
from services.assignment.domain.roster import Staff
from services.assignment.entrypoints import http_models as m
from services.assignment.entrypoints.http import (
    REFUSED,
    IdempotencyKey,
    answer,
    board_decision,
    now,
)
from services.assignment.entrypoints.idempotent import idempotent, new_id
from shared.auth.rights import Reader, RosterManager
from shared.contracts.answers import TrueFalse
from shared.http_query import KNOWN_QUERY_ONLY

router = APIRouter(prefix="/api/v1", tags=["assignment"])
IncludeDeparted = Annotated[
    TrueFalse,
    Query(description="Also list people who left the bureau (shown with departed: true)"),
]


@router.post("/staff", status_code=201, responses=REFUSED, summary="Add a person to the roster")
async def add_staff(
    body: m.AddStaff, caller: RosterManager, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Add a staff member; the answer carries the new staff_id."""

    async def run(context: Context) -> m.Recorded:
        staff_id = new_id(context, "staff")
        events = await board_decision(
            request,
            context,
            lambda b: (
                []
                if staff_id in b.staff
                else b.add_staff(staff_id, body.name, body.post, body.section, now())
            ),
        )
        return answer(events, staff_id=staff_id)

    return await idempotent(request, caller, idempotency_key, body, m.Recorded, run)


@router.patch(
    "/staff/{staff_id}",
    responses=REFUSED,
    summary="Change a person's post and/or section; a concierge whose new post may not serve hands over",
)
async def change_staff(
    staff_id: str,
    body: m.ChangeStaff,
    caller: RosterManager,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Partial update: post, section or both; what is left out stays."""

    async def run(context: Context) -> m.Recorded:
        events = await board_decision(
            request, context, lambda b: b.change_staff(staff_id, body.post, body.section, now())
        )
        await _follow(request, caller.bureau, staff_id)
        return answer(events)

    return await idempotent(request, caller, idempotency_key, body, m.Recorded, run, status.HTTP_200_OK)


@router.post(
    "/staff/{staff_id}/departure",
    status_code=201,
    responses=REFUSED,
    summary="A person leaves the bureau: their enterprises are handed over; history keeps them",
)
async def depart(
    staff_id: str,
    body: m.Departure,
    caller: RosterManager,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Record the departure; each enterprise goes to the next eligible person, or waits with the reason."""

    async def run(context: Context) -> m.Recorded:
        events = await board_decision(request, context, lambda b: b.depart(staff_id, body.reason, now()))
        await _follow(request, caller.bureau, staff_id)
        return answer(events)

    return await idempotent(request, caller, idempotency_key, body, m.Recorded, run)


@router.post("/staff/{staff_id}/leaves", status_code=201, responses=REFUSED, summary="Record leave")
async def record_leave(
    staff_id: str,
    body: m.RecordLeave,
    caller: RosterManager,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Record leave; it starts (hand-over) today if it covers today, else on its first day."""

    async def run(context: Context) -> m.Recorded:
        leave_id = new_id(context, "leave")
        events = await board_decision(
            request,
            context,
            lambda b: b.record_leave(
                leave_id, staff_id, body.first_day, body.last_day, body.reason, body.deputy_staff_id, now()
            ),
        )
        return answer(events, leave_id=leave_id)

    return await idempotent(request, caller, idempotency_key, body, m.Recorded, run)


@router.post(
    "/staff/{staff_id}/leaves/{leave_id}/cancel",
    status_code=201,
    responses=REFUSED,
    summary="Cancel a leave that has not ended; a person back early is eligible again at once",
)
async def cancel_leave(
    staff_id: str,
    leave_id: str,
    body: m.CancelLeave,
    caller: RosterManager,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Record StaffLeaveCancelled; waiting enterprises are served by whoever is now free."""

    async def run(context: Context) -> m.Recorded:
        return answer(
            await board_decision(
                request, context, lambda b: b.cancel_leave(staff_id, leave_id, body.reason, now())
            )
        )

    return await idempotent(request, caller, idempotency_key, body, m.Recorded, run)


@router.post(
    "/staff/leave-check",
    summary="Run the scheduled leave check for the caller's bureau now (leaves due to start or end)",
)
async def leave_check(caller: RosterManager, request: Request) -> m.Recorded:
    """Start and end the leaves whose day came, as the scheduled check does; a repeat records nothing."""
    boards: Boards = request.app.state.boards
    return answer(await advance_leaves(boards, caller.bureau, now()))


@router.get("/staff", summary="The roster", dependencies=[KNOWN_QUERY_ONLY])
async def roster(
    caller: Reader, request: Request, include_departed: IncludeDeparted = "false"
) -> list[m.StaffCard]:
    """Every person of the caller's bureau (people who left only with include_departed=true)."""
    return [c for c in await _cards(request, caller.bureau) if include_departed == "true" or not c.departed]


@router.get(
    "/concierges",
    summary="Concierges: post, current enterprise, cases served, open and overdue tasks",
    dependencies=[KNOWN_QUERY_ONLY],
)
async def concierges(
    caller: Reader, request: Request, include_departed: IncludeDeparted = "false"
) -> list[m.StaffCard]:
    """Everyone who serves or has served as a concierge, with their workload."""
    return [
        c
        for c in await _cards(request, caller.bureau)
        if (c.enterprises_served or c.current_enterprises) and (include_departed == "true" or not c.departed)
    ]


async def _follow(request: Request, bureau: str, staff_id: str) -> None:
    # The account follows at once (the board-event policy does it too, for changes made elsewhere): a
    # departed person's token answers 401 on the next request, a new post's rights apply on the next one.
    await follow_roster(request.app.state.boards, request.app.state.accounts, bureau, staff_id)


async def _cards(request: Request, bureau: str) -> list[m.StaffCard]:
    board = await request.app.state.boards.current(bureau)
    today = now().date()
    workload = await workload_by_concierge(request.app.state.summaries.of_bureau(bureau), now())
    cards = []
    for s in sorted(board.staff.values(), key=lambda s: s.staff_id):
        load = workload.get(s.staff_id, {})
        cards.append(
            m.StaffCard(
                staff_id=s.staff_id,
                name=s.name,
                post=s.post,
                section=s.section,
                departed=s.departed,
                departure_reason=s.departure_reason,
                on_leave_today=s.on_leave(today),
                leaves=_leaves(s),
                current_enterprises=sorted(s.serving),
                enterprises_served=s.served_total,
                idle_since=s.idle_since,
                open_cases=sum(len(board.files[c].open_cases) for c in s.serving if c in board.files),
                open_tasks=load.get("open_tasks", 0),
                overdue_tasks=load.get("overdue_tasks", 0),
            )
        )
    return cards


def _leaves(person: Staff) -> list[m.LeaveCard]:
    return [
        m.LeaveCard(
            leave_id=leave.leave_id,
            first_day=leave.first_day,
            last_day=leave.last_day,
            reason=leave.reason,
            deputy_staff_id=leave.deputy_staff_id,
            state=leave.state,
        )
        for leave in person.leaves.values()
        if leave.state in ("scheduled", "started")
    ]
