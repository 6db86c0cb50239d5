"""HTTP entry point: POST /api/v1/cases."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from pydantic import BaseModel

from services.intake.application.open_case import IdempotencyKeyReused, OpenCase, open_case
from shared.auth.http import Writer
from shared.contracts.cases import CaseStatus, OpenCaseRequest
from shared.contracts.envelope import Actor

router = APIRouter(prefix="/api/v1", tags=["cases"])


class CaseAccepted(BaseModel):
    """Answer to a case submission."""

    case_id: str
    status: CaseStatus
    replayed: bool


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    summary="Open a case for an enterprise's problem (立案)",
    responses={409: {"description": "Idempotency-Key reused with a different body"}},
)
async def post_case(
    body: OpenCaseRequest,
    principal: Writer,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
    x_correlation_id: Annotated[uuid.UUID | None, Header()] = None,
) -> CaseAccepted:
    """Open a case; with an Idempotency-Key the same request opens it once and gets the same answer."""
    command = OpenCase(
        bureau=principal.bureau,
        request=body,
        source="http",
        request_ref=idempotency_key,
        actor=Actor(kind="api_key", id=principal.key_id, bureau=principal.bureau),
        correlation_id=x_correlation_id or uuid.uuid4(),
    )
    try:
        opened = await open_case(command, recorder=request.app.state.recorder)
    except IdempotencyKeyReused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"Idempotency-Key {exc}") from exc
    response.headers["Location"] = f"/api/v1/cases/{opened.case_id}"
    return CaseAccepted(case_id=opened.case_id, status=CaseStatus.OPEN, replayed=opened.replayed)
