"""HTTP entry point: POST /api/v1/cases."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from pydantic import BaseModel

from services.intake.application.open_case import IdempotencyKeyReused, OpenCase, open_case
from shared.auth.actors import actor_of
from shared.auth.rights import CaseOpener
from shared.contracts.cases import CaseStatus, OpenCaseRequest
from shared.crypto.vault import SubjectErased
from shared.idempotency import MAX_KEY_CHARACTERS, KeyHeaderText, key_text, refuse_repeated_key

ERASED_CONTACT = (
    "该企业的联系人信息刚被删除，暂时无法保存新的联系人，请稍后重试 / the enterprise's contact details were "
    "just erased and new ones cannot be sealed now: try again shortly"
)

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
    responses={
        409: {
            "description": "Idempotency-Key reused with a different body, or the enterprise's contact "
            "cannot be sealed now (its key was just erased)"
        }
    },
)
async def post_case(
    body: OpenCaseRequest,
    principal: CaseOpener,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        KeyHeaderText | None,
        Header(description=f"1-{MAX_KEY_CHARACTERS} characters, UTF-8 allowed (e.g. 来访-001)"),
    ] = None,
    x_correlation_id: Annotated[uuid.UUID | None, Header()] = None,
) -> CaseAccepted:
    """Open a case; with an Idempotency-Key the same request opens it once and gets the same answer."""
    refuse_repeated_key(request)
    command = OpenCase(
        bureau=principal.bureau,
        request=body,
        source="http",
        request_ref=None if idempotency_key is None else key_text(idempotency_key),
        actor=actor_of(principal),
        correlation_id=x_correlation_id or uuid.uuid4(),
    )
    try:
        opened = await open_case(command, recorder=request.app.state.recorder, sealer=request.app.state.vault)
    except IdempotencyKeyReused as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"该 Idempotency-Key 已用于另一个请求 / Idempotency-Key {exc}"
        ) from exc
    except SubjectErased as exc:
        # The key store gives an erased subject a new key; should it still refuse (an erasure racing this
        # request), the contact cannot be kept, and that is a refusal with a reason, not a server error.
        raise HTTPException(status.HTTP_409_CONFLICT, ERASED_CONTACT) from exc
    response.headers["Location"] = f"/api/v1/cases/{opened.case_id}"
    return CaseAccepted(case_id=opened.case_id, status=CaseStatus.OPEN, replayed=opened.replayed)
