"""Through the gateway: every route README documents answers as a route (never an unrouted 404 or 405),
and the capacity setting README describes works."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.stack import Stack
from tests.api import Api
from tests.readme_routes import concrete, documented_routes
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration
ROUTES = documented_routes()
UNROUTED = {"Not Found", "Method Not Allowed"}  # FastAPI's own answers when no route matched


def _unrouted(answer: httpx.Response) -> bool:
    if answer.status_code not in (404, 405):
        return False
    try:
        detail = answer.json().get("detail")
    except ValueError:
        return True
    return detail in UNROUTED or (isinstance(detail, str) and "no API at" in detail)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_every_documented_route_answers_through_the_gateway(api: Api, method: str, path: str) -> None:
    # An empty JSON body: a route that exists answers 4xx about the body or the id, never "no such route".
    answer = await api.finance.request(method, concrete(path), json={} if method != "GET" else None)
    assert not _unrouted(answer), (
        f"{method} {path} is documented but answered {answer.status_code} {answer.text}"
    )
    assert answer.status_code < 500, f"{method} {path} answered {answer.status_code} {answer.text}"


@pytest.fixture
async def own_bureau(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A bureau of its own (its own board and queue) and an admin client for it."""
    bureau_id = f"s{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "settings test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        yield client


async def _waiting(client: httpx.AsyncClient) -> list[Any]:
    return list((await client.get("/api/v1/assignments/queue")).json())


async def test_raising_the_capacity_serves_a_waiting_enterprise_at_once(
    own_bureau: httpx.AsyncClient,
) -> None:
    # Given one management-post person serving one enterprise and a second enterprise waiting
    added = await own_bureau.post(
        "/api/v1/staff", json={"name": "赵科长", "post": "section_chief", "section": "预算科"}
    )
    assert added.status_code == 201, added.text
    for n in (801, 802):
        opened = await own_bureau.post("/api/v1/cases", json=case_body(n))
        assert opened.status_code == 201, opened.text
    await eventually(lambda: _waiting(own_bureau), 30, "the second enterprise in the queue")
    assert (await own_bureau.get("/api/v1/assignments/settings")).json() == {"enterprises_per_concierge": 1}

    # When the bureau lets one concierge serve two enterprises
    changed = await own_bureau.put("/api/v1/assignments/settings", json={"enterprises_per_concierge": 2})

    # Then the waiting enterprise is served in the same decision and the queue is empty
    assert changed.status_code == 200, changed.text
    assert changed.json()["enterprises_per_concierge"] == 2
    assert changed.json()["recorded"] == ["ConciergeCapacitySet", "ConciergeAssigned"]
    assert await _waiting(own_bureau) == []
    assert (await own_bureau.get("/api/v1/assignments/settings")).json() == {"enterprises_per_concierge": 2}


async def test_capacity_is_refused_out_of_range_and_for_a_read_only_key(
    own_bureau: httpx.AsyncClient, stack: Stack, stack_db: AsyncDatabase
) -> None:
    for bad in ({"enterprises_per_concierge": 0}, {"enterprises_per_concierge": "2"}, {}):
        answer = await own_bureau.put("/api/v1/assignments/settings", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
    viewer = await ApiKeyStore(stack_db).issue("finance", Role.VIEWER, "viewer")
    answer = await own_bureau.put(
        "/api/v1/assignments/settings",
        json={"enterprises_per_concierge": 2},
        headers={"Authorization": f"Bearer {viewer}"},
    )
    assert answer.status_code == 403, answer.text
