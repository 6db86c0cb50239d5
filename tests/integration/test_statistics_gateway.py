"""Statistics through the gateway: reopened work counted honestly, figures that add up, a bounded period."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.stack import Stack
from shared.workdays.calendar import SHANGHAI
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def bureau(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh bureau (nothing else counted in its figures) and an admin client for it."""
    bureau_id = f"s{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "statistics test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        yield client


async def served_case(client: httpx.AsyncClient, n: int) -> str:
    case_id = str((await client.post("/api/v1/cases", json=case_body(n))).json()["case_id"])

    async def assigned() -> bool:
        view = await client.get(f"/api/v1/cases/{case_id}")
        return view.status_code == 200 and bool(view.json().get("concierge"))

    await eventually(assigned, 60, f"a concierge on {case_id}")
    return case_id


async def resolve_and_rate(client: httpx.AsyncClient, case_id: str, rating: int) -> None:
    steps = [
        ("clarification", {"summary": "补贴未到账", "sections": ["国库科"]}),
        ("resolution", {"summary": "初步达成解决意向", "settlement_intent": True}),
        ("rating", {"rating": rating, "comment": "评价"}),
    ]
    for step, body in steps:
        answer = await client.post(f"/api/v1/cases/{case_id}/{step}", json=body)
        assert answer.status_code == 201, answer.text


async def test_a_case_rated_1_is_not_counted_as_resolved_or_settling_and_the_figures_add_up(
    bureau: httpx.AsyncClient,
) -> None:
    for name in ("甲科长", "乙科长"):
        await bureau.post("/api/v1/staff", json={"name": name, "post": "section_chief", "section": "预算科"})
    reopened, closed = await served_case(bureau, 1201), await served_case(bureau, 1202)
    await resolve_and_rate(bureau, reopened, 1)
    await resolve_and_rate(bureau, closed, 5)

    async def settled() -> dict[str, Any] | None:
        stats = (await bureau.get("/api/v1/statistics")).json()
        return stats if stats["cases_by_status"] == {"closed": 1, "reopened": 1} else None

    stats = await eventually(settled, 60, "one case closed and one reopened in the figures")

    assert stats["enterprises_with_settlement_intent"] == 1  # the reopened case's intent no longer stands
    assert stats["cases_resolved"] == 1 == stats["cases_by_status"]["closed"]
    assert (stats["cases_reopened"], stats["reopenings"]) == (1, 1)
    assert (stats["resolutions"], stats["resolutions_with_settlement_intent"]) == (2, 2)
    assert (stats["ratings"], stats["average_rating"]) == (2, 3.0)
    assert (stats["cases_opened"], stats["enterprises_assigned"], stats["enterprises_in_resolution"]) == (
        2,
        2,
        2,
    )

    today = datetime.now(SHANGHAI).date()
    this_day = (await bureau.get("/api/v1/statistics", params={"from": str(today), "to": str(today)})).json()
    last_year = {"from": str(today - timedelta(days=400)), "to": str(today - timedelta(days=300))}
    before = (await bureau.get("/api/v1/statistics", params=last_year)).json()
    assert (this_day["period_from"], this_day["resolutions"], this_day["ratings"]) == (str(today), 2, 2)
    assert (
        before["cases_opened"],
        before["enterprises_assigned"],
        before["resolutions"],
        before["ratings"],
    ) == (
        0,
        0,
        0,
        0,
    )
    assert before["cases_total"] == 2  # a state figure: the period does not limit it


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-10-02", "to": "2026-10-01"},
        {"from": "2019-01-01", "to": "2026-01-01"},
        {"from": "2026-02-30", "to": "2026-03-01"},
        {"from": "2026-10-01"},
    ],
)
async def test_a_bad_period_is_refused_with_422(bureau: httpx.AsyncClient, params: dict[str, str]) -> None:
    answer = await bureau.get("/api/v1/statistics", params=params)
    assert answer.status_code == 422, answer.text
