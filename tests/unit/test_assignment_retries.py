"""A retry with the same Idempotency-Key gets the first answer even when that answer was never stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from shared.eventstore.memory import InMemoryRecorder
from shared.idempotency import InMemoryIdempotencyStore, RecordedAnswer
from tests.unit.test_assignment_support import app_with, auth, open_case

CLARIFY = {"summary": "补贴未到账", "sections": ["国库科"]}
RESOLVE = {"summary": "已到账", "settlement_intent": True}


class CrashingBeforeTheAnswer(InMemoryIdempotencyStore):
    """The process dies after its events were appended and before its answer was stored, `times` times."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    async def record(self, answer: RecordedAnswer) -> RecordedAnswer:
        if self.times:
            self.times -= 1
            raise ConnectionError("the process died before storing its answer")
        return await super().record(answer)


class SlowToAnswer(InMemoryIdempotencyStore):
    """Stores an answer a moment after the events were appended, as a busy database does."""

    async def record(self, answer: RecordedAnswer) -> RecordedAnswer:
        await asyncio.sleep(0.05)
        return await super().record(answer)


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def app(recorder: InMemoryRecorder) -> FastAPI:
    return app_with(recorder)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://assignment") as client:
        yield client


async def count(recorder: InMemoryRecorder, stream: str, event_type: str) -> int:
    return [e.event_type for e in await recorder.read_stream(stream)].count(event_type)


async def test_a_resolution_applied_before_a_crash_is_answered_201_to_its_retry(app, http, recorder) -> None:
    await open_case(recorder, "a", "finance", 1)
    assert (
        await http.post("/api/v1/cases/a/clarification", json=CLARIFY, headers=auth("finance-admin"))
    ).is_success
    app.state.idempotency = CrashingBeforeTheAnswer(times=1)

    lost = await http.post("/api/v1/cases/a/resolution", json=RESOLVE, headers=auth("finance-admin", "r1"))
    retry = await http.post("/api/v1/cases/a/resolution", json=RESOLVE, headers=auth("finance-admin", "r1"))

    assert lost.status_code == 500  # the caller never learnt that its resolution was recorded
    assert retry.status_code == 201, retry.text  # not 409 "the case is resolved": it was this request's own
    assert retry.json()["recorded"] == ["CaseResolved"]
    assert await count(recorder, "a", "CaseResolved") == 1
    again = await http.post("/api/v1/cases/a/resolution", json=RESOLVE, headers=auth("finance-admin", "r1"))
    assert (again.status_code, again.json()) == (201, retry.json())
    other = await http.post("/api/v1/cases/a/resolution", json=RESOLVE, headers=auth("finance-admin", "r2"))
    assert other.status_code == 409  # another request is judged by the rules as before


async def test_identical_requests_at_once_all_get_the_first_answer(app, http, recorder) -> None:
    app.state.idempotency = SlowToAnswer()
    await open_case(recorder, "a", "finance", 1)
    assert (
        await http.post("/api/v1/cases/a/clarification", json=CLARIFY, headers=auth("finance-admin"))
    ).is_success
    staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
    added = await http.post("/api/v1/staff", json=staff, headers=auth("finance-admin"))
    staff_id = added.json()["detail"]["staff_id"]

    resolutions = await asyncio.gather(
        *(
            http.post("/api/v1/cases/a/resolution", json=RESOLVE, headers=auth("finance-admin", "r1"))
            for _ in range(3)
        )
    )
    departures = await asyncio.gather(
        *(
            http.post(
                f"/api/v1/staff/{staff_id}/departure",
                json={"reason": "调离"},
                headers=auth("finance-admin", "d1"),
            )
            for _ in range(3)
        )
    )

    for answers in (resolutions, departures):
        assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
        assert len({a.text for a in answers}) == 1
    assert await count(recorder, "a", "CaseResolved") == 1
    assert await count(recorder, "board-finance", "StaffDeparted") == 1


async def test_a_task_opened_before_a_crash_answers_its_retry_with_the_same_task_and_due_date(
    app, http, recorder
) -> None:
    await open_case(recorder, "a", "finance", 1)
    assert (
        await http.post("/api/v1/cases/a/clarification", json=CLARIFY, headers=auth("finance-admin"))
    ).is_success
    app.state.idempotency = CrashingBeforeTheAnswer(times=1)
    task = {"section": "国库科", "description": "核对拨付", "working_days": 3}

    lost = await http.post("/api/v1/cases/a/tasks", json=task, headers=auth("finance-admin", "t1"))
    retry = await http.post("/api/v1/cases/a/tasks", json=task, headers=auth("finance-admin", "t1"))

    assert lost.status_code == 500 and retry.status_code == 201, retry.text
    [opened] = [e for e in await recorder.read_stream("a") if e.event_type == "CoordinationTaskOpened"]
    assert retry.json()["detail"]["task_id"] == opened.data["task_id"]
    assert retry.json()["detail"]["due_at"] == opened.data["due_at"]


async def test_a_notice_published_before_a_crash_answers_its_retry_with_that_notice(
    app, http, recorder
) -> None:
    staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
    assert (await http.post("/api/v1/staff", json=staff, headers=auth("finance-admin"))).status_code == 201
    app.state.idempotency = CrashingBeforeTheAnswer(times=1)

    lost = await http.post("/api/v1/notices", json={}, headers=auth("finance-admin", "n1"))
    retry = await http.post("/api/v1/notices", json={}, headers=auth("finance-admin", "n1"))

    assert lost.status_code == 500 and retry.status_code == 201, retry.text
    [published] = [
        e for e in await recorder.read_stream("board-finance") if e.event_type == "NoticePublished"
    ]
    assert retry.json()["notice_id"] == published.data["notice_id"]
    assert retry.json()["document_number"] == published.data["document_number"]
