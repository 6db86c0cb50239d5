"""Helpers for tests: valid credit codes, case bodies, waiting on conditions with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.generations import Generations
from shared.contracts.credit_code import check_character

T = TypeVar("T")

# The statutory holidays of 2027 that fall on weekdays: every published 2027 must hold them (the rest is 调休).
STATUTORY_2027 = [
    "2027-01-01",
    "2027-02-05",
    "2027-02-08",
    "2027-04-05",
    "2027-06-09",
    "2027-09-15",
    "2027-10-01",
]


def credit_code(n: int) -> str:
    """Return a valid unified social credit code derived from n."""
    first17 = f"91410100{n:09d}"
    return first17 + check_character(first17)


def case_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """Return a valid POST /api/v1/cases body for enterprise n."""
    body: dict[str, Any] = {
        "enterprise": {"name": f"测试企业{n}有限公司", "credit_code": credit_code(n)},
        "category": "fund_disbursement",
        "title": "补贴资金拨付进度",
        "description": "市财政局拨付的补贴资金尚未到账",
        "channel": "visit",
        "legacy": False,
    }
    body.update(overrides)
    return body


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """Await probe until it returns something truthy, or fail after timeout naming what was awaited."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


async def current_collection(db: AsyncDatabase, model: str) -> AsyncCollection:
    """Return the collection holding a case-query read model now (a rebuild moves it to a new generation)."""
    return await Generations(db).collection(model)


async def relay_broker_resets(stack: Any) -> float:
    """Return the relay's relay_broker_resets_total from its /metrics (a devstack Stack)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{stack.config.url('relay')}/metrics")).text
    [line] = [line for line in text.splitlines() if line.startswith("relay_broker_resets_total ")]
    return float(line.split()[1])


def feed_poll_scope(query: bytes, bearer: bytes, host: bytes = b"t") -> dict[str, Any]:
    """Return the ASGI scope of a `GET /api/v1/feed` from 10.0.0.1, for tests that play the server's side."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/feed",
        "raw_path": b"/api/v1/feed",
        "query_string": query,
        "headers": [(b"authorization", b"Bearer " + bearer), (b"host", host)],
        "client": ("10.0.0.1", 1234),
        "server": (host.decode(), 80),
        "root_path": "",
    }
