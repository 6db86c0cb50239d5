"""The rating link (评菜): no account, a single-use signed token in the path."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status

from services.notification.application import feedback
from services.notification.domain.feedback_tokens import MAX_TOKEN_CHARACTERS, FeedbackClaims, TokenRejected
from services.notification.entrypoints.models import RatingBody, shanghai

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])
CASE_UNKNOWN = "找不到此链接对应的案件 / the case of this link is unknown"
Token = Annotated[str, Path(max_length=MAX_TOKEN_CHARACTERS, pattern=r"^[A-Za-z0-9_.-]+$")]


def _claims(request: Request, token: str) -> FeedbackClaims:
    n = request.app.state.notifying
    try:
        return n.tokens.check(token, n.clock())  # type: ignore[no-any-return]
    except TokenRejected as exc:
        raise HTTPException(
            status.HTTP_410_GONE if "expired" in str(exc) else status.HTTP_400_BAD_REQUEST, str(exc)
        ) from None


LINK_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a rating link this system issued (malformed or forged)"},
    404: {"description": "The case of this link is unknown"},
    410: {"description": "The link has expired"},
}


@router.get("/{token}", summary="What the rating link rates (no account needed)", responses=LINK_ANSWERS)
async def show(request: Request, token: Token) -> dict[str, Any]:
    """Show the case being rated and whether the link was used."""
    try:
        page = await feedback.show(request.app.state.notifying, _claims(request, token))
    except feedback.CaseUnknown:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CASE_UNKNOWN) from None
    return {**asdict(page), "expires_at": shanghai(page.expires_at)}


@router.post(
    "/{token}",
    status_code=201,
    summary="Rate the service once (1–5); 1 and 2 reopen the case",
    responses={
        **LINK_ANSWERS,
        409: {
            "description": "The link was used already, or the case's resolution was rated or reopened since"
        },
    },
)
async def rate(request: Request, token: Token, body: RatingBody) -> dict[str, Any]:
    """Record the rating; a used link is a 409."""
    try:
        return await feedback.rate(
            request.app.state.notifying, _claims(request, token), body.rating, body.comment
        )
    except feedback.CaseUnknown:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CASE_UNKNOWN) from None
    except feedback.NotAwaitingARating:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "此次办结已有评价或案件已重新办理，本链接不再计分 / this resolution was rated already (recorded by the "
            "concierge) or the case was reopened: the link rates nothing now",
        ) from None
    except feedback.LinkAlreadyUsed:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "此评价链接已经用过，每个链接只能评价一次 / this rating link was used already: a link rates once",
        ) from None
