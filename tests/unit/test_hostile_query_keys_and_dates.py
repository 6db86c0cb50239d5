"""Two Idempotency-Key headers are a 422, never one of them taken; a date is "YYYY-MM-DD", never a moment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from services.disbursement.bootstrap import Overrides as DisbursementOverrides
from services.disbursement.bootstrap import build_app as disbursement_app
from services.disbursement.settings import DisbursementSettings
from services.intake.bootstrap import Overrides as IntakeOverrides
from services.intake.bootstrap import build_app as intake_app
from services.intake.settings import IntakeSettings
from shared.auth.keys import Role
from shared.contracts.answers import CalendarDate
from shared.contracts.disbursement import RepaymentReport, StageReport
from shared.contracts.text import read_stored
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.support import case_body
from tests.unit.test_assignment_support import app_with, auth
from tests.unit.test_disbursement_http import arrears_body, opening
from tests.unit.test_hostile_query_parameters import Bureaus

ADMIN = {"Authorization": "Bearer finance-admin"}
KEYS = FakeApiKeys({"finance-admin": ("finance", Role.ADMIN)})
TWO_KEYS = [("Authorization", "Bearer finance-admin"), ("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-2")]
DATE_REFUSED = "须为日期 YYYY-MM-DD，不含时间 / must be a calendar date YYYY-MM-DD, without a time"


def disbursement(recorder: InMemoryRecorder) -> FastAPI:
    db: Any = None  # the routes under test read the event store only
    overrides = DisbursementOverrides(recorder=recorder, api_keys=KEYS, db=db, bureaus=Bureaus())
    return disbursement_app(DisbursementSettings(), overrides)


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


@pytest.fixture
async def money(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(disbursement(recorder)):
        yield client


@pytest.fixture
async def assignment(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(app_with(recorder)):
        yield client


@pytest.fixture
async def intake(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(
        intake_app(IntakeSettings(), IntakeOverrides(recorder=recorder, api_keys=KEYS))
    ):
        yield client


def refused_repeated_key(answer: httpx.Response) -> bool:
    return answer.status_code == 422 and answer.json()["detail"] == [
        {
            "loc": ["header", "idempotency-key"],
            "msg": "只能发送一个 Idempotency-Key，收到 2 个 / send one Idempotency-Key header, not 2",
            "type": "value_error",
        }
    ]


# -- Idempotency-Key: once, or not at all --


async def test_a_case_sent_with_two_idempotency_keys_is_refused_and_nothing_is_recorded(
    intake: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    answer = await intake.post("/api/v1/cases", json=case_body(1), headers=TWO_KEYS)
    assert refused_repeated_key(answer), answer.text
    assert await recorder.read_all() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/disbursements", opening()),
        ("/api/v1/arrears", arrears_body()),
    ],
)
async def test_money_sent_with_two_idempotency_keys_is_refused_and_nothing_is_recorded(
    money: httpx.AsyncClient, recorder: InMemoryRecorder, path: str, body: dict[str, Any]
) -> None:
    answer = await money.post(path, json=body, headers=TWO_KEYS)
    assert refused_repeated_key(answer), answer.text
    assert await recorder.read_all() == []
    once = await money.post(path, json=body, headers=TWO_KEYS[:2])
    assert once.status_code == 201, once.text  # one key is still the way to send it


async def test_a_roster_change_sent_with_two_idempotency_keys_is_refused_and_nothing_is_recorded(
    assignment: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    body = {"name": "李四", "post": "section_chief", "section": "预算科"}
    answer = await assignment.post("/api/v1/staff", json=body, headers=TWO_KEYS)
    assert refused_repeated_key(answer), answer.text
    assert await recorder.read_all() == []


async def test_a_repeated_key_is_refused_as_a_malformed_one_is(money: httpx.AsyncClient) -> None:
    # The same status and shape as a key the header's own rule refuses (longer than 128 characters).
    answer = await money.post(
        "/api/v1/arrears", json=arrears_body(), headers=ADMIN | {"Idempotency-Key": "k" * 129}
    )
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["header", "idempotency-key"]


# -- Dates: a calendar date, never a moment nor a timestamp --

MOMENTS = [
    "2026-11-28T10:00:00",
    "2026-11-28T00:00:00",
    "2026-11-28T00:00:00Z",
    "2026-11-28 00:00",
    "1764288000",
]


@pytest.mark.parametrize("value", [*MOMENTS, 1764288000, "20261128", "٢٠٢٦-١١-٢٨", datetime(2026, 11, 28)])
def test_a_calendar_date_refuses_a_moment_a_timestamp_and_other_digits(value: Any) -> None:
    with pytest.raises(ValidationError, match="must be a calendar date YYYY-MM-DD"):
        TypeAdapter(CalendarDate).validate_python(value)


def test_a_calendar_date_takes_a_date_and_its_iso_text() -> None:
    assert TypeAdapter(CalendarDate).validate_python("2026-11-28") == date(2026, 11, 28)
    assert TypeAdapter(CalendarDate).validate_json('"2026-11-28"') == date(2026, 11, 28)
    assert TypeAdapter(CalendarDate).validate_python(date(2026, 11, 28)) == date(2026, 11, 28)


def test_what_was_stored_still_reads_under_the_stricter_rule() -> None:
    stored = {"amount": "1.00", "repaid_on": "2026-11-28T00:00:00"}
    assert read_stored(RepaymentReport, stored).repaid_on == date(2026, 11, 28)
    with pytest.raises(ValidationError):
        RepaymentReport.model_validate(stored)


@pytest.mark.parametrize("moment", MOMENTS)
async def test_arrears_dated_with_a_moment_are_refused_and_nothing_is_recorded(
    money: httpx.AsyncClient, recorder: InMemoryRecorder, moment: str
) -> None:
    answer = await money.post("/api/v1/arrears", json=arrears_body(delivered_on=moment), headers=ADMIN)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "delivered_on"] and DATE_REFUSED in problem["msg"]
    assert await recorder.read_all() == []


@pytest.mark.parametrize("path", ["/api/v1/disbursements/dashboard", "/api/v1/disbursements/report.xlsx"])
async def test_a_dashboard_period_given_as_moments_is_refused(money: httpx.AsyncClient, path: str) -> None:
    answer = await money.get(path, params={"from": "2026-11-01", "to": "2026-11-28T10:00:00"}, headers=ADMIN)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["query", "to"] and DATE_REFUSED in problem["msg"]


async def test_a_statistics_period_given_as_moments_is_refused(assignment: httpx.AsyncClient) -> None:
    params = {"from": "2026-01-01T00:00:00", "to": "2026-02-01"}
    answer = await assignment.get("/api/v1/statistics", params=params, headers=ADMIN)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["query", "from"] and DATE_REFUSED in problem["msg"]


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        (
            "POST",
            "/api/v1/staff/s1/leaves",
            {"first_day": "2026-12-01T00:00:00", "last_day": "2026-12-02", "reason": "年假"},
            ["body", "first_day"],
        ),
        ("PUT", "/api/v1/calendar/2026", {"holidays": ["2026-10-01T00:00:00Z"]}, ["body", "holidays", 0]),
        ("POST", "/api/v1/notices", {"issued_on": "2026-11-28T00:00:00"}, ["body", "issued_on"]),
    ],
)
async def test_assignment_bodies_refuse_a_moment_for_a_date(
    assignment: httpx.AsyncClient,
    recorder: InMemoryRecorder,
    method: str,
    path: str,
    body: Any,
    loc: list[Any],
) -> None:
    key = auth("zone-operator" if path.startswith("/api/v1/calendar") else "finance-admin")  # who publishes
    answer = await assignment.request(method, path, json=body, headers=key)
    assert answer.status_code == 422
    assert any(p["loc"] == loc and DATE_REFUSED in p["msg"] for p in answer.json()["detail"]), answer.text
    assert await recorder.read_all() == []


@pytest.mark.parametrize("timestamp", [1767225600, "1767225600", 1767225600.5, "2026-11-20", True])
async def test_a_moment_given_as_a_timestamp_or_a_day_is_refused_and_nothing_is_recorded(
    money: httpx.AsyncClient, recorder: InMemoryRecorder, timestamp: Any
) -> None:
    body = opening(allocation_received_at=timestamp)
    answer = await money.post("/api/v1/disbursements", json=body, headers=ADMIN)
    assert answer.status_code == 422 and "ISO 8601" in answer.text, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "allocation_received_at"]
    assert await recorder.read_all() == []


def test_a_moment_stored_as_recorded_still_reads() -> None:
    stored = {"stage": "documents_complete", "at": "1767225600"}
    assert read_stored(StageReport, stored).at.year == 2026
    with pytest.raises(ValidationError, match="ISO 8601"):
        StageReport.model_validate(stored)
