"""GET /api/v1/feed: the caller's bureau's events after a cursor, long-polled, for bureaus without Kafka."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.casequery.entrypoints.answers import envelope_in_shanghai
from shared.auth.http import Caller
from shared.http_query import KNOWN_QUERY_ONLY

router = APIRouter(prefix="/api/v1", tags=["feed"])
POLL_SECONDS = 0.25


@router.get(
    "/feed",
    summary="Your bureau's events after a cursor (the global position), long-polled",
    # A misspelt cursor (`?afer=`) must not read the feed again from its start.
    dependencies=[KNOWN_QUERY_ONLY],
)
async def feed(
    request: Request,
    caller: Caller,
    after: Annotated[
        int,
        Query(ge=0, le=2**62, description="The cursor: the last position you handled (0: from the start)"),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait: Annotated[
        float, Query(ge=0, le=30, description="Seconds to wait for an event when none is there yet")
    ] = 0,
) -> dict[str, Any]:
    """Answer the bureau's next events (at least once: resume from `next`); waits up to `wait` s for one."""
    source = request.app.state.feed
    deadline = time.monotonic() + wait
    events = await source.read(caller.bureau, after, limit)
    while not events and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        events = await source.read(caller.bureau, after, limit)
    cursor = events[-1].position if events else after
    return {
        "events": [envelope_in_shanghai(e).model_dump(mode="json") for e in events],
        "next": cursor,
        "limit": limit,
    }
