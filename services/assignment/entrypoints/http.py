"""HTTP entry points of the assignment service: roster, assignments, and the six steps of a case."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import BaseModel

from services.assignment.application.boards import Boards, Cases, Context, http_context
from services.assignment.application.statistics import BureauStatistics, bureau_statistics
from services.assignment.domain.board import AssignmentBoard
from services.assignment.domain.casework import CaseFile, StepRefused
from services.assignment.domain.rules import AssignmentRefused
from services.assignment.entrypoints import http_models as m
from shared.auth.http import Caller, Writer
from shared.auth.keys import Principal, Role
from shared.contracts.envelope import EventEnvelope
from shared.workdays.calendar import SHANGHAI

router = APIRouter(prefix="/api/v1", tags=["assignment"])
IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=128)]
REFUSED: dict[int | str, dict[str, Any]] = {409: {"description": "A rule refuses it now; detail says why"}}


def _context(principal: Principal, key: str | None) -> Context:
    return http_context(principal.bureau, principal.key_id, key, None)


def _new_id(principal: Principal, key: str | None, kind: str) -> str:
    # With an Idempotency-Key a retry names the same thing, so its answer matches the first one.
    if key:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{principal.bureau}:{kind}:{key}"))
    return str(uuid.uuid4())


def _leadership(principal: Principal) -> Principal:
    if principal.role is not Role.ADMIN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only a bureau admin key may change the roster or assignments"
        )
    return principal


def _now() -> datetime:
    return datetime.now(SHANGHAI)


def _answer(events: list[EventEnvelope] | None, **detail: Any) -> m.Recorded:
    if events is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "case not found")
    return m.Recorded(recorded=[e.event_type for e in events], detail=detail)


async def _board_decision(
    request: Request, context: Context, decide: Callable[[AssignmentBoard], list[BaseModel]]
) -> list[EventEnvelope]:
    boards: Boards = request.app.state.boards
    try:
        return await boards.decide(context, decide)
    except AssignmentRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


async def _case_decision(
    request: Request, context: Context, case_id: str, decide: Callable[[CaseFile], list[BaseModel]]
) -> list[EventEnvelope] | None:
    cases: Cases = request.app.state.cases
    try:
        return await cases.decide(context, case_id, decide)
    except StepRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


async def _step(
    request: Request,
    caller: Principal,
    key: str | None,
    case_id: str,
    decide: Callable[[CaseFile], list[BaseModel]],
) -> m.Recorded:
    return _answer(await _case_decision(request, _context(caller, key), case_id, decide))


# ---- roster ----------------------------------------------------------------------------------
@router.post("/staff", status_code=201, responses=REFUSED, summary="Add a person to the roster")
async def add_staff(
    body: m.AddStaff, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Add a staff member; the answer carries the new staff_id."""
    _leadership(caller)
    staff_id = _new_id(caller, idempotency_key, "staff")
    events = await _board_decision(
        request,
        _context(caller, idempotency_key),
        lambda b: (
            [] if staff_id in b.staff else b.add_staff(staff_id, body.name, body.post, body.section, _now())
        ),
    )
    return _answer(events, staff_id=staff_id)


@router.patch("/staff/{staff_id}", responses=REFUSED, summary="Change a person's post or section")
async def change_staff(
    staff_id: str,
    body: m.ChangeStaff,
    caller: Writer,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Change post or section."""
    _leadership(caller)
    events = await _board_decision(
        request,
        _context(caller, idempotency_key),
        lambda b: b.change_staff(staff_id, body.post, body.section, _now()),
    )
    return _answer(events)


@router.post("/staff/{staff_id}/leaves", status_code=201, responses=REFUSED, summary="Record leave")
async def record_leave(
    staff_id: str,
    body: m.RecordLeave,
    caller: Writer,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Record leave; a concierge on leave today is replaced (deputy, or the next eligible person)."""
    _leadership(caller)
    leave_id = _new_id(caller, idempotency_key, "leave")
    events = await _board_decision(
        request,
        _context(caller, idempotency_key),
        lambda b: b.record_leave(
            leave_id, staff_id, body.first_day, body.last_day, body.reason, body.deputy_staff_id, _now()
        ),
    )
    return _answer(events, leave_id=leave_id)


@router.get("/staff", summary="The roster")
async def roster(caller: Caller, request: Request) -> list[m.StaffCard]:
    """Every person of the caller's bureau."""
    return await _cards(request, caller.bureau)


@router.get(
    "/concierges", summary="Concierges: post, current enterprise, cases served, open and overdue tasks"
)
async def concierges(caller: Caller, request: Request) -> list[m.StaffCard]:
    """Everyone who serves or has served as a concierge, with their workload."""
    return [c for c in await _cards(request, caller.bureau) if c.enterprises_served or c.current_enterprises]


async def _cards(request: Request, bureau: str) -> list[m.StaffCard]:
    board = await request.app.state.boards.current(bureau)
    today = _now().date()
    workload = await request.app.state.workload(bureau, _now())
    cards = []
    for s in sorted(board.staff.values(), key=lambda s: s.staff_id):
        load = workload.get(s.staff_id, {})
        cards.append(
            m.StaffCard(
                staff_id=s.staff_id,
                name=s.name,
                post=s.post,
                section=s.section,
                on_leave_today=s.on_leave(today),
                current_enterprises=sorted(s.serving),
                enterprises_served=s.served_total,
                idle_since=s.idle_since,
                open_cases=sum(len(board.files[c].open_cases) for c in s.serving if c in board.files),
                open_tasks=load.get("open_tasks", 0),
                overdue_tasks=load.get("overdue_tasks", 0),
            )
        )
    return cards


@router.get("/statistics", summary="The bureau's figures: assigned, in resolution, settlements, ratings")
async def statistics(caller: Caller, request: Request) -> BureauStatistics:
    """Statistics of the caller's bureau, now."""
    board = await request.app.state.boards.current(caller.bureau)
    return await bureau_statistics(board, request.app.state.case_views, _now())


# ---- assignments -----------------------------------------------------------------------------
@router.get("/assignments/queue", summary="Enterprises waiting for a concierge, oldest first")
async def queue(caller: Caller, request: Request) -> list[m.Waiting]:
    """The queue of the caller's bureau."""
    board = await request.app.state.boards.current(caller.bureau)
    return [
        m.Waiting(
            credit_code=f.enterprise.credit_code,
            name=f.enterprise.name,
            case_ids=f.open_cases,
            category=f.category.value,
            queued_at=f.queued_at,
        )
        for f in board.queue()
    ]


@router.post(
    "/assignments/approvals", status_code=201, responses=REFUSED, summary="Approve a fallback concierge"
)
async def approve(
    body: m.ApproveFallback, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Leadership approves experienced staff or a service model; a free one is assigned at once."""
    _leadership(caller)
    approval_id = _new_id(caller, idempotency_key, "approval")
    events = await _board_decision(
        request,
        _context(caller, idempotency_key),
        lambda b: b.approve_fallback(
            approval_id, body.credit_code, body.staff_id, body.approved_by, body.note, _now()
        ),
    )
    return _answer(events, approval_id=approval_id)


@router.post(
    "/assignments/reassignments", status_code=201, responses=REFUSED, summary="Reassign an enterprise"
)
async def reassign(
    body: m.Reassign, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Leadership moves an enterprise to another concierge, with a reason."""
    _leadership(caller)
    events = await _board_decision(
        request,
        _context(caller, idempotency_key),
        lambda b: b.reassign(body.credit_code, body.to_staff_id, body.reason, _now()),
    )
    return _answer(events)


# ---- the six steps -----------------------------------------------------------------------------
@router.post("/cases/{case_id}/clarification", status_code=201, responses=REFUSED, summary="Step 1 摸清问题")
async def clarify(
    case_id: str, body: m.Clarify, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Record the clarified problem and the sections involved."""
    return await _step(
        request, caller, idempotency_key, case_id, lambda c: c.clarify(body.summary, body.sections)
    )


@router.post(
    "/cases/{case_id}/tasks", status_code=201, responses=REFUSED, summary="Step 2 积极协调: open a task"
)
async def open_task(
    case_id: str, body: m.OpenTask, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Open a coordination task due in working days (Chinese calendar, Asia/Shanghai)."""
    task_id = "t-" + _new_id(caller, idempotency_key, "task")[:8]
    deadline = (await request.app.state.calendars.current()).add_workdays(_now(), body.working_days)
    events = await _case_decision(
        request,
        _context(caller, idempotency_key),
        case_id,
        lambda c: c.open_task(task_id, body.section, body.description, body.working_days, deadline, _now()),
    )
    return _answer(
        events, task_id=task_id, due_at=deadline.due.isoformat(), due_provisional=deadline.provisional
    )


@router.post(
    "/cases/{case_id}/tasks/{task_id}/chase", status_code=201, responses=REFUSED, summary="Step 2: chase 催办"
)
async def chase(
    case_id: str,
    task_id: str,
    body: m.Note,
    caller: Writer,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Chase an open task."""
    return await _step(
        request, caller, idempotency_key, case_id, lambda c: c.chase_task(task_id, body.note, _now())
    )


@router.post(
    "/cases/{case_id}/tasks/{task_id}/close",
    status_code=201,
    responses=REFUSED,
    summary="Step 2: close a task",
)
async def close_task(
    case_id: str,
    task_id: str,
    body: m.Outcome,
    caller: Writer,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Close a task with its outcome."""
    return await _step(
        request, caller, idempotency_key, case_id, lambda c: c.close_task(task_id, body.outcome)
    )


@router.post(
    "/cases/{case_id}/tasks/{task_id}/cancel",
    status_code=201,
    responses=REFUSED,
    summary="Step 2: cancel a task",
)
async def cancel_task(
    case_id: str,
    task_id: str,
    body: m.Reason,
    caller: Writer,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Cancel a task with a reason."""
    return await _step(
        request, caller, idempotency_key, case_id, lambda c: c.cancel_task(task_id, body.reason)
    )


@router.post("/cases/{case_id}/procedures", status_code=201, responses=REFUSED, summary="Step 3 主动代办")
async def procedure(
    case_id: str, body: m.Procedure, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Log a procedure handled on the enterprise's behalf."""
    return await _step(
        request, caller, idempotency_key, case_id, lambda c: c.handle_procedure(body.description)
    )


@router.post("/cases/{case_id}/resolution", status_code=201, responses=REFUSED, summary="Step 4 加快解决")
async def resolve(
    case_id: str, body: m.Resolve, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Resolve the case (all tasks closed or cancelled first)."""
    return await _step(
        request, caller, idempotency_key, case_id, lambda c: c.resolve(body.summary, body.settlement_intent)
    )


@router.post("/cases/{case_id}/policies", status_code=201, responses=REFUSED, summary="Step 5 宣讲政策")
async def recommend(
    case_id: str, body: m.Policy, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Record a policy explained to the enterprise."""
    return await _step(
        request, caller, idempotency_key, case_id, lambda c: c.recommend_policy(body.policy, body.note)
    )


@router.post("/cases/{case_id}/rating", status_code=201, responses=REFUSED, summary="Step 6 征求意见")
async def rate(
    case_id: str, body: m.Rating, caller: Writer, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Record the enterprise's rating; 1 or 2 reopens the case for the same concierge."""
    return await _step(
        request, caller, idempotency_key, case_id, lambda c: c.collect_rating(body.rating, body.comment)
    )
