"""The feed's long polls cannot starve the gateway: a few per key, a pool of their own, health probes apart,
and an upstream request closed as soon as its caller goes away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.gateway.bootstrap import build_app
from services.gateway.limits import LongPolls, caller_key, issued_key
from tests.support import feed_poll_scope
from tests.unit.test_gateway_forwarding import gateway, settings
from tests.unit.test_gateway_rate_limit import Clock

SERVICES = ("intake", "casequery", "assignment", "disbursement", "notification", "relay")


def key(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


def test_a_key_holds_its_share_and_learns_when_one_of_its_polls_answers_at_the_latest() -> None:
    clock = Clock()
    polls = LongPolls(per_key=2, total=3, clock=clock)
    with polls.holding("a", 30), polls.holding("a", 10):
        assert polls.refused("a") == "key" and polls.refused("b") is None
        clock.now = 4.0
        assert polls.retry_after("a") == 6.0  # the 10 s poll answers by then
        with polls.holding("b", 20):
            assert polls.refused("c") == "total" and polls.retry_after() == 6.0
    assert polls.refused("a") is None and polls._ends == {}  # nothing kept for keys without polls


@asynccontextmanager
async def held_feed(**overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, list[str], asyncio.Event]]:
    """The gateway before a stub whose feed with a `wait` answers only once `release` is set; `polls` names
    their keys."""
    polls: list[str] = []
    release = asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/feed" and request.url.params.get("wait", "0") != "0":
            polls.append(request.headers["authorization"])
            await release.wait()
        return httpx.Response(200, json={"events": [], "next": 0, "limit": 100})

    async with gateway(handle, **overrides) as client:
        yield client, polls, release


async def until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_a_key_beyond_its_long_polls_gets_429_while_its_other_requests_and_other_keys_go_on() -> None:
    async with held_feed(long_polls_per_key=2) as (client, polls, release):
        held = [asyncio.create_task(client.get("/api/v1/feed?wait=30", headers=key("a"))) for _ in range(2)]
        await until(lambda: len(polls) == 2)
        beyond = await client.get("/api/v1/feed?after=0&wait=30", headers=key("a"))
        quick = await client.get("/api/v1/feed?after=0&wait=0", headers=key("a"))  # not a long poll
        cases = await client.get("/api/v1/cases?limit=1", headers=key("a"))
        other = asyncio.create_task(client.get("/api/v1/feed?wait=30", headers=key("b")))
        await until(lambda: len(polls) == 3)
        release.set()
        answers = await asyncio.gather(*held, other)
        again = await client.get("/api/v1/feed?wait=5", headers=key("a"))  # its polls answered: free again
    assert beyond.status_code == 429
    assert beyond.json()["detail"].startswith("此密钥同时等待的长轮询过多 / too many long polls")
    assert "at most 2" in beyond.json()["detail"]
    assert 25 <= int(beyond.headers["Retry-After"]) <= 30  # when one of its polls answers at the latest
    assert quick.status_code == cases.status_code == 200
    assert [a.status_code for a in answers] == [200, 200, 200] and again.status_code == 200


async def test_long_polls_of_all_keys_beyond_their_pool_get_503_with_retry_after() -> None:
    async with held_feed(long_polls_total=2) as (client, polls, release):
        held = [asyncio.create_task(client.get("/api/v1/feed?wait=12", headers=key(name))) for name in "ab"]
        await until(lambda: len(polls) == 2)
        beyond = await client.get("/api/v1/feed?wait=30", headers=key("c"))
        release.set()
        await asyncio.gather(*held)
    assert beyond.status_code == 503 and "too many long polls" in beyond.json()["detail"]
    assert 1 <= int(beyond.headers["Retry-After"]) <= 12


@asynccontextmanager
async def upstream(
    hold_s: float, closed: list[float], arrived: asyncio.Event | None = None
) -> AsyncIterator[str]:
    """A real service: /healthz and lists answer at once; the feed and /api/v1/cases/slow after `hold_s`,
    noting in `closed` when the gateway closed a connection instead of waiting for the answer."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one connection answers request after request
                target = (await reader.readuntil(b"\r\n\r\n")).split(b" ")[1]
                if target.startswith(b"/api/v1/feed") or target.endswith(b"/slow"):
                    if arrived is not None:
                        arrived.set()
                    try:  # a GET has no body: the only thing to read is the end of the connection
                        if await asyncio.wait_for(reader.read(1), hold_s) == b"":
                            closed.append(time.monotonic())
                            return
                    except TimeoutError:
                        pass
                body = b'{"status": "ok", "events": [], "next": 0}'
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@asynccontextmanager
async def real_gateway(url: str, **overrides: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = build_app(settings(**{f"{name}_url": url for name in SERVICES}, **overrides))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        yield app, client


async def test_long_polls_filling_their_pool_leave_ordinary_requests_and_health_their_own() -> None:
    async with (
        upstream(hold_s=3, closed=[]) as url,
        real_gateway(url, max_connections=1, pool_timeout_s=0.3) as (_, client),
    ):
        polls = [asyncio.create_task(client.get("/api/v1/feed?wait=30", headers=key(name))) for name in "abc"]
        await asyncio.sleep(0.3)  # each holds an upstream connection now
        cases = await client.get("/api/v1/cases?limit=1", headers=key("d"))
        health = await client.get("/healthz")
        for poll in polls:
            poll.cancel()
    assert cases.status_code == 200, cases.text  # before: 503 PoolTimeout, the long polls held the pool
    assert health.status_code == 200, health.text


async def test_health_tells_the_truth_while_ordinary_requests_fill_their_pool() -> None:
    async with (
        upstream(hold_s=10, closed=[]) as url,
        real_gateway(url, max_connections=2, pool_timeout_s=0.3) as (_, client),
    ):
        slow = [asyncio.create_task(client.get("/api/v1/cases/slow", headers=key(name))) for name in "ab"]
        await asyncio.sleep(0.3)
        full = await client.get("/api/v1/cases?limit=1", headers=key("c"))
        health = await client.get("/healthz")
        for request in slow:
            request.cancel()
    assert full.status_code == 503 and "PoolTimeout" in full.text  # the data pool is full indeed
    # Before: every service "down: PoolTimeout" (the health probes waited on the full pool).
    assert health.status_code == 200, health.text
    assert set(health.json()["checks"].values()) == {"ok"}


async def test_a_caller_that_goes_away_ends_the_upstream_request_at_once() -> None:
    closed: list[float] = []
    sent: list[Any] = []
    arrived = asyncio.Event()
    hung_up: list[float] = []

    async def receive() -> dict[str, Any]:  # as a server's: the request, then the caller hangs up
        if not sent and not hasattr(receive, "asked"):
            receive.asked = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"", "more_body": False}
        # Once the poll reached the service (on a busy machine that may take a while), plus a moment.
        await arrived.wait()
        await asyncio.sleep(0.1)
        hung_up.append(time.monotonic())
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = feed_poll_scope(b"after=0&wait=30", b"a", b"gw")
    async with upstream(hold_s=5, closed=closed, arrived=arrived) as url, real_gateway(url) as (app, _):
        await asyncio.wait_for(app(scope, receive, send), 10)
        done = time.monotonic()
        await until(lambda: closed)
    assert done - hung_up[0] < 1.5  # not the upstream's 5 s
    assert closed[0] - hung_up[0] < 1.5  # the upstream saw its connection closed: it stops polling for nobody
    assert sent[0]["status"] == 499


def test_one_key_written_several_ways_is_one_caller() -> None:
    spellings = [b"Bearer K1", b"bearer K1", b"BEARER  K1", b"Bearer K1  "]
    keys = {caller_key(s, "10.0.0.1") for s in spellings}

    assert len(keys) == 1 and caller_key(b"Bearer K2", "10.0.0.1") not in keys
    assert keys == {issued_key("K1")}  # a token the gateway handed out is known under every spelling


def test_a_key_padded_with_what_the_services_trim_is_the_same_caller() -> None:
    # The services read the header as latin-1 and trim with str.strip: U+00A0, U+0085, U+001F go too.
    padded = [b"Bearer K1\xa0", b"Bearer K1\x85", b"Bearer K1\x1f", b"Bearer \xa0K1\xa0\x85"]

    assert {caller_key(p, "10.0.0.1") for p in padded} == {issued_key("K1")}
