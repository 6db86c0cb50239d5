"""The gateway forwards hostile requests as received and answers every failure upstream with a clear 503."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.gateway.bootstrap import build_app
from services.gateway.settings import GatewaySettings

KEY = {"Authorization": "Bearer key-a"}
Handler = Callable[[httpx.Request], Any]


def settings(**overrides: Any) -> GatewaySettings:
    base: dict[str, Any] = dict(
        intake_url="http://intake",
        casequery_url="http://casequery",
        assignment_url="http://assignment",
        relay_url="http://relay",
    )
    return GatewaySettings(**{**base, **overrides})


@asynccontextmanager
async def gateway(handler: Handler, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app in front of a stub upstream, with its lifespan running."""
    app: FastAPI = build_app(settings(**overrides), transport=httpx.MockTransport(handler))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


def ok(seen: list[httpx.Request]) -> Handler:
    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True}, headers={"x-upstream": "yes"})

    return handle


async def test_forwards_the_path_and_query_as_the_bytes_received() -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen)) as client:
        answer = await client.get("/api/v1/cases/P%C2%AE%2D/events?status=a%26b&x=%E6%9D%A5", headers=KEY)
        slash = await client.get("/api/v1/cases/a%2Fb/events", headers=KEY)
        backslash = await client.get("/api/v1/cases/a%5cb", headers=KEY)
    assert answer.status_code == 200 and answer.headers["x-upstream"] == "yes"
    assert seen[0].url.host == "casequery"
    assert seen[0].url.raw_path == b"/api/v1/cases/P%C2%AE%2D/events?status=a%26b&x=%E6%9D%A5"
    # An encoded slash or backslash is no id: the service would decode it into another path (answered 404
    # there before the key is checked), so the gateway answers 404 itself and sends nothing on.
    assert (slash.status_code, backslash.status_code, len(seen)) == (404, 404, 1)


async def test_refuses_a_path_with_control_characters_with_400_and_the_reason_instead_of_500() -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen)) as client:
        answer = await client.get("/api/v1/cases/P%C2%AE%17%0B/events", headers=KEY)
    assert answer.status_code == 400
    assert "U+0017" in answer.json()["detail"]
    assert seen == []


async def test_forwards_a_chinese_idempotency_key_as_its_utf8_bytes() -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen)) as client:
        headers = [(b"authorization", b"Bearer key-a"), (b"idempotency-key", "来访-001".encode())]
        answer = await client.post("/api/v1/cases", content=b"{}", headers=headers)
    assert answer.status_code == 200
    assert (b"idempotency-key", "来访-001".encode()) in seen[0].headers.raw
    assert seen[0].url.host == "intake"


def fail_once(error: type[httpx.RequestError], seen: list[httpx.Request]) -> Handler:
    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise error("connection closed by the upstream", request=request)
        return httpx.Response(200, json={"ok": True})

    return handle


async def test_retries_a_read_once_when_a_pooled_connection_was_closed() -> None:
    seen: list[httpx.Request] = []
    async with gateway(fail_once(httpx.ReadError, seen)) as client:
        answer = await client.get("/api/v1/cases?status=bogus", headers=KEY)
    assert answer.status_code == 200 and len(seen) == 2


async def test_does_not_resend_a_post_without_idempotency_key_but_answers_503_with_retry_after() -> None:
    seen: list[httpx.Request] = []
    async with gateway(fail_once(httpx.ReadError, seen)) as client:
        answer = await client.post("/api/v1/cases", json={}, headers=KEY)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "ReadError" in answer.json()["detail"] and len(seen) == 1


async def test_resends_a_post_with_idempotency_key_and_any_request_that_never_connected() -> None:
    for error, headers in ((httpx.ReadError, {"Idempotency-Key": "k1"}), (httpx.ConnectError, {})):
        seen: list[httpx.Request] = []
        async with gateway(fail_once(error, seen)) as client:
            answer = await client.post("/api/v1/cases", json={}, headers={**KEY, **headers})
        assert answer.status_code == 200 and len(seen) == 2


async def test_answers_503_with_retry_after_when_the_upstream_times_out() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    async with gateway(slow, retry_after_s=7) as client:
        answer = await client.get("/api/v1/statistics", headers=KEY)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "7"
    assert "in time" in answer.json()["detail"]


async def test_refuses_a_body_over_the_limit_with_413_before_reaching_the_upstream() -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen), max_body_bytes=1000) as client:
        declared = await client.post("/api/v1/cases", content=b"x" * 1001, headers=KEY)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"y" * 100  # streamed without Content-Length

        streamed = await client.post("/api/v1/cases", content=chunks(), headers=KEY)
        fits = await client.post("/api/v1/cases", content=b"z" * 1000, headers=KEY)
    assert declared.status_code == 413 and "1000 bytes" in declared.json()["detail"]
    assert streamed.status_code == 413
    assert fits.status_code == 200 and [r.content for r in seen] == [b"z" * 1000]


async def test_answers_503_fast_when_a_real_upstream_is_slow_or_down() -> None:
    """Real sockets: a server that accepts but never answers, and a port where nothing listens."""

    async def accept_and_stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(accept_and_stall, "127.0.0.1", 0)
    stall_port = server.sockets[0].getsockname()[1]
    probe = await asyncio.start_server(accept_and_stall, "127.0.0.1", 0)
    down_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    app = build_app(
        settings(
            casequery_url=f"http://127.0.0.1:{stall_port}",
            intake_url=f"http://127.0.0.1:{down_port}",
            timeout_s=0.3,
        )
    )
    async with (
        server,
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        began = time.monotonic()
        slow = await client.get("/api/v1/cases", headers=KEY)
        down = await client.post("/api/v1/cases", json={}, headers=KEY)
        elapsed = time.monotonic() - began
    assert slow.status_code == 503 and slow.headers["Retry-After"] == "5"
    assert down.status_code == 503 and "ConnectError" in down.json()["detail"]
    assert elapsed < 3


@pytest.mark.parametrize("path", ["/api/v1/cases/%00", "/api/v1/staff/a%7Fb", "/api/v1/cases/%1B%5B2J"])
async def test_control_characters_anywhere_in_a_path_are_refused(path: str) -> None:
    async with gateway(ok([])) as client:
        answer = await client.get(path, headers=KEY)
    assert answer.status_code == 400 and "U+00" in answer.json()["detail"]


async def test_health_names_the_dependency_a_service_reports_down() -> None:
    async def health(request: httpx.Request) -> httpx.Response:
        if request.url.host == "intake":
            checks = {"mongodb": "down: ServerSelectionTimeoutError", "kafka": "ok"}
            return httpx.Response(503, json={"status": "degraded", "checks": checks})
        return httpx.Response(200, json={"status": "ok", "checks": {}})

    async with gateway(health) as client:
        answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["intake"] == "degraded: mongodb (down: ServerSelectionTimeoutError)"
    assert answer.json()["checks"]["casequery"] == "ok"


async def test_an_answer_carries_one_date_and_one_server_header_the_gateways() -> None:
    async def dated(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={}, headers={"date": "Mon, 01 Jan 2001 00:00:00 GMT", "server": "uvicorn"}
        )

    async with gateway(dated) as client:
        answer = await client.get("/api/v1/cases", headers=KEY)
    assert answer.status_code == 200
    assert (
        "Mon, 01 Jan 2001" not in answer.headers.get("date", "") and answer.headers.get("server") != "uvicorn"
    )


async def test_a_relay_alarm_is_shown_but_the_gateway_stays_healthy_a_service_down_is_not() -> None:
    async def health(request: httpx.Request) -> httpx.Response:
        if request.url.host == "relay":  # a parked event: an alarm for an operator, the relay works on
            return httpx.Response(503, json={"status": "degraded", "checks": {"parked_events": "1 parked"}})
        return httpx.Response(200, json={"status": "ok", "checks": {}})

    async with gateway(health) as client:
        answer = await client.get("/healthz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"]["relay"] == "degraded: parked_events (1 parked)"

    async def relay_down(request: httpx.Request) -> httpx.Response:
        if request.url.host == "relay":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"status": "ok", "checks": {}})

    async with gateway(relay_down) as client:
        assert (await client.get("/healthz")).status_code == 503


async def test_two_relays_both_reporting_a_parked_event_keep_the_gateway_healthy() -> None:
    async def health(request: httpx.Request) -> httpx.Response:
        if request.url.host in ("relay-1", "relay-2"):  # the parked event is in the shared store: both say so
            return httpx.Response(503, json={"status": "degraded", "checks": {"parked_events": "1 parked"}})
        return httpx.Response(200, json={"status": "ok", "checks": {}})

    async with gateway(health, relay_url="http://relay-1,http://relay-2") as client:
        answer = await client.get("/healthz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"]["relay"].startswith("ok: 2 of 2 instances answer; #1 degraded")
