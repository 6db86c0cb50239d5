"""HTTP entry point: GET /api/v1/cases, /api/v1/cases/{id}, its /history and its /events."""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import AfterValidator

from services.casequery.application.filters import MAX_WAITING_WORKDAYS
from services.casequery.application.history import merge, story_history
from services.casequery.application.money import case_credit_code, disbursement_history, disbursements_of
from services.casequery.application.queries import (
    CaseFilter,
    CaseNotFound,
    case_history,
    get_case,
    get_case_as_of,
    list_cases,
    with_story,
)
from services.casequery.application.supervision import supervision_of
from services.casequery.entrypoints.answers import (
    CasePage,
    CaseView,
    HistoryEntry,
    case_answer,
    envelope_in_shanghai,
    history_answer,
    reads_as_a_case,
    shown_contact,
)
from shared.auth.http import Caller
from shared.contracts.answers import IsoMoment, TrueFalse
from shared.contracts.cases import CaseStatus, Category, Channel
from shared.contracts.credit_code import CREDIT_CODE_PATTERN, validate_credit_code
from shared.contracts.envelope import EventEnvelope
from shared.contracts.text import ID_PATTERN, shown
from shared.http_query import KNOWN_QUERY_ONLY

log = logging.getLogger(__name__)
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
        raise ValueError("换算成 UTC 后时间超出范围 / moment out of range once converted to UTC") from None


AsOf = Annotated[IsoMoment, AfterValidator(_in_utc)]


def _not_found(case_id: str) -> HTTPException:
    named = shown(case_id)
    return HTTPException(status.HTTP_404_NOT_FOUND, f"找不到案件 {named} / case {named} not found")


def _known_shape(case_id: str) -> None:
    # Ids we issue are UUIDs; anything else (control characters, a NUL byte) names no case, and must
    # not reach the database, which may refuse it with an error rather than "not found".
    if not CASE_ID.fullmatch(case_id):
        raise _not_found(case_id)


def _flag(value: TrueFalse | None) -> bool | None:
    return None if value is None else value == "true"


@router.get("/cases", summary="List your bureau's cases, newest first", dependencies=[KNOWN_QUERY_ONLY])
async def get_cases(
    caller: Caller,
    request: Request,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    category: Category | None = None,
    enterprise: Annotated[
        str | None,
        Query(description="Unified social credit code", json_schema_extra={"pattern": CREDIT_CODE_PATTERN}),
        AfterValidator(validate_credit_code),  # a mistyped code is a 422, never an empty list read as "none"
    ] = None,
    channel: Channel | None = None,
    flagged_for_leadership: Annotated[
        TrueFalse | None,
        Query(description="true: cases flagged for leadership (rated 1 or 2); false: the others"),
    ] = None,
    overdue: Annotated[
        TrueFalse | None,
        Query(description="true: cases with an open coordination task past its due time; false: none"),
    ] = None,
    waiting_more_than: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_WAITING_WORKDAYS,
            description="Cases waiting for a concierge for more than this many working days (Asia/Shanghai)",
        ),
    ] = None,
    concierge: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Cases whose concierge now is this staff id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CasePage:
    """List cases with filters and pagination; a misspelt filter is a 422, never an unfiltered list."""
    filters = CaseFilter(
        status=status_,
        category=category,
        enterprise=enterprise,
        channel=channel,
        flagged_for_leadership=_flag(flagged_for_leadership),
        overdue=_flag(overdue),
        waiting_more_than=waiting_more_than,
        concierge=concierge,
    )
    state = request.app.state
    calendar = await state.calendar.current() if waiting_more_than is not None else None
    views = await state.views.collection()  # the case view's current generation (see generations.py)
    items, total = await list_cases(
        caller.bureau, filters, limit, offset, views=views, now=state.clock(), calendar=calendar
    )
    items = await with_story(
        caller.bureau, await _readable(caller.bureau, items, state), stories=state.stories
    )
    items = [{**d, "contact": await shown_contact(d.get("contact"), state.vault)} for d in items]
    return CasePage(items=[case_answer(d) for d in items], total=total, limit=limit, offset=offset)


async def _readable(bureau: str, views: list[dict[str, Any]], state: Any) -> list[dict[str, Any]]:
    """The views as stored; one that does not read as a case is folded from its events instead (the store is
    the truth), or left out when no case of the bureau has that id: one bad document never fails a list."""
    shown = []
    for view in views:
        if reads_as_a_case(view):
            shown.append(view)
            continue
        case_id = str(view.get("_id"))
        log.error(
            "the stored view of case %r does not read as a case: answered from its events; rebuild", case_id
        )
        with contextlib.suppress(CaseNotFound):
            shown.append(await get_case_as_of(bureau, case_id, state.clock(), recorder=state.recorder))
    return shown


@router.get(
    "/cases/{case_id}",
    responses=NOT_FOUND,
    summary="A case now, or as it stood at `as_of`",
    # A misspelt `as_of` must not answer the case as it is now, read as the past.
    dependencies=[KNOWN_QUERY_ONLY],
)
async def get_one_case(
    case_id: str,
    caller: Caller,
    request: Request,
    as_of: Annotated[AsOf | None, Query(description="ISO 8601 time with offset")] = None,
) -> CaseView:
    """Return one case of the caller's bureau with its assignment decision (and, now, its queue place)."""
    _known_shape(case_id)
    state = request.app.state
    try:
        if as_of is None:
            stored = await get_case(caller.bureau, case_id, views=await state.views.collection())
            readable = await _readable(caller.bureau, [stored], state)
            if not readable:
                raise CaseNotFound(case_id)
            [view] = await with_story(caller.bureau, readable, stories=state.stories)
            tasks = [t["task_id"] for t in view.get("tasks", [])]
            orders, _ = await supervision_of(case_id, tasks, recorder=state.recorder)
            contact = await shown_contact(view.get("contact"), state.vault)
            money = await disbursements_of(
                caller.bureau,
                case_id,
                view["enterprise"]["credit_code"],
                money=state.money,
                recorder=state.recorder,
                calendar=state.calendar,
            )
            return case_answer(
                {**view, "supervision_orders": orders, "contact": contact, "disbursements": money}
            )
        past = await get_case_as_of(
            caller.bureau, case_id, as_of, recorder=state.recorder, stories=state.stories
        )
        return case_answer({**past, "contact": await shown_contact(past.get("contact"), state.vault)})
    except CaseNotFound:
        raise _not_found(case_id) from None


@router.get(
    "/cases/{case_id}/history",
    responses=NOT_FOUND,
    summary="The case's story: its events, the board decisions, supervision and its money, explained, in order",
)
async def get_case_story(case_id: str, caller: Caller, request: Request) -> list[HistoryEntry]:
    """Return the case's history entries in order."""
    _known_shape(case_id)
    state = request.app.state
    try:
        entries = await story_history(caller.bureau, case_id, recorder=state.recorder, stories=state.stories)
        tasks = sorted({e["data"]["task_id"] for e in entries if e["event_type"] == "CoordinationTaskOpened"})
        _, supervision = await supervision_of(case_id, tasks, recorder=state.recorder)
        entries = merge(entries, supervision)
        money = await disbursement_history(
            caller.bureau, case_id, case_credit_code(entries), money=state.money, recorder=state.recorder
        )
        entries = merge(entries, money)
    except CaseNotFound:
        raise _not_found(case_id) from None
    return [history_answer(e) for e in entries]


@router.get("/cases/{case_id}/events", responses=NOT_FOUND, summary="The case's events (envelopes) in order")
async def get_case_events(case_id: str, caller: Caller, request: Request) -> list[EventEnvelope]:
    """Return the case's events in order."""
    _known_shape(case_id)
    try:
        events = await case_history(caller.bureau, case_id, recorder=request.app.state.recorder)
    except CaseNotFound:
        raise _not_found(case_id) from None
    return [envelope_in_shanghai(e) for e in events]
