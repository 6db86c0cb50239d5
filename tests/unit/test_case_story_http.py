"""The story on the case through the case query app (fakes): explanation, queue place, history, filters, +08:00."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides, build_app
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import Role
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import NewEvent
from tests.fakes import FakeApiKeys
from tests.support import credit_code
from tests.unit.test_casequery_http import FINANCE, FakeViews, InMemoryStories, open_finance_case, recording

ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def views() -> FakeViews:
    return FakeViews()


@pytest.fixture
def stories() -> InMemoryStories:
    return InMemoryStories()


@pytest.fixture
async def client(
    recorder: InMemoryRecorder, views: FakeViews, stories: InMemoryStories
) -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"finance-key": ("finance", Role.VIEWER)})
    overrides = Overrides(
        views=cast(AsyncCollection, views), recorder=recorder, api_keys=keys, stories=stories
    )
    app = build_app(CaseQuerySettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


def times_in(value: Any) -> list[str]:
    """Return every ISO date-time string anywhere in a JSON value."""
    if isinstance(value, str):
        return [value] if ISO_TIME.match(value) else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in times_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in times_in(v)]
    return []


async def queue_case(recorder: InMemoryRecorder, stories: InMemoryStories, case_id: str) -> None:
    """Record the board's decision that the case's enterprise waits, and fold it as the consumer would."""
    queued = {
        "enterprise": {"name": "测试企业5有限公司", "credit_code": credit_code(5)},
        "case_id": case_id,
        "category": "fund_disbursement",
        "reason": "no management-post person is free",
    }
    result = await recorder.append(
        recording("board-finance", "board"), [NewEvent("EnterpriseQueued", 1, queued)]
    )
    for envelope in result.events:
        stories.fold(envelope)


async def test_given_a_waiting_case_when_read_then_it_shows_its_queue_place_and_its_queued_history_entry(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews, stories: InMemoryStories
) -> None:
    # Given a case whose enterprise the board queued
    case_id = await open_finance_case(recorder, views)
    await queue_case(recorder, stories, case_id)

    # When the case and its history are read
    case = (await client.get(f"/api/v1/cases/{case_id}", headers=FINANCE)).json()
    history = (await client.get(f"/api/v1/cases/{case_id}/history", headers=FINANCE)).json()

    # Then it is first in the queue, with the reason, and its history says so after the opening
    assert case["queue"]["position"] == 1 and case["queue"]["enterprises_ahead"] == 0
    assert case["queue"]["reason"] == "no management-post person is free"
    assert case["assignment"]["kind"] == "queued"
    assert [(e["source"], e["event_type"]) for e in history] == [
        ("case", "CaseOpened"),
        ("board", "EnterpriseQueued"),
    ]
    assert history[1]["decision"]["reason"] == "no management-post person is free"
    assert history[0]["summary"].startswith("立案")


async def test_given_a_case_when_read_then_every_time_it_answers_is_in_shanghai_time(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews, stories: InMemoryStories
) -> None:
    case_id = await open_finance_case(recorder, views)
    await queue_case(recorder, stories, case_id)

    answers = [
        (await client.get(path, headers=FINANCE)).json()
        for path in (
            f"/api/v1/cases/{case_id}",
            f"/api/v1/cases/{case_id}?as_of=2999-01-01T00:00:00%2B08:00",
            f"/api/v1/cases/{case_id}/events",
            f"/api/v1/cases/{case_id}/history",
            "/api/v1/cases",
        )
    ]

    times = times_in(answers)
    assert len(times) >= 10
    assert all(t.endswith("+08:00") for t in times), times


@pytest.mark.parametrize(
    "params",
    [
        {"flagged": "true"},
        {"flagged_for_leadership": "yes"},
        {"flagged_for_leadership": "1"},
        {"overdue": "maybe"},
        {"waiting_more_than": "-1"},
        {"waiting_more_than": "1.5"},
        {"waiting_more_than": "1001"},
        {"concierge": "a b"},
        {"concierge": "x" * 65},
    ],
)
async def test_given_an_unknown_filter_or_an_invalid_value_when_listing_then_422_names_it(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/cases", params=params, headers=FINANCE)

    assert answer.status_code == 422, answer.text
    assert {e["loc"][-1] for e in answer.json()["detail"]} == set(params)
    assert all(e["msg"] for e in answer.json()["detail"])


async def test_given_a_flagged_case_when_listing_flagged_for_leadership_then_only_it_answers(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews
) -> None:
    flagged = await open_finance_case(recorder, views)
    other = await open_finance_case(recorder, views)
    views.docs[0]["flagged_for_leadership"] = True

    yes = (await client.get("/api/v1/cases?flagged_for_leadership=true", headers=FINANCE)).json()
    no = (await client.get("/api/v1/cases?flagged_for_leadership=false", headers=FINANCE)).json()

    assert [c["case_id"] for c in yes["items"]] == [flagged]
    assert [c["case_id"] for c in no["items"]] == [other]


def board_decision(event_type: str, version: int, data: dict[str, Any], at: datetime) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        stream_id="board-finance",
        stream_type="board",
        version=version,
        bureau="finance",
        occurred_at=at,
        recorded_at=at,
        actor=Actor(kind="service", id="test"),
        correlation_id=uuid.uuid4(),
        data=data,
    )


async def test_given_a_case_queued_then_served_when_read_as_of_between_then_the_decision_then_in_force_shows(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews, stories: InMemoryStories
) -> None:
    # Given a case queued now and given a concierge an hour later
    case_id = await open_finance_case(recorder, views)
    now = datetime.now(UTC)
    firm = {"name": "测试企业5有限公司", "credit_code": credit_code(5)}
    queued = {"enterprise": firm, "case_id": case_id, "category": "fund_disbursement", "reason": "无人空闲"}
    assigned = {
        "enterprise": firm,
        "staff_id": "s1",
        "staff_name": "王科长",
        "post": "section_chief",
        "case_ids": [case_id],
        "category": "fund_disbursement",
        "candidates": [],
        "rule_version": "2026.11-2",
        "reason": "王科长: eligible",
    }
    stories.fold(board_decision("EnterpriseQueued", 1, queued, now))
    stories.fold(board_decision("ConciergeAssigned", 2, assigned, now + timedelta(hours=1)))

    # When the case is read as of half an hour later, and now
    moment = (now + timedelta(minutes=30)).isoformat()
    then = (await client.get(f"/api/v1/cases/{case_id}", params={"as_of": moment}, headers=FINANCE)).json()
    later = (await client.get(f"/api/v1/cases/{case_id}", headers=FINANCE)).json()

    # Then the decision in force then was the queueing, and the assignment is the one in force now
    assert then["assignment"]["kind"] == "queued" and then["assignment"]["reason"] == "无人空闲"
    assert then["queue"] is None  # the queue place is shown for now only
    assert later["assignment"]["kind"] == "assigned"
