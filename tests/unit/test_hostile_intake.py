"""POST /api/v1/cases refuses hostile bodies and headers with 422 and the field, never 500, and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.intake.bootstrap import Overrides, build_app
from services.intake.settings import IntakeSettings
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.support import case_body

STAFF = {"Authorization": "Bearer staff-key"}


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def client(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"staff-key": ("finance", Role.STAFF)})
    app = build_app(IntakeSettings(), Overrides(recorder=recorder, api_keys=keys))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


def with_enterprise(**enterprise: Any) -> dict[str, Any]:
    body = case_body(1)
    return {**body, "enterprise": {**body["enterprise"], **enterprise}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (case_body(1, title="补贴\x00资金"), "title"),
        (case_body(1, title="补贴\x1b[2J"), "title"),
        (case_body(1, title="   "), "title"),
        (case_body(1, title="长" * 201), "title"),
        (case_body(1, description="说明" * 5001), "description"),
        (with_enterprise(name="  "), "name"),
        (with_enterprise(name="企业\x07"), "name"),
        (with_enterprise(credit_code="000000000000000000"), "credit_code"),
        (with_enterprise(credit_code=91410100000000001), "credit_code"),
        (case_body(1, legacy="yes"), "legacy"),
        (case_body(1, legacy=1), "legacy"),
        (case_body(1, title=12345), "title"),
        (case_body(1, category=["fund_disbursement"]), "category"),
    ],
)
async def test_hostile_fields_are_refused_with_422_naming_the_field(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, body: dict[str, Any], field: str
) -> None:
    answer = await client.post("/api/v1/cases", json=body, headers=STAFF)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert field in {str(part) for e in detail for part in e["loc"]}
    assert all(set(e) >= {"loc", "msg"} for e in detail)
    assert await recorder.read_all() == []


@pytest.mark.parametrize(
    "raw",
    [b'{"title": "\\ud800 lone"}', b'{"\\udc80": 1}', b'{"enterprise": {"name": "V\\ud8d9"}}'],
)
async def test_a_lone_surrogate_anywhere_in_the_body_gets_422_not_500(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, raw: bytes
) -> None:
    answer = await client.post(
        "/api/v1/cases", content=raw, headers={**STAFF, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["msg"]
    assert await recorder.read_all() == []


@pytest.mark.parametrize("raw", [b"\xff\xfe{", b'{"title": "a', b"[]" * 100_000, b"1e999999"])
async def test_a_body_that_is_not_a_json_object_is_refused_with_4xx_and_a_reason(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    answer = await client.post(
        "/api/v1/cases", content=raw, headers={**STAFF, "Content-Type": "application/json"}
    )
    assert answer.status_code in (400, 422) and answer.json()["detail"]


async def test_a_chinese_idempotency_key_opens_one_case_and_is_recorded_as_written(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    headers = [(b"authorization", b"Bearer staff-key"), (b"idempotency-key", "来访-001".encode())]
    first = await client.post("/api/v1/cases", json=case_body(1), headers=headers)
    second = await client.post("/api/v1/cases", json=case_body(1), headers=headers)
    assert first.status_code == 201 and second.json()["replayed"] is True
    [event] = await recorder.read_all()
    assert event.data["request_ref"] == "来访-001"


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b"\xff\xfe", "not valid UTF-8"), (("键" * 129).encode(), "1-128 characters"), (b"a\tb", "U+0009")],
    ids=["not-utf8", "too-long", "tab"],
)
async def test_an_idempotency_key_that_is_not_text_is_refused_with_422_and_why(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, value: bytes, reason: str
) -> None:
    headers = [(b"authorization", b"Bearer staff-key"), (b"idempotency-key", value)]
    answer = await client.post("/api/v1/cases", json=case_body(1), headers=headers)
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["header", "idempotency-key"] and reason in error["msg"]
    assert await recorder.read_all() == []


async def test_a_path_with_a_control_character_is_refused_with_400(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/cases%00", json=case_body(1), headers=STAFF)
    assert answer.status_code == 400 and "U+0000" in answer.json()["detail"]
