"""The feed's long polls are capped per bureau in casequery, whatever keys or tokens they come with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides, build_app
from services.casequery.entrypoints import feed_http
from services.casequery.entrypoints.feed_seats import FeedSeats
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.unit.test_bureau_feed import _record
from tests.unit.test_casequery_http import FakeViews, InMemoryStories

KEYS = {f"finance-{n}": ("finance", Role.VIEWER) for n in range(4)} | {
    "innovation-0": ("innovation", Role.VIEWER)
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def client(
    recorder: InMemoryRecorder, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setattr(feed_http, "POLL_SECONDS", 0.02)
    overrides = Overrides(
        views=cast(AsyncCollection, FakeViews()),
        recorder=recorder,
        api_keys=FakeApiKeys(KEYS),
        stories=InMemoryStories(),
    )
    app: FastAPI = build_app(CaseQuerySettings(feed_long_polls_per_bureau=2), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def seated(client: httpx.AsyncClient, bureau: str, count: int) -> None:
    """Wait until the bureau holds `count` seats (the polls reached their wait)."""
    seats: FeedSeats = client._transport.app.state.feed_seats  # type: ignore[attr-defined]
    for _ in range(200):
        if seats.held(bureau) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{bureau} holds {seats.held(bureau)} seats, not {count}")


async def test_a_bureau_past_its_seats_gets_429_with_retry_after_whatever_key_it_uses(client, recorder):
    waiting = [
        asyncio.create_task(client.get("/api/v1/feed?wait=5", headers=bearer(f"finance-{n}"))) for n in (0, 1)
    ]
    await seated(client, "finance", 2)
    refused = await client.get("/api/v1/feed?wait=5", headers=bearer("finance-2"))  # a third key, same bureau
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "5"
    assert (
        refused.json()["detail"].startswith("本局已有 2 个长轮询")
        and " / your bureau" in refused.json()["detail"]
    )
    other = asyncio.create_task(client.get("/api/v1/feed?wait=5", headers=bearer("innovation-0")))
    await seated(client, "innovation", 1)  # another bureau still gets a seat
    no_wait = await client.get("/api/v1/feed", headers=bearer("finance-3"))  # a poll without wait is not held
    assert no_wait.status_code == 200
    await _record(recorder, "finance", 1)
    await _record(recorder, "innovation", 1)
    answers = await asyncio.gather(*waiting, other)
    assert [len(a.json()["events"]) for a in answers] == [1, 1, 1]
    await seated(client, "finance", 0)  # every seat is given back once its poll answered
    assert (
        await client.get("/api/v1/feed?after=2&wait=0.05", headers=bearer("finance-2"))
    ).status_code == 200


async def test_a_poll_with_events_at_once_needs_no_seat(client, recorder):
    await _record(recorder, "finance", 1)
    waiting = [
        asyncio.create_task(client.get("/api/v1/feed?after=1&wait=5", headers=bearer(f"finance-{n}")))
        for n in (0, 1)
    ]
    await seated(client, "finance", 2)
    answer = await client.get("/api/v1/feed?wait=5", headers=bearer("finance-2"))  # event 1 is there: no wait
    assert answer.status_code == 200 and len(answer.json()["events"]) == 1
    await _record(recorder, "finance", 1)
    assert all(a.status_code == 200 for a in await asyncio.gather(*waiting))


async def test_a_poll_that_fails_gives_its_seat_back():
    seats = FeedSeats(1)
    with pytest.raises(RuntimeError), seats.holding("finance"):
        assert seats.full("finance")
        raise RuntimeError("the store went away")
    assert not seats.full("finance") and seats.held("finance") == 0
    assert not FeedSeats(0).full("finance")  # 0: no cap
