"""A bureau's system names its request with X-Correlation-Id and finds what it caused in its feed by that id."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api import Api
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration


async def test_the_case_opened_carries_the_callers_correlation_id_into_the_feed(api: Api) -> None:
    head = (await api.finance.get("/api/v1/feed", params={"after": 2**62})).json()["head"]
    correlation = str(uuid.uuid4())
    opened = await api.finance.post(
        "/api/v1/cases", json=case_body(8_461), headers={"X-Correlation-Id": correlation}
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]

    async def its_opening() -> Any:
        page = (await api.finance.get("/api/v1/feed", params={"after": head, "limit": 1000})).json()
        return next((e for e in page["events"] if e["stream_id"] == case_id), None)

    event = await eventually(its_opening, 60, "the CaseOpened in the finance feed")
    assert event["event_type"] == "CaseOpened" and event["correlation_id"] == correlation


@pytest.mark.parametrize("value", ["visit-001", "", "1" * 200])
async def test_a_correlation_id_that_is_no_uuid_is_refused_naming_the_header(api: Api, value: str) -> None:
    answer = await api.finance.post(
        "/api/v1/cases", json=case_body(8_462), headers={"X-Correlation-Id": value}
    )
    assert answer.status_code == 422, answer.text
    assert "x-correlation-id" in answer.text.lower()
