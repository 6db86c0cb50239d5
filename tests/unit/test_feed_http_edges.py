"""GET /api/v1/feed at its edges: a cursor past the head, loose numbers, and a caller that went away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides, build_app
from services.casequery.entrypoints import feed_http
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import Role
from shared.eventstore.feed import FeedPage
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.support import feed_poll_scope
from tests.unit.test_bureau_feed import FINANCE, _record
from tests.unit.test_casequery_http import FakeViews, InMemoryStories


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def app(recorder: InMemoryRecorder) -> FastAPI:
    keys = FakeApiKeys(
        {"finance-key": ("finance", Role.VIEWER), "innovation-key": ("innovation", Role.VIEWER)}
    )
    overrides = Overrides(
        views=cast(AsyncCollection, FakeViews()), recorder=recorder, api_keys=keys, stories=InMemoryStories()
    )
    return build_app(CaseQuerySettings(), overrides)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def test_a_cursor_beyond_the_head_is_409_naming_the_head(client, recorder):
    await _record(recorder, "finance", 2)
    await _record(recorder, "innovation", 1)  # the head (3) is another bureau's event
    beyond = await client.get("/api/v1/feed?after=50&wait=5", headers=FINANCE)  # answered at once
    assert beyond.status_code == 409
    body = beyond.json()
    assert body["head"] == 3 and "3" in body["detail"] and " / " in body["detail"]
    assert body["detail"].startswith("游标 50")
    for after in (2, 3):  # at the head, or below it with nothing of the bureau's left: still 200
        answer = await client.get(f"/api/v1/feed?after={after}", headers=FINANCE)
        assert answer.status_code == 200 and answer.json()["next"] == after


async def test_an_empty_store_takes_only_the_cursor_zero(client):
    assert (await client.get("/api/v1/feed?after=0", headers=FINANCE)).json()["next"] == 0
    answer = await client.get("/api/v1/feed?after=1", headers=FINANCE)
    assert answer.status_code == 409 and answer.json()["head"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "after=1_000",
        "after=%2B1",
        "after=%20%201",
        "after=1%20",
        "after=1.0",
        "after=%D9%A1",  # an Arabic-Indic one
        "after=",
        "limit=1.0",
        "limit=1_0",
        "limit=%2B5",
    ],
)
async def test_after_and_limit_take_plain_digits_only(client, recorder, query):
    await _record(recorder, "finance", 2)
    answer = await client.get(f"/api/v1/feed?{query}", headers=FINANCE)
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["query", query.split("=")[0]]
    assert problem["msg"].startswith("须为十进制数字") and "/ must be plain decimal digits" in problem["msg"]


async def test_plain_digits_still_work_and_the_contract_keeps_integers(client, recorder, app):
    await _record(recorder, "finance", 2)
    answer = await client.get("/api/v1/feed?after=001&limit=0001", headers=FINANCE)
    assert answer.status_code == 200 and answer.json()["next"] == 2 and answer.json()["limit"] == 1
    parameters = {p["name"]: p["schema"] for p in app.openapi()["paths"]["/api/v1/feed"]["get"]["parameters"]}
    assert parameters["after"]["type"] == parameters["limit"]["type"] == "integer"
    assert "409" in app.openapi()["paths"]["/api/v1/feed"]["get"]["responses"]


class CountingFeed:
    """The app's feed, counting the store reads."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.reads = inner, 0

    async def page(self, bureau: str, after: int, limit: int) -> FeedPage:
        self.reads += 1
        page: FeedPage = await self.inner.page(bureau, after, limit)
        return page


async def test_a_long_poll_stops_reading_the_store_once_the_caller_went_away(app, monkeypatch):
    monkeypatch.setattr(feed_http, "POLL_SECONDS", 0.02)
    counting = CountingFeed(app.state.feed)
    app.state.feed = counting
    asked, sent = [False], []
    started = time.monotonic()

    async def receive() -> dict[str, Any]:  # as uvicorn's: the request, then waits until the caller goes
        if not asked[0]:
            asked[0] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if time.monotonic() - started < 0.1:  # the caller disconnects a little after asking
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = feed_poll_scope(b"after=0&wait=5", b"finance-key", b"t")
    await asyncio.wait_for(app(scope, receive, send), 10)
    assert time.monotonic() - started < 2  # not the whole `wait` of 5 s
    assert counting.reads < 20  # without the check: about 5 / 0.02 = 250 reads for nobody
