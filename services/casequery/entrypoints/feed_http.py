"""GET /api/v1/feed: the caller's bureau's events after a cursor, long-polled, for bureaus without Kafka."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BeforeValidator

from services.casequery.entrypoints.answers import envelope_in_shanghai
from services.casequery.entrypoints.feed_seats import RETRY_AFTER_S, FeedSeats
from shared.auth.http import Caller
from shared.http_numbers import plain_digits
from shared.http_query import KNOWN_QUERY_ONLY

router = APIRouter(prefix="/api/v1", tags=["feed"])
POLL_SECONDS = 0.25


# An integer in the query string: digits only; still "type": "integer" in the published OpenAPI. The bounds
# go on the type (not on Query) so that they are published as JSON Schema's minimum and maximum.
Cursor = Annotated[int, Ge(0), Le(2**62), BeforeValidator(plain_digits)]
PageSize = Annotated[int, Ge(1), Le(1000), BeforeValidator(plain_digits)]


@router.get(
    "/feed",
    summary="Your bureau's events after a cursor (the global position), long-polled",
    # A misspelt cursor (`?afer=`) must not read the feed again from its start.
    dependencies=[KNOWN_QUERY_ONLY],
    responses={
        429: {
            "description": "Too many requests for this API key or client, or too many long polls: the key "
            "holds `GATEWAY_LONG_POLLS_PER_KEY`, or the bureau `CASEQUERY_FEED_LONG_POLLS_PER_BUREAU`, waiting "
            "(whatever keys or tokens they came with); retry after `Retry-After` seconds, or poll without `wait`"
        },
        409: {
            "description": "The cursor is beyond the store's head (another deployment's cursor, or the store "
            "was restored from an older backup): `head` names the head; nothing is answered or skipped"
        },
    },
)
async def feed(
    request: Request,
    response: Response,
    caller: Caller,
    after: Annotated[
        Cursor, Query(description="The cursor: the last position you handled (0: from the start)")
    ] = 0,
    limit: PageSize = 100,
    wait: Annotated[
        float, Query(ge=0, le=30, description="Seconds to wait for an event when none is there yet")
    ] = 0,
) -> dict[str, Any]:
    """Answer the bureau's next events (at least once: resume from `next`); waits up to `wait` s for one."""
    source = request.app.state.feed
    deadline = time.monotonic() + wait
    page = await source.page(caller.bureau, after, limit)
    if after > page.head:
        # A `next` this store answered never exceeds its head: the cursor is another store's, and answering
        # "nothing yet" would skip the events between its head and the cursor for good once they are written.
        response.status_code = status.HTTP_409_CONFLICT
        return {
            "detail": f"游标 {after} 超出事件库的最新位置 {page.head}（来自其他部署，或事件库已恢复为较早的备份）"
            f" / the cursor {after} is beyond the event store's head {page.head} (a cursor from another "
            "deployment, or the store was restored from an older backup); resume from a cursor at or below it",
            "head": page.head,
        }
    if not page.events and wait > 0:
        seats: FeedSeats = request.app.state.feed_seats
        if seats.full(caller.bureau):
            response.status_code = status.HTTP_429_TOO_MANY_REQUESTS
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return {
                "detail": f"本局已有 {seats.per_bureau} 个长轮询在等待，请稍后重试或不带 wait 轮询 / your bureau "
                f"already has {seats.per_bureau} long polls waiting: retry after {RETRY_AFTER_S} s, or poll "
                "without wait"
            }
        with seats.holding(caller.bureau):
            page = await _wait_for_events(request, source, caller.bureau, after, limit, deadline, page)
    events = page.events
    cursor = events[-1].position if events else after
    return {
        "events": [envelope_in_shanghai(e).model_dump(mode="json") for e in events],
        "next": cursor,
        "limit": limit,
    }


async def _wait_for_events(
    request: Request, source: Any, bureau: str, after: int, limit: int, deadline: float, page: Any
) -> Any:
    """Read the page again every POLL_SECONDS until it has events, the deadline passes or the caller left."""
    # A caller that went away stops the polling: each round is a read of the store for nobody.
    while not page.events and time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(POLL_SECONDS)
        page = await source.page(bureau, after, limit)
    return page
