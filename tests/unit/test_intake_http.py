"""POST /api/v1/cases on the intake app with fakes: auth, validation, idempotency."""

from collections.abc import AsyncIterator

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
    keys = FakeApiKeys({"staff-key": ("finance", Role.STAFF), "viewer-key": ("finance", Role.VIEWER)})
    app = build_app(IntakeSettings(), Overrides(recorder=recorder, api_keys=keys))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def test_opens_a_case_for_the_callers_bureau(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    answer = await client.post("/api/v1/cases", json=case_body(1), headers=STAFF)
    assert answer.status_code == 201
    [event] = await recorder.read_stream(answer.json()["case_id"])
    assert event.bureau == "finance" and event.actor.kind == "integration"


async def test_idempotency_key_replays_the_same_answer(client: httpx.AsyncClient) -> None:
    headers = {**STAFF, "Idempotency-Key": "abc"}
    first = await client.post("/api/v1/cases", json=case_body(1), headers=headers)
    second = await client.post("/api/v1/cases", json=case_body(1), headers=headers)
    assert first.json()["case_id"] == second.json()["case_id"] and second.json()["replayed"]
    conflict = await client.post("/api/v1/cases", json=case_body(2), headers=headers)
    assert conflict.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"legacy": "perhaps"}, "legacy"),
        ({"unexpected": 1}, "unexpected"),
        ({"enterprise": {"name": "x", "credit_code": "123"}}, "credit_code"),
    ],
)
async def test_invalid_body_is_refused_with_the_field_and_writes_nothing(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, change: dict, field: str
) -> None:
    answer = await client.post("/api/v1/cases", json=case_body(1, **change), headers=STAFF)
    assert answer.status_code == 422
    assert field in {str(part) for e in answer.json()["detail"] for part in e["loc"]}
    assert await recorder.read_all() == []


async def test_needs_a_key_that_may_write(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/cases", json=case_body(1))).status_code == 401
    viewer = await client.post(
        "/api/v1/cases", json=case_body(1), headers={"Authorization": "Bearer viewer-key"}
    )
    assert viewer.status_code == 403
