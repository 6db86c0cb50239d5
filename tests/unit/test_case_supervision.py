"""Supervision orders (督办) on the case: shown with their outcome, and told in the case's history, in +08:00."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import cast

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides, build_app
from services.casequery.projections.case_view import fold_all
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import NewEvent
from tests.fakes import FakeApiKeys
from tests.unit.test_casequery_http import FINANCE, FakeViews, InMemoryStories, open_finance_case, recording

DUE = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def views() -> FakeViews:
    return FakeViews()


@pytest.fixture
async def client(recorder: InMemoryRecorder, views: FakeViews) -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"finance-key": ("finance", Role.VIEWER)})
    overrides = Overrides(
        views=cast(AsyncCollection, views), recorder=recorder, api_keys=keys, stories=InMemoryStories()
    )
    app = build_app(CaseQuerySettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def _case_with_an_overdue_task_under_supervision(recorder: InMemoryRecorder, views: FakeViews) -> str:
    case_id = await open_finance_case(recorder, views)
    task = {
        "task_id": "t1",
        "section": "规划科",
        "description": "核对材料",
        "working_days": 2,
        "opened_at": "2026-11-26T02:00:00+00:00",
        "due_at": DUE.isoformat(),
        "due_provisional": False,
    }
    clarified = {"summary": "拨付进度", "sections": ["规划科"]}
    rec = recording(case_id, "case")
    rec = rec.__class__(**{**rec.__dict__, "expected_version": 1})
    await recorder.append(
        rec, [NewEvent("ProblemClarified", 1, clarified), NewEvent("CoordinationTaskOpened", 1, task)]
    )
    views.docs[:] = [fold_all(await recorder.read_stream(case_id))]
    order = {
        "order_id": "DB-1",
        "case_id": case_id,
        "task_id": "t1",
        "section": "规划科",
        "issued_by": "d1",
        "issued_by_name": "张局长",
        "issued_to": ["c1", "s1"],
        "overdue_workdays": 2,
        "task_due_at": DUE.isoformat(),
        "order_due_at": "2026-12-04T15:59:59+00:00",
        "rules_version": 1,
    }
    stream = f"supervision-{case_id}-t1"
    await recorder.append(recording(stream, "supervision"), [NewEvent("SupervisionOrderIssued", 1, order)])
    settled = {
        "order_id": "DB-1",
        "case_id": case_id,
        "task_id": "t1",
        "outcome": "closed_late",
        "settled_at": "2026-12-07T03:00:00+00:00",
    }
    rec = recording(stream, "supervision")
    await recorder.append(
        rec.__class__(**{**rec.__dict__, "expected_version": 1}),
        [NewEvent("SupervisionOrderSettled", 1, settled)],
    )
    return case_id


async def test_the_case_shows_its_supervision_order_with_the_outcome_in_shanghai_time(
    client, recorder, views
):
    case_id = await _case_with_an_overdue_task_under_supervision(recorder, views)
    case = (await client.get(f"/api/v1/cases/{case_id}", headers=FINANCE)).json()
    [order] = case["supervision_orders"]
    assert (
        order["order_id"] == "DB-1"
        and order["issued_by_name"] == "张局长"
        and order["outcome"] == "closed_late"
    )
    assert order["order_due_at"] == "2026-12-04T23:59:59+08:00" and order["settled_at"].endswith("+08:00")


async def test_the_history_tells_the_order_and_its_settling_after_the_task(client, recorder, views):
    case_id = await _case_with_an_overdue_task_under_supervision(recorder, views)
    history = (await client.get(f"/api/v1/cases/{case_id}/history", headers=FINANCE)).json()
    kinds = [(e["source"], e["event_type"]) for e in history]
    assert kinds[-2:] == [
        ("supervision", "SupervisionOrderIssued"),
        ("supervision", "SupervisionOrderSettled"),
    ]
    assert history[-2]["summary"].startswith("督办")
    assert kinds.index(("case", "CoordinationTaskOpened")) < kinds.index(
        ("supervision", "SupervisionOrderIssued")
    )


async def test_a_case_without_orders_shows_none(client, recorder, views):
    case_id = await open_finance_case(recorder, views)
    assert (await client.get(f"/api/v1/cases/{case_id}", headers=FINANCE)).json()["supervision_orders"] == []
