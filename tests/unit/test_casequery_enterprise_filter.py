"""GET /api/v1/cases?enterprise=… takes a unified social credit code: anything else is a 422 naming the
parameter, never an empty list a leader would read as "no cases for this enterprise"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides, build_app
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.support import credit_code
from tests.unit.test_casequery_http import FINANCE, FakeViews, InMemoryStories

VALID = credit_code(5)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"finance-key": ("finance", Role.VIEWER)})
    overrides = Overrides(
        views=cast(AsyncCollection, FakeViews()),
        recorder=InMemoryRecorder(),
        api_keys=keys,
        stories=InMemoryStories(),
    )
    app = build_app(CaseQuerySettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


@pytest.mark.parametrize("value", ["abc", "", VALID[:17], VALID[:17] + "0", "0" * 18, "9" * 18])
async def test_an_enterprise_filter_that_is_no_credit_code_is_refused_naming_the_parameter(
    client: httpx.AsyncClient, value: str
) -> None:
    answer = await client.get("/api/v1/cases", params={"enterprise": value}, headers=FINANCE)
    assert answer.status_code == 422, answer.text
    assert [e["loc"] for e in answer.json()["detail"]] == [["query", "enterprise"]]


async def test_a_credit_code_in_lower_case_or_with_blanks_around_it_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    for value in (VALID, VALID.lower(), f" {VALID} "):
        answer = await client.get("/api/v1/cases", params={"enterprise": value}, headers=FINANCE)
        assert answer.status_code == 200, answer.text
