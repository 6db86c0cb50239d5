"""Through the gateway: unknown or repeated query parameters, two Idempotency-Keys, a time for a date (422);
an undocumented method (405 + Allow) or path (404)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.case_view import CASE_VIEW
from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.stack import Stack
from tests.api import Api
from tests.support import case_body, credit_code, current_collection

pytestmark = pytest.mark.integration

LISTS = [
    "/api/v1/cases",
    "/api/v1/feed",
    "/api/v1/disbursements",
    "/api/v1/disbursements/dashboard",
    "/api/v1/notifications",
    "/api/v1/inbox",
    "/api/v1/staff",
    "/api/v1/statistics",
    "/api/v1/integrations/keys",
    "/api/v1/audit/verify",
]


async def test_every_list_refuses_a_misspelt_parameter_and_a_filter_given_twice(api: Api) -> None:
    for path in LISTS:
        answer = await api.finance.get(path, params={"limt": "5"})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["query", "limt"], (path, answer.text)
    twice = await api.finance.get("/api/v1/cases?status=open&status=closed")
    assert twice.status_code == 422 and "given more than once" in twice.text, twice.text


async def test_two_idempotency_keys_on_one_request_are_refused_and_nothing_is_opened(
    api: Api, stack_db: AsyncDatabase
) -> None:
    body = case_body(8851)
    answer = await api.finance.post(
        "/api/v1/cases", json=body, headers=[("Idempotency-Key", "k-a"), ("Idempotency-Key", "k-b")]
    )
    assert answer.status_code == 422 and "Idempotency-Key" in answer.text, answer.text
    assert await stack_db.events.count_documents({"data.enterprise.credit_code": credit_code(8851)}) == 0


async def test_a_time_where_a_date_is_expected_is_refused(api: Api) -> None:
    arrears = {
        "enterprise": {"name": "测试企业", "credit_code": credit_code(8852)},
        "debtor": "高新区建设局",
        "purpose": "运维服务",
        "amount_owed": "10.00",
        "delivered_on": "2026-10-01T00:00:00",
    }
    answer = await api.finance.post("/api/v1/arrears", json=arrears)
    assert answer.status_code == 422 and "delivered_on" in answer.text, answer.text
    period = await api.finance.get("/api/v1/statistics", params={"from": "2026-10-01T00:00:00Z"})
    assert period.status_code == 422, period.text


async def test_an_undocumented_method_is_405_naming_the_documented_ones_and_an_undocumented_path_404(
    api: Api,
) -> None:
    for method, path, allow in (
        ("PUT", "/api/v1/cases", "GET, POST"),
        ("OPTIONS", "/api/v1/disbursements", "GET, POST"),
        ("DELETE", "/api/v1/cases/c-1/tasks", "POST"),
    ):
        answer = await api.finance.request(method, path)
        assert answer.status_code == 405 and answer.headers["allow"] == allow, (method, path, answer.text)
    for path in ("/api/v1/cases/", "/api/v1/cases/c-1/unknown"):
        assert (await api.finance.put(path)).status_code == 404, path


async def test_a_view_document_that_does_not_read_as_a_case_is_answered_from_its_events(
    api: Api, stack: Stack, stack_db: AsyncDatabase
) -> None:
    # A bureau of its own with nobody on its roster: the case waits and its stream gets no later event, so the
    # view restored at the end is the one its events make (on a shared bureau a concierge could be recorded
    # meanwhile, and the restore would leave the live view behind its stream for good).
    bureau_id = f"h{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "hostile view test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        await _answered_from_events(api, client, stack_db)


async def _answered_from_events(api: Api, client: httpx.AsyncClient, stack_db: AsyncDatabase) -> None:
    opened = await client.post("/api/v1/cases", json=case_body(8853))
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    shown = await api.wait_for_case(case_id, client)
    views = await current_collection(stack_db, CASE_VIEW)
    stored = await views.find_one({"_id": case_id})
    # Written by hand (or by a faulty code): a case's view spoilt, and a document of no case at all.
    await views.update_one({"_id": case_id}, {"$set": {"status": 12345, "enterprise": "nope"}})
    await views.insert_one({"_id": "no-such-case-8853", "bureau": shown["bureau"], "opened_at": "not a date"})
    try:
        listed = await client.get("/api/v1/cases", params={"limit": 200})
        assert listed.status_code == 200, listed.text
        ids = [c["case_id"] for c in listed.json()["items"]]
        assert case_id in ids and "no-such-case-8853" not in ids
        one = await client.get(f"/api/v1/cases/{case_id}")
        assert one.status_code == 200, one.text
        assert (one.json()["title"], one.json()["enterprise"]) == (shown["title"], shown["enterprise"])
        assert (await client.get("/api/v1/cases/no-such-case-8853")).status_code == 404
    finally:
        await views.replace_one({"_id": case_id}, stored)
        await views.delete_one({"_id": "no-such-case-8853"})
    assert await stack_db.events.count_documents({"stream_id": case_id}) == stored["version"]  # nothing came
