"""`GET /api/v1/audit/verify`: walk a bounded page of the event store's hash chain (admins, zone operators).

Why a bounded page: the walk streams (flat memory whatever the store's size), but a million events take
longer than an HTTP request should (the gateway gives up after 30 s), so one request verifies at most
`limit` positions from `from` and answers `next_from` to continue; `make verify` walks the whole chain.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from shared.audit.walk import Report, verify_chain
from shared.auth.http import Caller
from shared.auth.keys import Principal, Role
from shared.http_query import KNOWN_QUERY_ONLY

DEFAULT_LIMIT = 50_000
MAX_LIMIT = 200_000
AUDITORS = frozenset({Role.ADMIN, Role.OPERATOR})

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class ChainBreak(BaseModel):
    """The first position where the record does not match its chain."""

    position: int
    event_id: str | None = Field(description="Withheld (null) when the event belongs to another bureau")
    what: str = Field(
        description="content edited | position missing | out of order | hash mismatch | hash missing"
    )
    detail: str


class ChainVerification(BaseModel):
    """The verdict on one page of the chain, with the speed of the walk."""

    intact: bool
    complete: bool = Field(description="The page reached the head (else continue from next_from)")
    summary: str = Field(description='"intact up to position N, head hash H" or the first break')
    chain_start: int = Field(description="First chained position; earlier events predate the chain")
    from_position: int
    head_position: int
    verified_up_to: int
    verified_hash: str = Field(description="Chain hash at verified_up_to (the head hash when complete)")
    events: int
    unused_positions: int
    seconds: float
    events_per_second: float
    next_from: int | None = Field(description="Where the next page starts; null when complete or broken")
    broken: ChainBreak | None


def _answer(report: Report, caller: Principal) -> ChainVerification:
    broken = None
    if report.broken:
        b = report.broken
        # The chain is zone-wide; another bureau's event id is not this caller's to see.
        own = caller.role is Role.OPERATOR or b.bureau in (None, caller.bureau)
        broken = ChainBreak(
            position=b.position, event_id=b.event_id if own else None, what=b.what, detail=b.detail
        )
    summary = report.summary()
    if report.broken and broken and broken.event_id is None and report.broken.event_id:
        summary = summary.replace(report.broken.event_id, "(another bureau's event)")
    return ChainVerification(
        intact=report.intact,
        complete=report.complete,
        summary=summary,
        chain_start=report.chain_start,
        from_position=report.from_position,
        head_position=report.head_position,
        verified_up_to=report.verified_up_to,
        verified_hash=report.verified_hash,
        events=report.events,
        unused_positions=report.unused_positions,
        seconds=round(report.seconds, 3),
        events_per_second=round(report.events_per_second, 1),
        next_from=None if report.complete or report.broken else report.verified_up_to + 1,
        broken=broken,
    )


@router.get(
    "/verify",
    response_model=ChainVerification,
    summary="Verify the event store's hash chain, a page at a time (bureau admins and zone operators)",
    responses={403: {"description": "Not a bureau admin or zone operator"}, 429: {"description": "Busy"}},
    dependencies=[KNOWN_QUERY_ONLY],
)
async def verify(
    request: Request,
    caller: Caller,
    from_position: Annotated[
        int | None, Query(alias="from", ge=1, le=2**62, description="First position (default: chain start)")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Positions to verify at most")
    ] = DEFAULT_LIMIT,
) -> ChainVerification:
    """Recompute the chain's hashes over a page and report the first break or the verified hash."""
    if caller.role not in AUDITORS:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"只有局管理员和管委会运维可以校验记录 / role {caller.role.value} may not verify the record:"
            " bureau admins and zone operators only",
        )
    busy: asyncio.Lock = request.app.state.audit_lock
    if busy.locked():
        # One walk at a time per relay: each reads the store as fast as it can.
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "校验正在进行，请稍后重试 / a verification is already running; retry later",
            {"Retry-After": "5"},
        )
    async with busy:
        report = await verify_chain(request.app.state.chain, from_position=from_position, limit=limit)
    return _answer(report, caller)
