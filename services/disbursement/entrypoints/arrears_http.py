"""HTTP entry points of arrears owed to private enterprises (拖欠民营企业账款)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status

from services.disbursement.application import commands, queries
from services.disbursement.application.answers import ArrearsDetail, DisbursementRecorded
from services.disbursement.application.commands import Context, NotFound
from services.disbursement.entrypoints.http import REFUSED, run_command
from services.disbursement.entrypoints.idempotent import idempotent
from services.disbursement.entrypoints.state import Services
from shared.auth.http import Caller
from shared.auth.rights import MoneyRecorder
from shared.contracts.disbursement import OpenArrearsRequest, RepaymentReport
from shared.contracts.text import ID_PATTERN
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
        return await run_command(
            lambda: commands.open_arrears(body, context, recorder=services.recorder), NOT_FOUND
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


@router.get("/{arrears_id}", summary="Arrears with repayments and the overdue flag (calendar days)")
async def get_arrears(arrears_id: ArrearsId, caller: Caller, request: Request) -> ArrearsDetail:
    """Fold the arrears from their stream; another bureau's are not found."""
    services = Services.of(request)
    try:
        return await queries.arrears_detail(
            arrears_id,
            caller.bureau,
            recorder=services.recorder,
            today=datetime.now(UTC).astimezone(SHANGHAI).date(),
        )
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from exc
