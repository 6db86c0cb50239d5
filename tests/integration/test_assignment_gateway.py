"""Through the gateway: case steps only on cases, scoped Idempotency-Keys, the zone-wide calendar."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.contracts.calendar import CALENDAR_STREAM
from shared.devstack.stack import Stack
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration
CLARIFY = {"summary": "补贴未到账", "sections": ["国库科"]}


@pytest.fixture
async def bureau(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A fresh bureau (its own board) and an admin client for it."""
    bureau_id = f"g{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "assignment gateway test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        yield bureau_id, client


async def open_assigned_case(client: httpx.AsyncClient, n: int) -> str:
    added = await client.post(
        "/api/v1/staff", json={"name": "王科长", "post": "section_chief", "section": "预算科"}
    )
    assert added.status_code == 201, added.text
    opened = await client.post("/api/v1/cases", json=case_body(n))
    assert opened.status_code == 201, opened.text
    case_id = str(opened.json()["case_id"])

    async def assigned() -> bool:
        view = await client.get(f"/api/v1/cases/{case_id}")
        return view.status_code == 200 and bool(view.json().get("concierge"))

    await eventually(assigned, 30, f"a concierge on {case_id}")
    return case_id


async def test_case_steps_on_the_board_or_calendar_stream_are_not_found_and_write_nothing(
    bureau: tuple[str, httpx.AsyncClient], stack_db: AsyncDatabase
) -> None:
    bureau_id, client = bureau
    await open_assigned_case(client, 961)
    before = await stack_db.events.count_documents(
        {"stream_id": {"$in": [f"board-{bureau_id}", CALENDAR_STREAM]}}
    )

    for stream in (f"board-{bureau_id}", CALENDAR_STREAM):
        answer = await client.post(f"/api/v1/cases/{stream}/clarification", json=CLARIFY)
        assert answer.status_code == 404, (stream, answer.text)

    after = await stack_db.events.count_documents(
        {"stream_id": {"$in": [f"board-{bureau_id}", CALENDAR_STREAM]}}
    )
    assert after == before


async def test_a_retried_resolution_gets_its_first_answer_and_a_reused_key_is_refused(
    bureau: tuple[str, httpx.AsyncClient],
) -> None:
    _, client = bureau
    case_id = await open_assigned_case(client, 962)
    key = {"Idempotency-Key": f"resolve-{uuid.uuid4().hex}"}
    assert (await client.post(f"/api/v1/cases/{case_id}/clarification", json=CLARIFY)).status_code == 201
    body = {"summary": "已到账", "settlement_intent": True}

    first = await client.post(f"/api/v1/cases/{case_id}/resolution", json=body, headers=key)
    retry = await client.post(f"/api/v1/cases/{case_id}/resolution", json=body, headers=key)
    reused = await client.post(
        f"/api/v1/cases/{case_id}/resolution", json={**body, "summary": "另一个"}, headers=key
    )

    assert first.status_code == retry.status_code == 201 and retry.json() == first.json()
    assert reused.status_code == 409 and "Idempotency-Key" in reused.json()["detail"]


async def test_only_a_zone_operator_key_publishes_the_calendar(bureau: tuple[str, httpx.AsyncClient]) -> None:
    _, client = bureau
    answer = await client.put("/api/v1/calendar/2031", json={"holidays": ["2031-01-01"]})
    assert answer.status_code == 403
