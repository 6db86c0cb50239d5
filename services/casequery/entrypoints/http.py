"""HTTP entry point: GET /api/v1/cases, /api/v1/cases/{id}, /api/v1/cases/{id}/events."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from services.casequery.application.queries import (
    CaseFilter,
    CaseNotFound,
    case_history,
    get_case,
    get_case_as_of,
    list_cases,
)
from services.casequery.projections.case_view import View
from shared.auth.http import Caller
from shared.contracts.cases import CaseStatus, Category, Channel, Enterprise
from shared.contracts.envelope import EventEnvelope
from shared.contracts.text import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["cases"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such case in your bureau"}}
MAX_OFFSET = 100_000  # deeper pages are a scan nobody reads; filters narrow the list instead
CASE_ID = re.compile(ID_PATTERN)


def _in_utc(moment: datetime) -> datetime:
    # An offset can push a moment at the edge of the calendar (0001-01-01T00:00+14:00) out of it;
    # comparing it with recorded times would then overflow: refuse it here, as invalid input.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("moment out of range once converted to UTC") from None


AsOf = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def _not_found(case_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"case {case_id} not found")


def _known_shape(case_id: str) -> None:
    # Ids we issue are UUIDs; anything else (control characters, a NUL byte) names no case, and must
    # not reach the database, which may refuse it with an error rather than "not found".
    if not CASE_ID.fullmatch(case_id):
        raise _not_found(case_id)


class Concierge(BaseModel):
    """The case's dedicated concierge (专责店小二)."""

    staff_id: str
    name: str
    since: datetime


class Task(BaseModel):
    """A coordination task (积极协调) for a section."""

    task_id: str
    section: str
    description: str
    due_at: datetime
    due_provisional: bool
    state: str
    chased: int
    opened_at: datetime
    outcome: str | None = None
    due_history: list[dict[str, Any]] = Field(
        default=[], description="Earlier due dates, e.g. provisional ones"
    )


class Steps(BaseModel):
    """When each of the six steps was first taken (None: not yet)."""

    clarify: datetime | None = None
    coordinate: datetime | None = None
    handle: datetime | None = None
    resolve: datetime | None = None
    recommend: datetime | None = None
    review: datetime | None = None


class CaseView(BaseModel):
    """A case as the bureau sees it."""

    case_id: str
    bureau: str
    status: CaseStatus
    enterprise: Enterprise
    category: Category
    title: str
    description: str
    channel: Channel
    legacy: bool
    source: str
    opened_at: datetime
    updated_at: datetime
    version: int
    concierge: Concierge | None = None
    steps: Steps = Steps()
    problem: dict[str, Any] | None = None
    tasks: list[Task] = []
    open_tasks: int = 0
    procedures: list[dict[str, Any]] = []
    policies: list[dict[str, Any]] = []
    resolution: dict[str, Any] | None = None
    rating: dict[str, Any] | None = None
    flagged_for_leadership: bool = False


class CasePage(BaseModel):
    """One page of the case list."""

    items: list[CaseView]
    total: int
    limit: int
    offset: int


def _view(doc: View) -> CaseView:
    return CaseView.model_validate({k: v for k, v in doc.items() if k != "_id"})


@router.get("/cases", summary="List your bureau's cases, newest first")
async def get_cases(
    caller: Caller,
    request: Request,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    category: Category | None = None,
    enterprise: Annotated[str | None, Query(description="Unified social credit code")] = None,
    channel: Channel | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CasePage:
    """List cases with filters and pagination."""
    filters = CaseFilter(status=status_, category=category, enterprise=enterprise, channel=channel)
    items, total = await list_cases(caller.bureau, filters, limit, offset, views=request.app.state.views)
    return CasePage(items=[_view(d) for d in items], total=total, limit=limit, offset=offset)


@router.get("/cases/{case_id}", responses=NOT_FOUND, summary="A case now, or as it stood at `as_of`")
async def get_one_case(
    case_id: str,
    caller: Caller,
    request: Request,
    as_of: Annotated[AsOf | None, Query(description="ISO 8601 time with offset")] = None,
) -> CaseView:
    """Return one case of the caller's bureau."""
    _known_shape(case_id)
    try:
        if as_of is None:
            return _view(await get_case(caller.bureau, case_id, views=request.app.state.views))
        return _view(await get_case_as_of(caller.bureau, case_id, as_of, recorder=request.app.state.recorder))
    except CaseNotFound:
        raise _not_found(case_id) from None


@router.get("/cases/{case_id}/events", responses=NOT_FOUND, summary="The case's history (its events)")
async def get_case_events(case_id: str, caller: Caller, request: Request) -> list[EventEnvelope]:
    """Return the case's events in order."""
    _known_shape(case_id)
    try:
        return await case_history(caller.bureau, case_id, recorder=request.app.state.recorder)
    except CaseNotFound:
        raise _not_found(case_id) from None
