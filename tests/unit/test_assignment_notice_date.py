"""A notice is never dated after today (Asia/Shanghai): it would take numbers of a year still to come."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest

from services.assignment.application.boards import board_stream
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_assignment_support import app_with, auth

ADMIN = auth("finance-admin")


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def http(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with(recorder))
    async with httpx.AsyncClient(transport=transport, base_url="http://assignment") as client:
        staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
        assert (await client.post("/api/v1/staff", json=staff, headers=ADMIN)).status_code == 201
        yield client


@pytest.mark.parametrize("issued_on", ["2099-01-01", "tomorrow"])
async def test_a_notice_dated_after_today_is_refused_with_the_reason_and_records_nothing(
    http: httpx.AsyncClient, recorder: InMemoryRecorder, issued_on: str
) -> None:
    today = datetime.now(SHANGHAI).date()
    day = (today + timedelta(days=1)).isoformat() if issued_on == "tomorrow" else issued_on

    answer = await http.post("/api/v1/notices", json={"issued_on": day}, headers=ADMIN)

    assert answer.status_code == 422, answer.text
    [reason] = answer.json()["detail"]
    assert reason["loc"] == ["body", "issued_on"] and "晚于今天" in reason["msg"]
    stored = [e.event_type for e in await recorder.read_stream(board_stream("finance"))]
    assert "NoticePublished" not in stored


async def test_a_notice_dated_today_is_published(http: httpx.AsyncClient) -> None:
    today = datetime.now(SHANGHAI).date()

    answer = await http.post("/api/v1/notices", json={"issued_on": today.isoformat()}, headers=ADMIN)

    assert answer.status_code == 201, answer.text
    assert answer.json()["document_number"].endswith(f"〔{today.year}〕1号")
