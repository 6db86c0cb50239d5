"""Through the gateway: the case tells its own story (explanation, queue place, history), leadership filters, +08:00."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.stack import Stack
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture
async def bureau(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh bureau of its own (its own board and queue) and an admin client for it."""
    bureau_id = f"h{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "case story test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        yield client


def times_in(value: Any) -> list[str]:
    """Return every ISO date-time string anywhere in a JSON value."""
    if isinstance(value, str):
        return [value] if ISO_TIME.match(value) else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in times_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in times_in(v)]
    return []


async def add_staff(client: httpx.AsyncClient, name: str, post: str) -> str:
    answer = await client.post("/api/v1/staff", json={"name": name, "post": post, "section": "预算科"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["detail"]["staff_id"])


async def open_case(client: httpx.AsyncClient, n: int) -> str:
    answer = await client.post("/api/v1/cases", json=case_body(n))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["case_id"])


async def case_when(client: httpx.AsyncClient, case_id: str, holds: Any, what: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await client.get(f"/api/v1/cases/{case_id}")
        return answer.json() if answer.status_code == 200 and holds(answer.json()) else None

    return await eventually(probe, 60, what)


async def listed(client: httpx.AsyncClient, **params: Any) -> set[str]:
    answer = await client.get("/api/v1/cases", params=params)
    assert answer.status_code == 200, answer.text
    return {c["case_id"] for c in answer.json()["items"]}


async def test_a_bureau_with_one_free_concierge_explains_the_assignment_and_shows_the_waiting_case_in_the_queue(
    bureau: httpx.AsyncClient,
) -> None:
    # Given a section chief and a clerk (who may not serve), capacity one enterprise per concierge
    chief = await add_staff(bureau, "王科长", "section_chief")
    clerk = await add_staff(bureau, "李办事员", "clerk")

    # When two enterprises raise a case each
    served = await open_case(bureau, 911)
    served_view = await case_when(
        bureau, served, lambda v: (v.get("assignment") or {}).get("kind") == "assigned", "the explanation"
    )
    waiting = await open_case(bureau, 912)
    waiting_view = await case_when(
        bureau, waiting, lambda v: v.get("queue"), "the waiting case's queue place"
    )

    # Then the served case explains who was chosen, who else was considered and why not, under which rules
    decision = served_view["assignment"]
    assert decision["concierge"]["staff_id"] == chief and decision["concierge"]["name"] == "王科长"
    assert decision["rule_version"].startswith("2026.11")
    by_id = {c["staff_id"]: c for c in decision["candidates"]}
    assert by_id[chief]["chosen"] and not by_id[clerk]["chosen"]
    assert (
        by_id[clerk]["name"] == "李办事员" and "not a management post" in by_id[clerk]["not_chosen_because"]
    )
    assert decision["decided_at"].endswith("+08:00")
    served_history = (await bureau.get(f"/api/v1/cases/{served}/history")).json()
    assert [e["event_type"] for e in served_history][:2] == ["CaseOpened", "ConciergeAssigned"]
    assert served_history[1]["decision"]["candidates"] == decision["candidates"]

    # And the waiting case is first in the bureau's queue, with the reason, and its history says it was queued
    assert waiting_view["concierge"] is None
    assert (waiting_view["queue"]["position"], waiting_view["queue"]["enterprises_ahead"]) == (1, 0)
    assert waiting_view["queue"]["reason"]
    waiting_history = (await bureau.get(f"/api/v1/cases/{waiting}/history")).json()
    queued = [e for e in waiting_history if e["event_type"] == "EnterpriseQueued"]
    assert len(queued) == 1 and queued[0]["decision"]["reason"] == waiting_view["queue"]["reason"]
    assert queued[0]["summary"].startswith("排队等待")

    # And the leadership filters answer the right cases
    assert await listed(bureau, concierge=chief) == {served}
    assert await listed(bureau, flagged_for_leadership="false") == {served, waiting}
    assert await listed(bureau, flagged_for_leadership="true") == set()
    assert await listed(bureau, overdue="true") == set()  # no coordination task at all
    assert await listed(bureau, waiting_more_than=0) == set()  # waiting since today: 0 working days
    refused = await bureau.get("/api/v1/cases", params={"flagged": "true"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "flagged"]

    # And every time the API answers is in Asia/Shanghai time
    page = (await bureau.get("/api/v1/cases")).json()
    events = (await bureau.get(f"/api/v1/cases/{served}/events")).json()
    times = times_in([served_view, waiting_view, served_history, waiting_history, page, events])
    assert times and all(t.endswith("+08:00") for t in times), [t for t in times if not t.endswith("+08:00")]


async def test_a_low_rating_flags_the_case_for_leadership_and_the_queue_moves_when_the_concierge_is_free(
    bureau: httpx.AsyncClient,
) -> None:
    # Given one concierge serving an enterprise and another enterprise waiting
    chief = await add_staff(bureau, "王科长", "section_chief")
    served = await open_case(bureau, 921)
    await case_when(bureau, served, lambda v: v.get("concierge"), "a concierge on the first case")
    waiting = await open_case(bureau, 922)
    await case_when(bureau, waiting, lambda v: v.get("queue"), "the second case in the queue")

    # When the first case is resolved and rated 1
    for step, body in [
        ("clarification", {"summary": "补贴未到账", "sections": ["国库科"]}),
        ("resolution", {"summary": "初步达成解决意向", "settlement_intent": True}),
        ("rating", {"rating": 1, "comment": "不满意"}),
    ]:
        answer = await bureau.post(f"/api/v1/cases/{served}/{step}", json=body)
        assert answer.status_code == 201, answer.text

    # Then the waiting enterprise got the free concierge: it leaves the queue, its story says so
    now_served = await case_when(
        bureau, waiting, lambda v: (v.get("assignment") or {}).get("kind") == "assigned", "the queue to move"
    )
    assert now_served["queue"] is None and now_served["assignment"]["concierge"]["staff_id"] == chief
    history = (await bureau.get(f"/api/v1/cases/{waiting}/history")).json()
    board = [e["decision"]["kind"] for e in history if e["source"] == "board"]
    assert board == ["queued", "assigned"]

    # And the low-rated case is the one a leader finds flagged
    await case_when(bureau, served, lambda v: v.get("flagged_for_leadership"), "the flag")
    assert await listed(bureau, flagged_for_leadership="true") == {served}
    assert await listed(bureau, flagged_for_leadership="true", concierge=chief) == {served}
