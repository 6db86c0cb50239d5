"""Through the gateway: unknown or repeated query parameters, two Idempotency-Keys, a time for a date (422);
an undocumented method (405 + Allow) or path (404)."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.api import Api
from tests.support import case_body, credit_code

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
