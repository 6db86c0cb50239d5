"""HTTP entry points of the assignment service: assignments and statistics (the roster: roster_http.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel

from services.assignment.application.boards import Boards, Context
from services.assignment.application.statistics import (
    BureauStatistics,
    Period,
    PeriodRefused,
    bureau_statistics,
)
from services.assignment.domain.board import AssignmentBoard
from services.assignment.domain.rules import AssignmentRefused, UnknownOnTheBoard
from services.assignment.entrypoints import http_models as m
from services.assignment.entrypoints.idempotent import idempotent, new_id
from shared.auth.keys import Principal
from shared.auth.rights import FallbackApprover, Reader, Reassigner
from shared.contracts.answers import CalendarDate
from shared.contracts.envelope import EventEnvelope
from shared.http_query import KNOWN_QUERY_ONLY
from shared.idempotency import IdempotencyKey
from shared.workdays.calendar import SHANGHAI

router = APIRouter(prefix="/api/v1", tags=["assignment"])
REFUSED: dict[int | str, dict[str, Any]] = {409: {"description": "A rule refuses it now; detail says why"}}


def approver(caller: Principal, named: str | None) -> str:
    """The approving leader: the signed-in person, never a name in the body; a bureau key must name one."""
    if caller.staff_id is not None:
        if named is not None and named != caller.staff_id:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [
                    {
                        "loc": ["body", "approved_by"],
                        "type": "value_error",
                        "msg": "审批人为登录的领导本人，请勿填写他人 / the approver is the signed-in leader: "
                        "leave approved_by out",
                    }
                ],
            )
        return caller.staff_id
    if named is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["body", "approved_by"],
                    "type": "missing",
                    "msg": "用局密钥时须写明审批的领导（局长或党支部书记的 staff_id） / "
                    "a bureau key names the approving leader (staff_id of 局长 or 党支部书记)",
                }
            ],
        )
    return named


def now() -> datetime:
    """The current time in Asia/Shanghai."""
    return datetime.now(SHANGHAI)


def answer(events: list[EventEnvelope] | None, **detail: Any) -> m.Recorded:
    """The answer of a write: the event types recorded and what the caller needs (ids, due dates)."""
    if events is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "找不到该案件 / case not found")
    return m.Recorded(recorded=[e.event_type for e in events], detail=detail)


async def board_decision(
    request: Request,
    context: Context,
    decide: Callable[[AssignmentBoard], list[BaseModel]],
    named: dict[str, str | None] | None = None,
) -> list[EventEnvelope]:
    """Run a board decision; a rule's refusal is 409, an unknown id 404 (path) or 422 (a field of `named`)."""
    boards: Boards = request.app.state.boards
    try:
        return await boards.decide(context, decide)
    except UnknownOnTheBoard as exc:
        raise unknown(exc, named or {}) from exc
    except AssignmentRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


def unknown(exc: UnknownOnTheBoard, named: dict[str, str | None]) -> HTTPException:
    """The answer to an unknown id: 422 naming the body field that holds it, else 404 (the path's id)."""
    # Another bureau's id is unknown here too: both answer alike, so ids of other bureaus never leak.
    for field, value in named.items():
        if value == exc.unknown_id:
            detail = [{"loc": ["body", field], "msg": str(exc), "type": "value_error"}]
            return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
    return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))


@router.get(
    "/statistics",
    summary="The bureau's figures: state now, and events (assigned, resolved, rated) in a period",
    responses={422: {"description": "A malformed date, only one end, to before from, or over 5 years"}},
    dependencies=[KNOWN_QUERY_ONLY],
)
async def statistics(
    caller: Reader,
    request: Request,
    first_day: Annotated[
        CalendarDate | None,
        Query(alias="from", description="First day of the period (Asia/Shanghai), with `to`"),
    ] = None,
    last_day: Annotated[
        CalendarDate | None,
        Query(alias="to", description="Last day of the period, included; at most 5 years"),
    ] = None,
) -> BureauStatistics:
    """Statistics of the caller's bureau; event figures limited to the period when given."""
    try:
        period = Period.of(first_day, last_day)
    except PeriodRefused as exc:
        # The same shape as a validation error: one entry naming the parameters and why.
        detail = [{"loc": ["query", "from", "to"], "msg": str(exc), "type": "value_error"}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc
    board = await request.app.state.boards.current(caller.bureau)
    summaries = request.app.state.summaries.of_bureau(caller.bureau)
    return await bureau_statistics(board, summaries, now(), period)


# ---- assignments -----------------------------------------------------------------------------
@router.get("/assignments/queue", summary="Enterprises waiting for a concierge, oldest first")
async def queue(caller: Reader, request: Request) -> list[m.Waiting]:
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
    body: m.ApproveFallback,
    caller: FallbackApprover,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Leadership approves experienced staff or a service model; a free one is assigned at once."""
    approved_by = approver(caller, body.approved_by)

    async def run(context: Context) -> m.Recorded:
        approval_id = new_id(context, "approval")
        events = await board_decision(
            request,
            context,
            lambda b: b.approve_fallback(
                approval_id, body.credit_code, body.staff_id, approved_by, body.note, now()
            ),
            {"staff_id": body.staff_id, "approved_by": body.approved_by},
        )
        return answer(events, approval_id=approval_id)

    return await idempotent(request, caller, idempotency_key, body, m.Recorded, run)


@router.post(
    "/assignments/reassignments", status_code=201, responses=REFUSED, summary="Reassign an enterprise"
)
async def reassign(
    body: m.Reassign, caller: Reassigner, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Leadership moves an enterprise to another concierge, with a reason."""

    async def run(context: Context) -> m.Recorded:
        # Who approved: the signed-in leader's staff id; for a bureau admin key, the key (it names no person).
        approved_by = caller.staff_id or caller.key_id
        events = await board_decision(
            request,
            context,
            lambda b: b.reassign(body.credit_code, body.to_staff_id, body.reason, now(), approved_by),
            {"to_staff_id": body.to_staff_id},
        )
        return answer(events, approved_by=approved_by)

    return await idempotent(request, caller, idempotency_key, body, m.Recorded, run)
