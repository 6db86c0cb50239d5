"""HTTP entry points of the six steps of a case (点菜 催菜 做菜 上菜 荐菜 评菜)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from services.assignment.application.boards import Cases, Context
from services.assignment.domain.casework import CaseFile, StepRefused
from services.assignment.entrypoints import http_models as m
from services.assignment.entrypoints.http import REFUSED, answer
from services.assignment.entrypoints.idempotent import idempotent, new_id
from shared.auth.keys import Principal
from shared.auth.rights import CaseWorker, TaskWorker, may_serve_case, may_work_task
from shared.contracts.envelope import EventEnvelope
from shared.contracts.notification import feedback_stream
from shared.idempotency import IdempotencyKey
from shared.workdays.calendar import SHANGHAI

router = APIRouter(prefix="/api/v1/cases", tags=["assignment"])


def _now() -> datetime:
    return datetime.now(SHANGHAI)


async def _case_decision(
    request: Request, context: Context, case_id: str, decide: Callable[[CaseFile], list[BaseModel]]
) -> list[EventEnvelope] | None:
    cases: Cases = request.app.state.cases
    try:
        return await cases.decide(context, case_id, decide)
    except StepRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


async def _away(request: Request, caller: Principal) -> bool:
    """Whether a person is away today (on leave, left, or not on the roster): no concierge's rights then."""
    if caller.staff_id is None:
        return False
    board = await request.app.state.boards.current(caller.bureau)
    person = board.staff.get(caller.staff_id)
    return person is None or person.departed or person.on_leave(_now().date())


def _guarded(
    reason_of: Callable[[CaseFile], str | None], decide: Callable[[CaseFile], list[BaseModel]]
) -> Callable[[CaseFile], list[BaseModel]]:
    """The decision, run only when the caller may act on this case (checked on the case as loaded).

    Why inside the decision: the case is loaded there, after the bureau check, so another bureau's case
    stays 404 and the concierge checked is the one of the version the events are appended to."""

    def run(case: CaseFile) -> list[BaseModel]:
        reason = reason_of(case)
        if reason is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, reason)
        return decide(case)

    return run


async def _as_concierge(
    request: Request, caller: Principal, decide: Callable[[CaseFile], list[BaseModel]]
) -> Callable[[CaseFile], list[BaseModel]]:
    away = await _away(request, caller)
    return _guarded(lambda c: may_serve_case(caller, c.concierge, away), decide)


async def _on_task(
    request: Request, caller: Principal, task_id: str, decide: Callable[[CaseFile], list[BaseModel]]
) -> Callable[[CaseFile], list[BaseModel]]:
    away = await _away(request, caller)

    def reason_of(case: CaseFile) -> str | None:
        task = case.tasks.get(task_id)
        if task is None:  # the step itself answers 409 for an unknown task: only the concierge gets there
            return may_serve_case(caller, case.concierge, away)
        return may_work_task(caller, task.section, case.concierge, away)

    return _guarded(reason_of, decide)


async def _refuse_a_resolution_rated_through_its_link(
    request: Request, caller: Principal, case_id: str
) -> None:
    """409 when the enterprise has rated the case's resolution through its link (being applied): its own word
    is the rating, not one the concierge records for it. Another bureau's case is left to the step (404)."""
    case = await request.app.state.cases.load(case_id)
    if (
        case is None
        or case.bureau != caller.bureau
        or not case.resolved
        or case.rated
        or not case.resolution_id
    ):
        return
    if await request.app.state.recorder.read_stream(feedback_stream(case.resolution_id)):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "企业已通过评价链接评价本次办结，正在记入 / the enterprise rated this resolution through its link "
            "(it is being recorded on the case): nothing was changed",
        )


async def _step(
    request: Request,
    caller: Principal,
    key: str | None,
    body: BaseModel,
    case_id: str,
    decide: Callable[[CaseFile], list[BaseModel]],
    task_id: str | None = None,
) -> m.Recorded:
    async def run(context: Context) -> m.Recorded:
        guarded = await (
            _as_concierge(request, caller, decide)
            if task_id is None
            else _on_task(request, caller, task_id, decide)
        )
        return answer(await _case_decision(request, context, case_id, guarded))

    return await idempotent(request, caller, key, body, m.Recorded, run)


@router.post("/{case_id}/clarification", status_code=201, responses=REFUSED, summary="Step 1 摸清问题")
async def clarify(
    case_id: str,
    body: m.Clarify,
    caller: CaseWorker,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Record the clarified problem and the sections involved."""
    return await _step(
        request, caller, idempotency_key, body, case_id, lambda c: c.clarify(body.summary, body.sections)
    )


@router.post("/{case_id}/tasks", status_code=201, responses=REFUSED, summary="Step 2 积极协调: open a task")
async def open_task(
    case_id: str,
    body: m.OpenTask,
    caller: TaskWorker,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Open a coordination task due in working days (Chinese calendar, Asia/Shanghai)."""

    async def run(context: Context) -> m.Recorded:
        away = await _away(request, caller)
        task_id = "t-" + new_id(context, "task")[:8]
        now = _now()
        deadline = (await request.app.state.calendars.current()).add_workdays(now, body.working_days)
        events = await _case_decision(
            request,
            context,
            case_id,
            _guarded(
                lambda c: may_work_task(caller, body.section, c.concierge, away),
                lambda c: c.open_task(
                    task_id, body.section, body.description, body.working_days, deadline, now
                ),
            ),
        )
        # The due date as recorded: a retry that finds the task opened before answers that task's, not its own.
        opened = next((e.data for e in events or [] if e.event_type == "CoordinationTaskOpened"), None)
        due = opened or {"due_at": deadline.due.isoformat(), "due_provisional": deadline.provisional}
        return answer(events, task_id=task_id, due_at=due["due_at"], due_provisional=due["due_provisional"])

    return await idempotent(request, caller, idempotency_key, body, m.Recorded, run)


@router.post(
    "/{case_id}/tasks/{task_id}/chase", status_code=201, responses=REFUSED, summary="Step 2: chase 催办"
)
async def chase(
    case_id: str,
    task_id: str,
    body: m.Note,
    caller: TaskWorker,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Chase an open task."""
    return await _step(
        request,
        caller,
        idempotency_key,
        body,
        case_id,
        lambda c: c.chase_task(task_id, body.note, _now()),
        task_id=task_id,
    )


@router.post(
    "/{case_id}/tasks/{task_id}/close", status_code=201, responses=REFUSED, summary="Step 2: close a task"
)
async def close_task(
    case_id: str,
    task_id: str,
    body: m.Outcome,
    caller: TaskWorker,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Close a task with its outcome."""
    return await _step(
        request,
        caller,
        idempotency_key,
        body,
        case_id,
        lambda c: c.close_task(task_id, body.outcome),
        task_id=task_id,
    )


@router.post(
    "/{case_id}/tasks/{task_id}/cancel", status_code=201, responses=REFUSED, summary="Step 2: cancel a task"
)
async def cancel_task(
    case_id: str,
    task_id: str,
    body: m.Reason,
    caller: CaseWorker,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Cancel a task with a reason."""
    return await _step(
        request, caller, idempotency_key, body, case_id, lambda c: c.cancel_task(task_id, body.reason)
    )


@router.post("/{case_id}/procedures", status_code=201, responses=REFUSED, summary="Step 3 主动代办")
async def procedure(
    case_id: str,
    body: m.Procedure,
    caller: CaseWorker,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Log a procedure handled on the enterprise's behalf."""
    return await _step(
        request, caller, idempotency_key, body, case_id, lambda c: c.handle_procedure(body.description)
    )


@router.post("/{case_id}/resolution", status_code=201, responses=REFUSED, summary="Step 4 加快解决")
async def resolve(
    case_id: str,
    body: m.Resolve,
    caller: CaseWorker,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> m.Recorded:
    """Resolve the case (all tasks closed or cancelled first)."""
    return await _step(
        request,
        caller,
        idempotency_key,
        body,
        case_id,
        lambda c: c.resolve(body.summary, body.settlement_intent),
    )


@router.post("/{case_id}/policies", status_code=201, responses=REFUSED, summary="Step 5 宣讲政策")
async def recommend(
    case_id: str, body: m.Policy, caller: CaseWorker, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Record a policy explained to the enterprise."""
    return await _step(
        request, caller, idempotency_key, body, case_id, lambda c: c.recommend_policy(body.policy, body.note)
    )


@router.post("/{case_id}/rating", status_code=201, responses=REFUSED, summary="Step 6 征求意见")
async def rate(
    case_id: str, body: m.Rating, caller: CaseWorker, request: Request, idempotency_key: IdempotencyKey = None
) -> m.Recorded:
    """Record the enterprise's rating; 1 or 2 reopens the case for the same concierge."""
    await _refuse_a_resolution_rated_through_its_link(request, caller, case_id)
    return await _step(
        request, caller, idempotency_key, body, case_id, lambda c: c.collect_rating(body.rating, body.comment)
    )
