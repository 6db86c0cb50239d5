"""GET /api/v1/feed: a bureau reads only its own events, in global order, resumable from its cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides, build_app
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import NewEvent
from tests.fakes import FakeApiKeys
from tests.unit.test_casequery_http import FakeViews, InMemoryStories, recording

FINANCE = {"Authorization": "Bearer finance-key"}
INNOVATION = {"Authorization": "Bearer innovation-key"}


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def client(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys(
        {"finance-key": ("finance", Role.VIEWER), "innovation-key": ("innovation", Role.VIEWER)}
    )
    overrides = Overrides(
        views=cast(AsyncCollection, FakeViews()), recorder=recorder, api_keys=keys, stories=InMemoryStories()
    )
    app = build_app(CaseQuerySettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def _record(recorder: InMemoryRecorder, bureau: str, n: int) -> None:
    for _ in range(n):
        i = len(await recorder.read_all(0, 10_000))
        data = {"enterprises_per_concierge": i + 1}
        await recorder.append(
            recording(f"settings-{bureau}-{i}", "board", bureau), [NewEvent("ConciergeCapacitySet", 1, data)]
        )


async def test_each_bureau_reads_only_its_own_events_in_order_and_resumes_from_its_cursor(client, recorder):
    await _record(recorder, "finance", 3)
    await _record(recorder, "innovation", 2)
    await _record(recorder, "finance", 2)
    first = (await client.get("/api/v1/feed?limit=3", headers=FINANCE)).json()
    assert [e["bureau"] for e in first["events"]] == ["finance"] * 3
    rest = (await client.get(f"/api/v1/feed?after={first['next']}", headers=FINANCE)).json()
    positions = [e["position"] for e in first["events"] + rest["events"]]
    assert len(positions) == 5 and positions == sorted(positions)
    other = (await client.get("/api/v1/feed", headers=INNOVATION)).json()
    assert [e["bureau"] for e in other["events"]] == ["innovation"] * 2
    done = (await client.get(f"/api/v1/feed?after={rest['next']}", headers=FINANCE)).json()
    assert done == {"events": [], "next": rest["next"], "limit": 100}
    assert first["events"][0]["occurred_at"].endswith("+08:00")


async def test_a_long_poll_answers_as_soon_as_an_event_arrives(client, recorder):
    async def later() -> None:
        await asyncio.sleep(0.3)
        await _record(recorder, "finance", 1)

    task = asyncio.create_task(later())
    answer = (await client.get("/api/v1/feed?wait=5", headers=FINANCE)).json()
    await task
    assert len(answer["events"]) == 1


async def test_bad_cursors_and_limits_are_refused_with_the_reason(client):
    for query in ("after=-1", "limit=0", "limit=1001", "wait=31", "after=abc"):
        answer = await client.get(f"/api/v1/feed?{query}", headers=FINANCE)
        assert answer.status_code == 422, query
    assert (await client.get("/api/v1/feed")).status_code == 401
