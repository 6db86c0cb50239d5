"""An enterprise's problem submitted over HTTP becomes a case the projection shows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Role
from shared.devstack.stack import Stack
from tests.api import Api
from tests.support import case_body, credit_code

pytestmark = pytest.mark.integration


async def test_case_submitted_over_http_appears_in_the_projection(api: Api) -> None:
    answer = await api.finance.post("/api/v1/cases", json=case_body(101, legacy=True))
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["case_id"]
    assert answer.headers["location"] == f"/api/v1/cases/{case_id}"

    case = await api.wait_for_case(case_id)

    # Open, or already given a concierge by the time it is read (a free one may be on the roster).
    assert case["status"] in ("open", "in_progress") and case["bureau"] == "finance"
    assert case["enterprise"] == {"name": "测试企业101有限公司", "credit_code": credit_code(101)}
    assert (case["category"], case["channel"], case["legacy"]) == ("fund_disbursement", "visit", True)
    assert case["title"] == "补贴资金拨付进度"


async def test_same_idempotency_key_and_body_opens_one_case_with_the_same_answer(api: Api) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await api.finance.post("/api/v1/cases", json=case_body(102), headers=key)
    second = await api.finance.post("/api/v1/cases", json=case_body(102), headers=key)

    assert first.status_code == second.status_code == 201
    assert first.json()["case_id"] == second.json()["case_id"]
    await api.wait_for_case(first.json()["case_id"])
    assert len(await api.cases_of(credit_code(102))) == 1


async def test_same_idempotency_key_with_another_body_is_a_conflict(api: Api) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    await api.finance.post("/api/v1/cases", json=case_body(103), headers=key)
    answer = await api.finance.post("/api/v1/cases", json=case_body(103, title="另一个问题"), headers=key)
    assert answer.status_code == 409
    assert "different request" in answer.json()["detail"]
    assert answer.json()["detail"].startswith("该 Idempotency-Key 已用于另一个请求 / Idempotency-Key ")


async def test_invalid_submission_gets_field_level_reasons_and_writes_nothing(
    api: Api, stack_db: AsyncDatabase
) -> None:
    before = await stack_db.events.count_documents({})
    body = case_body(104, category="lottery", title="")
    body["enterprise"]["credit_code"] = credit_code(104)[:-1] + ("0" if credit_code(104)[-1] != "0" else "1")

    answer = await api.finance.post("/api/v1/cases", json=body)

    assert answer.status_code == 422
    fields = {tuple(e["loc"][1:]): e["msg"] for e in answer.json()["detail"]}
    assert set(fields) == {("enterprise", "credit_code"), ("category",), ("title",)}
    assert "check character" in fields[("enterprise", "credit_code")]
    assert await stack_db.events.count_documents({}) == before


async def test_every_api_call_needs_a_valid_key(api: Api, stack: Stack, stack_db: AsyncDatabase) -> None:
    assert (await api.anonymous.get("/api/v1/cases")).status_code == 401
    assert (await api.anonymous.post("/api/v1/cases", json=case_body(105))).status_code == 401
    wrong = await api.anonymous.get("/api/v1/cases", headers={"Authorization": "Bearer czx_finance_forged"})
    assert wrong.status_code == 401
    viewer_key = await ApiKeyStore(stack_db).issue("finance", Role.VIEWER, "test viewer")
    viewer = {"Authorization": f"Bearer {viewer_key}"}
    assert (await api.anonymous.get("/api/v1/cases", headers=viewer)).status_code == 200
    denied = await api.anonymous.post("/api/v1/cases", json=case_body(105), headers=viewer)
    assert denied.status_code == 403 and "read" in denied.json()["detail"]
    assert (await api.anonymous.get("/healthz")).status_code == 200


async def test_a_bureau_sees_only_its_own_cases(api: Api) -> None:
    case_id = (await api.finance.post("/api/v1/cases", json=case_body(106))).json()["case_id"]
    await api.wait_for_case(case_id)

    assert (await api.innovation.get(f"/api/v1/cases/{case_id}")).status_code == 404
    assert (await api.innovation.get(f"/api/v1/cases/{case_id}/events")).status_code == 404
    since = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await api.innovation.get(f"/api/v1/cases/{case_id}", params={"as_of": since})).status_code == 404
    assert await api.cases_of(credit_code(106), api.innovation) == []
    assert [c["case_id"] for c in await api.cases_of(credit_code(106))] == [case_id]


async def test_list_filters_and_paginates(api: Api) -> None:
    code = credit_code(107)
    opened = []
    for category, channel in [
        ("statistics", "hotline"),
        ("fiscal_policy", "online"),
        ("statistics", "online"),
    ]:
        body = case_body(107, category=category, channel=channel)
        opened.append((await api.finance.post("/api/v1/cases", json=body)).json()["case_id"])
    for case_id in opened:
        await api.wait_for_case(case_id)

    async def listed(**params: object) -> list[str]:
        answer = await api.finance.get("/api/v1/cases", params={"enterprise": code, **params})
        return [c["case_id"] for c in answer.json()["items"]]

    assert await listed() == opened[::-1]  # newest first
    assert set(await listed(category="statistics")) == {opened[0], opened[2]}
    assert await listed(channel="online", category="fiscal_policy") == [opened[1]]
    assert await listed(status="open", limit=2) == opened[::-1][:2]
    assert await listed(limit=2, offset=2) == [opened[0]]
    page = (await api.finance.get("/api/v1/cases", params={"enterprise": code, "limit": 1})).json()
    assert (page["total"], page["limit"], len(page["items"])) == (3, 1, 1)
    assert (await api.finance.get("/api/v1/cases", params={"category": "nope"})).status_code == 422


async def test_history_and_as_of(api: Api) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    case_id = (await api.finance.post("/api/v1/cases", json=case_body(108))).json()["case_id"]
    now_view = await api.wait_for_case(case_id)

    events = (await api.finance.get(f"/api/v1/cases/{case_id}/events")).json()
    assert [(e["event_type"], e["version"], e["stream_id"]) for e in events] == [("CaseOpened", 1, case_id)]
    assert events[0]["bureau"] == "finance" and events[0]["actor"]["kind"] == "integration"
    for field in ("event_id", "schema_version", "occurred_at", "correlation_id", "causation_id"):
        assert field in events[0]

    then = await api.finance.get(f"/api/v1/cases/{case_id}", params={"as_of": events[0]["recorded_at"]})
    assert then.status_code == 200
    # The case as its own events made it; how the board placed it (assignment, queue) came later, from the
    # board's stream, so the moment of the opening does not show it, whether or not it is shown now.
    past = then.json()
    assert past["assignment"] is None and past["queue"] is None
    assert {k: v for k, v in past.items() if k not in ("assignment", "queue")} == {
        k: v for k, v in now_view.items() if k not in ("assignment", "queue")
    }
    earlier = await api.finance.get(f"/api/v1/cases/{case_id}", params={"as_of": before.isoformat()})
    assert earlier.status_code == 404
    naive = await api.finance.get(f"/api/v1/cases/{case_id}", params={"as_of": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
