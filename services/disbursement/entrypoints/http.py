"""HTTP entry points of disbursements: open, report stages and payments, read one, list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import AfterValidator

from services.disbursement.application import commands, queries
from services.disbursement.application.answers import (
    DisbursementDetail,
    DisbursementPage,
    DisbursementRecorded,
)
from services.disbursement.application.commands import Context, NotFound, Outcome
from services.disbursement.domain import rules
from services.disbursement.domain.rules import Invalid, Refused
from services.disbursement.entrypoints.idempotent import idempotent
from services.disbursement.entrypoints.state import Services
from shared.auth.http import Caller
from shared.auth.rights import MoneyRecorder, Right, refusal
from shared.contracts.answers import TrueFalse
from shared.contracts.credit_code import CREDIT_CODE_PATTERN, validate_credit_code
from shared.contracts.disbursement import OpenDisbursementRequest, PaymentReport, Stage, StageReport, Status
from shared.contracts.text import ID_PATTERN
from shared.http_query import KNOWN_QUERY_ONLY
from shared.idempotency import IdempotencyKey

router = APIRouter(prefix="/api/v1/disbursements", tags=["disbursement"])
DisbursementId = Annotated[str, Path(pattern=ID_PATTERN, description="The disbursement id")]
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "A rule refuses it now (the reason says which); nothing was recorded"},
    422: {"description": "Invalid, e.g. dated before a stage it follows (the reason says which)"},
}
NOT_FOUND = "没有这笔拨付 / no such disbursement in your bureau"
EnterpriseFilter = Annotated[
    str | None,
    Query(description="Unified social credit code", json_schema_extra={"pattern": CREDIT_CODE_PATTERN}),
    AfterValidator(validate_credit_code),  # a mistyped code is a 422, never an empty list read as "none"
]


async def run_command(command: Callable[[], Awaitable[Outcome]], not_found: str) -> DisbursementRecorded:
    """Run a command and map its refusals: 409 or 422 (invalid) with the reason, 404 for others' ids."""
    try:
        outcome = await command()
    except Invalid as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except Refused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, not_found) from exc
    # A ConcurrencyError (lost every retry) is every service's 409: shared/service.py answers it.
    return DisbursementRecorded(
        id=outcome.id,
        version=outcome.version,
        recorded=outcome.recorded,
        replayed=outcome.replayed,
        payment_id=outcome.payment_id,
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="Open a disbursement with its allocated amount")
async def open_disbursement(
    body: OpenDisbursementRequest,
    caller: MoneyRecorder,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DisbursementRecorded:
    """Record DisbursementOpened (and the allocation's arrival, when given)."""
    services = Services.of(request)

    async def run(context: Context) -> DisbursementRecorded:
        return await run_command(
            lambda: commands.open_disbursement(body, context, recorder=services.recorder), NOT_FOUND
        )

    answer = await idempotent(request, caller, idempotency_key, body, run)
    response.headers["Location"] = f"/api/v1/disbursements/{answer.id}"
    return answer


@router.post(
    "/{disbursement_id}/stages",
    status_code=status.HTTP_201_CREATED,
    summary="Report a stage with its own time (approvals name the signed-in approver)",
    responses=REFUSED,
)
async def report_stage(
    disbursement_id: DisbursementId,
    body: StageReport,
    caller: MoneyRecorder,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> DisbursementRecorded:
    """Record DisbursementStageReported; an exact repeat records nothing; refusals answer 409."""
    services = Services.of(request)
    approver = None
    if body.stage is Stage.APPROVED:
        # A right of the post (局长, 党支部书记) or of an admin key; a bureau admin account's role adds none.
        if (reason := refusal(caller, Right.APPROVE_DISBURSEMENTS)) is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{reason} [{rules.ONLY_LEADERSHIP_APPROVES}]")
        approver = caller.name or caller.staff_id or caller.key_id

    async def run(context: Context) -> DisbursementRecorded:
        return await run_command(
            lambda: commands.report_stage(
                disbursement_id, body, context, recorder=services.recorder, approver=approver
            ),
            NOT_FOUND,
        )

    return await idempotent(request, caller, idempotency_key, body, run)


@router.post(
    "/{disbursement_id}/payments",
    status_code=status.HTTP_201_CREATED,
    summary="Record money credited to the enterprise's account (partial payments allowed)",
    responses=REFUSED,
)
async def record_payment(
    disbursement_id: DisbursementId,
    body: PaymentReport,
    caller: MoneyRecorder,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> DisbursementRecorded:
    """Record DisbursementPaymentCredited; never above the allocation, never while on hold or cancelled."""
    services = Services.of(request)

    async def run(context: Context) -> DisbursementRecorded:
        return await run_command(
            lambda: commands.record_payment(
                disbursement_id,
                body,
                context,
                recorder=services.recorder,
                references=services.bank_references,
            ),
            NOT_FOUND,
        )

    return await idempotent(request, caller, idempotency_key, body, run)


@router.get("", summary="The bureau's disbursements, newest first", dependencies=[KNOWN_QUERY_ONLY])
async def list_disbursements(
    caller: Caller,
    request: Request,
    enterprise: EnterpriseFilter = None,
    stage: Annotated[Status | None, Query(description="Where it stands now")] = None,
    overdue: Annotated[
        TrueFalse | None,
        Query(description="true: stuck (no stage change for the bureau's N working days); false: the others"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> DisbursementPage:
    """List from the read model (it follows the events within moments)."""
    services = Services.of(request)
    return await queries.list_disbursements(
        services.db,
        await services.names(),
        caller.bureau,
        enterprise=enterprise,
        stage=stage.value if stage else None,
        overdue=None if overdue is None else overdue == "true",
        stuck_before=await services.stuck_before(caller.bureau),
        limit=limit,
        offset=offset,
        now=datetime.now(UTC),
    )


@router.get("/{disbursement_id}", summary="A disbursement: its timeline and the time spent in each stage")
async def get_disbursement(
    disbursement_id: DisbursementId, caller: Caller, request: Request
) -> DisbursementDetail:
    """Fold the disbursement from its stream (always current); another bureau's is not found."""
    services = Services.of(request)
    try:
        return await queries.disbursement_detail(
            disbursement_id,
            caller.bureau,
            recorder=services.recorder,
            calendar=await services.calendars.current(),
            now=datetime.now(UTC),
        )
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from exc
