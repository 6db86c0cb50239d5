"""HTTP entry points of arrears owed to private enterprises (拖欠民营企业账款)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from services.disbursement.application import commands, queries
from services.disbursement.application.answers import ArrearsDetail, ArrearsPage, DisbursementRecorded
from services.disbursement.application.commands import Context, NotFound
from services.disbursement.entrypoints.http import REFUSED, EnterpriseFilter, run_command
from services.disbursement.entrypoints.idempotent import idempotent
from services.disbursement.entrypoints.state import Services
from shared.auth.http import Caller
from shared.auth.rights import MoneyRecorder
from shared.contracts.answers import TrueFalse
from shared.contracts.disbursement import OpenArrearsRequest, RepaymentReport
from shared.contracts.text import ID_PATTERN
from shared.http_query import KNOWN_QUERY_ONLY
from shared.idempotency import IdempotencyKey
from shared.workdays.calendar import SHANGHAI

router = APIRouter(prefix="/api/v1/arrears", tags=["arrears"])
ArrearsId = Annotated[str, Path(pattern=ID_PATTERN, description="The arrears id")]
NOT_FOUND = "没有这笔欠款 / no such arrears in your bureau"


@router.post("", status_code=status.HTTP_201_CREATED, summary="Record arrears owed to a private enterprise")
async def open_arrears(
    body: OpenArrearsRequest,
    caller: MoneyRecorder,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DisbursementRecorded:
    """Record ArrearsRecorded with the due date of the agreed term (30 days unless agreed, at most 60)."""
    services = Services.of(request)

    async def run(context: Context) -> DisbursementRecorded:
        calendar = await services.calendars.current()
        return await run_command(
            lambda: commands.open_arrears(body, context, recorder=services.recorder, calendar=calendar),
            NOT_FOUND,
        )

    answer = await idempotent(request, caller, idempotency_key, body, run)
    response.headers["Location"] = f"/api/v1/arrears/{answer.id}"
    return answer


@router.post(
    "/{arrears_id}/repayments",
    status_code=status.HTTP_201_CREATED,
    summary="Record a repayment",
    responses=REFUSED,
)
async def repay(
    arrears_id: ArrearsId,
    body: RepaymentReport,
    caller: MoneyRecorder,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> DisbursementRecorded:
    """Record ArrearsRepaid; never more than is still owed."""
    services = Services.of(request)

    async def run(context: Context) -> DisbursementRecorded:
        return await run_command(
            lambda: commands.repay_arrears(arrears_id, body, context, recorder=services.recorder), NOT_FOUND
        )

    return await idempotent(request, caller, idempotency_key, body, run)


def today_in_shanghai() -> date:
    """Return today's date in Asia/Shanghai: the day overdue is counted on."""
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def flag(value: TrueFalse | None) -> bool | None:
    """Return a query flag as a boolean (None when not given)."""
    return None if value is None else value == "true"


@router.get("", summary="The bureau's arrears, overdue first, by due date", dependencies=[KNOWN_QUERY_ONLY])
async def list_arrears(
    caller: Caller,
    request: Request,
    enterprise: EnterpriseFilter = None,
    overdue: Annotated[
        TrueFalse | None,
        Query(
            description="true: still owed after the due date, as of today (Asia/Shanghai); false: the others"
        ),
    ] = None,
    still_owed: Annotated[
        TrueFalse | None, Query(alias="open", description="true: money still owed; false: settled")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> ArrearsPage:
    """List from the read model (it follows the events within moments); overdue as of today."""
    services = Services.of(request)
    return await queries.list_arrears(
        services.db,
        await services.names(),
        caller.bureau,
        enterprise=enterprise,
        open_=flag(still_owed),
        overdue=flag(overdue),
        today=today_in_shanghai(),
        limit=limit,
        offset=offset,
    )


@router.get("/{arrears_id}", summary="Arrears with repayments and the overdue flag (calendar days)")
async def get_arrears(arrears_id: ArrearsId, caller: Caller, request: Request) -> ArrearsDetail:
    """Fold the arrears from their stream; another bureau's are not found."""
    services = Services.of(request)
    try:
        return await queries.arrears_detail(
            arrears_id,
            caller.bureau,
            recorder=services.recorder,
            today=today_in_shanghai(),
        )
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from exc
