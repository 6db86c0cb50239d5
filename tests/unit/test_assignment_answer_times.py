"""Every time the assignment API answers carries the +08:00 offset (README), even when stored in UTC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from shared.contracts.answers import in_shanghai
from shared.contracts.cases import Category
from shared.eventstore.memory import InMemoryRecorder
from tests.unit.test_assignment_support import app_with, auth, context, enterprise

ADMIN = auth("finance-admin")
FUNDS = Category.FUND_DISBURSEMENT


def client(recorder: InMemoryRecorder) -> httpx.AsyncClient:
    """A client of an assignment instance that reads the boards afresh from the store (times in UTC)."""
    transport = httpx.ASGITransport(app=app_with(recorder))
    return httpx.AsyncClient(transport=transport, base_url="http://assignment")


@pytest.fixture
async def recorder() -> AsyncIterator[InMemoryRecorder]:
    yield InMemoryRecorder()


async def test_the_queue_answers_when_an_enterprise_started_waiting_in_shanghai_time(
    recorder: InMemoryRecorder,
) -> None:
    # Given an enterprise waiting since its case opened, nobody on the roster (the store keeps UTC)
    async with client(recorder) as writer:
        boards = writer._transport.app.state.boards  # type: ignore[attr-defined]
        await boards.decide(
            context("finance"), lambda b: b.open_case("c1", enterprise(1), FUNDS, datetime.now(UTC))
        )

    # When another instance answers the queue
    async with client(recorder) as reader:
        [waiting] = (await reader.get("/api/v1/assignments/queue", headers=ADMIN)).json()

    # Then the time carries +08:00
    assert waiting["queued_at"].endswith("+08:00"), waiting


async def test_the_roster_and_concierges_answer_idle_since_in_shanghai_time(
    recorder: InMemoryRecorder,
) -> None:
    # Given a concierge who stopped serving an enterprise (moved to a colleague)
    async with client(recorder) as writer:
        for name in ("王科长", "李科长"):
            added = await writer.post(
                "/api/v1/staff",
                json={"name": name, "post": "section_chief", "section": "预算科"},
                headers=ADMIN,
            )
            assert added.status_code == 201, added.text
        boards = writer._transport.app.state.boards  # type: ignore[attr-defined]
        await boards.decide(
            context("finance"), lambda b: b.open_case("c1", enterprise(1), FUNDS, datetime.now(UTC))
        )
        cards = (await writer.get("/api/v1/staff", headers=ADMIN)).json()
        [free] = [c["staff_id"] for c in cards if not c["current_enterprises"]]
        moved = await writer.post(
            "/api/v1/assignments/reassignments",
            json={"credit_code": enterprise(1).credit_code, "to_staff_id": free, "reason": "利益冲突"},
            headers=ADMIN,
        )
        assert moved.status_code == 201, moved.text

    # When another instance answers the roster and the concierges
    async with client(recorder) as reader:
        roster = (await reader.get("/api/v1/staff", headers=ADMIN)).json()
        concierges = (await reader.get("/api/v1/concierges", headers=ADMIN)).json()

    # Then every idle_since carries +08:00
    idle = [c["idle_since"] for c in [*roster, *concierges] if c["idle_since"] is not None]
    assert idle and all(t.endswith("+08:00") for t in idle), idle


async def test_a_calendar_year_answers_when_it_was_published_in_shanghai_time(
    recorder: InMemoryRecorder,
) -> None:
    async with client(recorder) as reader:
        year = await reader.get("/api/v1/calendar/2026", headers=ADMIN)

    assert year.status_code == 200, year.text
    assert year.json()["published_at"] == "2025-11-04T08:00:00+08:00"


def test_a_naive_stored_time_is_read_as_utc() -> None:
    assert in_shanghai(datetime(2026, 11, 28, 1, 0)).isoformat() == "2026-11-28T09:00:00+08:00"
