"""HTTP entry point: POST /api/v1/cases."""

from __future__ import annotations

import uuid
from typing import Annotated, NoReturn

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from services.intake.application.open_case import IdempotencyKeyReused, OpenCase, open_case
from shared.auth.actors import actor_of
from shared.auth.rights import CaseOpener
from shared.contracts.cases import CaseStatus, OpenCaseRequest
from shared.crypto.vault import SubjectErased
from shared.idempotency import refuse_repeated_key
from shared.service import control_character_in

MAX_KEY_CHARACTERS = 128
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
        str | None,
        Header(
            max_length=4 * MAX_KEY_CHARACTERS,  # UTF-8 bytes, seen as Latin-1 characters
            description=f"1-{MAX_KEY_CHARACTERS} characters, UTF-8 allowed (e.g. 来访-001)",
        ),
    ] = None,
    x_correlation_id: Annotated[uuid.UUID | None, Header()] = None,
) -> CaseAccepted:
    """Open a case; with an Idempotency-Key the same request opens it once and gets the same answer."""
    refuse_repeated_key(request)
    command = OpenCase(
        bureau=principal.bureau,
        request=body,
        source="http",
        request_ref=None if idempotency_key is None else header_text(idempotency_key, "idempotency-key"),
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


def header_text(value: str, name: str) -> str:
    """Return a header's text as the caller wrote it (UTF-8), or refuse it with 422 and the reason.

    Why: HTTP hands header bytes over as Latin-1, so `来访-001` arrives as mojibake; the gateway forwards the
    bytes untouched, and the key is decoded here, once, as the UTF-8 every client sends."""
    try:
        text = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        _refuse(name, "请求头不是有效的 UTF-8 / the header is not valid UTF-8")
    found = control_character_in(text)
    if found:
        _refuse(name, f"请求头含控制字符 / the header holds the control character {found}")
    if not 1 <= len(text.strip()) <= MAX_KEY_CHARACTERS or text != text.strip():
        _refuse(
            name,
            f"须为 1-{MAX_KEY_CHARACTERS} 个字符且首尾无空白 / must be 1-{MAX_KEY_CHARACTERS} characters, no leading or trailing blanks",
        )
    return text


def _refuse(name: str, msg: str) -> NoReturn:
    raise RequestValidationError([{"loc": ("header", name), "msg": msg, "type": "value_error"}])
