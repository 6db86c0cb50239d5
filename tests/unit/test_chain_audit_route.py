"""GET /api/v1/audit/verify: admins and zone operators get the verdict a page at a time; others get 403."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.relay.bootstrap import Overrides, build_app
from services.relay.settings import RelaySettings
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from shared.testing.recorder_contract import event, recording
from tests.fakes import FakeApiKeys

KEYS = {
    "admin": ("finance", Role.ADMIN),
    "operator": ("zone", Role.OPERATOR),
    "staff": ("finance", Role.STAFF),
    "viewer": ("finance", Role.VIEWER),
    "integration": ("finance", Role.INTEGRATION),
    "other-admin": ("innovation", Role.ADMIN),
}


@pytest.fixture
async def recorder() -> InMemoryRecorder:
    r = InMemoryRecorder()
    for i in range(25):
        await r.append(recording(f"s{i}", 0, bureau="finance"), [event(i)])
    return r


@pytest.fixture
async def http(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(RelaySettings(), Overrides(chain=recorder, api_keys=FakeApiKeys(KEYS)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


def as_(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("key", ["admin", "operator"])
async def test_an_admin_or_operator_gets_intact_up_to_the_head_with_its_hash(
    http: httpx.AsyncClient, recorder: InMemoryRecorder, key: str
) -> None:
    answer = await http.get("/api/v1/audit/verify", headers=as_(key))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    head = await recorder.chain_head()
    assert body["intact"] and body["complete"] and body["next_from"] is None
    assert (body["verified_up_to"], body["verified_hash"]) == (25, head.hash)
    assert body["summary"].startswith(f"intact up to position 25, head hash {head.hash}")
    assert body["events_per_second"] > 0


@pytest.mark.parametrize("key", ["staff", "viewer", "integration"])
async def test_other_roles_are_refused_with_the_reason(http: httpx.AsyncClient, key: str) -> None:
    answer = await http.get("/api/v1/audit/verify", headers=as_(key))
    assert answer.status_code == 403
    assert "bureau admins and zone operators only" in answer.json()["detail"]


async def test_without_a_key_the_answer_is_401(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/v1/audit/verify")).status_code == 401


async def test_a_page_answers_where_the_next_one_starts(http: httpx.AsyncClient) -> None:
    first = (await http.get("/api/v1/audit/verify", params={"limit": 10}, headers=as_("admin"))).json()
    assert first["intact"] and not first["complete"] and first["next_from"] == 11
    rest = await http.get("/api/v1/audit/verify", params={"from": 11}, headers=as_("admin"))
    assert rest.json()["complete"] and rest.json()["from_position"] == 11


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "200001"}, {"from": "0"}, {"from": "x"}])
async def test_a_bad_page_is_refused_with_422(http: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert (await http.get("/api/v1/audit/verify", params=params, headers=as_("admin"))).status_code == 422


async def test_a_break_in_another_bureaus_event_withholds_its_id(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    # Given the hash of event 5 (a finance event) was altered in the store
    recorder._hashes[4] = "f" * 64
    mine = (await http.get("/api/v1/audit/verify", headers=as_("admin"))).json()
    theirs = (await http.get("/api/v1/audit/verify", headers=as_("other-admin"))).json()
    assert mine["broken"]["position"] == theirs["broken"]["position"] == 5
    assert mine["broken"]["event_id"] == str((await recorder.read_all(4, 1))[0].event_id)
    assert theirs["broken"]["event_id"] is None and mine["broken"]["event_id"] not in theirs["summary"]
    assert not mine["intact"] and mine["next_from"] is None
