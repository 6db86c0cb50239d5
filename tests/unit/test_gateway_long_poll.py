"""The feed's long poll at its documented maximum (wait=30) is answered through the gateway, not cut off by 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from services.gateway.bootstrap import build_app
from services.gateway.routes import FEED_MAX_WAIT_S
from tests.unit.test_gateway_forwarding import KEY, gateway, settings

README_MAX_WAIT_S = 30  # README: GET /api/v1/feed?after=<cursor>&limit=<1–1000>&wait=<0–30>


async def test_the_feed_may_take_longer_than_the_longest_wait_and_other_routes_keep_their_timeout() -> None:
    timeouts: dict[str, dict[str, float]] = {}

    async def record(request: httpx.Request) -> httpx.Response:
        timeouts[request.url.path] = request.extensions["timeout"]
        return httpx.Response(200, json={"events": [], "next": 7, "limit": 100})

    async with gateway(record) as client:  # the default settings, as deployed
        await client.get(f"/api/v1/feed?after=7&wait={README_MAX_WAIT_S}", headers=KEY)
        await client.get("/api/v1/cases", headers=KEY)

    assert FEED_MAX_WAIT_S >= README_MAX_WAIT_S
    feed, cases = timeouts["/api/v1/feed"], timeouts["/api/v1/cases"]
    assert feed["read"] >= README_MAX_WAIT_S + 5 and feed["write"] == feed["read"]
    assert (feed["connect"], feed["pool"]) == (cases["connect"], cases["pool"]) == (2.0, 2.0)
    assert cases["read"] == 30.0  # GATEWAY_TIMEOUT_S for every other route, as before


@asynccontextmanager
async def answering_after(seconds: float) -> AsyncIterator[str]:
    """A real upstream that answers every request with 200 after `seconds` (as a long poll does)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(seconds)  # the upstream holds the request open, like the feed with ?wait
        body = b'{"events": [], "next": 0, "limit": 100}'
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_a_long_poll_past_the_usual_timeout_is_answered_while_a_slow_list_is_503() -> None:
    async with answering_after(0.8) as upstream:
        app = build_app(settings(casequery_url=upstream, timeout_s=0.3))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
        ):
            feed = await client.get("/api/v1/feed?after=0&wait=30", headers=KEY)
            cases = await client.get("/api/v1/cases", headers=KEY)

    assert feed.status_code == 200 and feed.json()["next"] == 0
    assert cases.status_code == 503 and "in time" in cases.json()["detail"]
