"""Reasons read as the caller wrote: times in Beijing time, a text that is no date-time named so, and the
dashboard's period in the years every other date is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.disbursement.bootstrap import Overrides, build_app
from services.disbursement.settings import DisbursementSettings
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.unit.test_disbursement_http import Bureaus, opening

ADMIN = {"Authorization": "Bearer admin"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    db: Any = None  # the routes under test read the event store only, or refuse before reading
    keys = FakeApiKeys({"admin": ("finance", Role.ADMIN)})
    overrides = Overrides(recorder=InMemoryRecorder(), api_keys=keys, db=db, bureaus=Bureaus())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(DisbursementSettings(), overrides)), base_url="http://t"
    ) as http:
        yield http


async def stages_url(client: httpx.AsyncClient) -> str:
    opened = await client.post("/api/v1/disbursements", json=opening(), headers=ADMIN)
    return f"/api/v1/disbursements/{opened.json()['id']}/stages"


async def test_a_stage_time_in_the_future_is_told_in_beijing_time(client: httpx.AsyncClient) -> None:
    url = await stages_url(client)
    answer = await client.post(
        url, json={"stage": "documents_complete", "at": "2030-01-01T02:00:00Z"}, headers=ADMIN
    )
    assert answer.status_code == 409 and "NoStageTimeInTheFuture" in answer.text
    assert "the stage time 2030-01-01T10:00:00+08:00 is in the future" in answer.json()["detail"]


@pytest.mark.parametrize("at", ["2026-W48-4T10:00:00+08:00", "20261126T10:00:00+08:00", "明天上午"])
async def test_text_that_is_no_date_time_is_422_saying_so_not_calling_it_a_number(
    client: httpx.AsyncClient, at: str
) -> None:
    answer = await client.post(
        await stages_url(client), json={"stage": "documents_complete", "at": at}, headers=ADMIN
    )
    assert answer.status_code == 422
    reason = answer.json()["detail"][0]["msg"]
    assert "not a date-time in another form" in reason and "not a number" not in reason


async def test_a_number_for_a_time_is_still_called_a_number(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        await stages_url(client), json={"stage": "documents_complete", "at": "1767225600"}, headers=ADMIN
    )
    assert answer.status_code == 422 and "not a number" in answer.json()["detail"][0]["msg"]


@pytest.mark.parametrize("period", ["from=1999-01-01", "to=2101-01-01"])
@pytest.mark.parametrize("path", ["dashboard", "report.xlsx"])
async def test_a_period_outside_2000_to_2100_is_422_like_every_date_in_a_body(
    client: httpx.AsyncClient, period: str, path: str
) -> None:
    answer = await client.get(f"/api/v1/disbursements/{path}?{period}", headers=ADMIN)
    assert answer.status_code == 422 and "2000-2100" in answer.text
