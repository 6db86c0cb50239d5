"""The enterprise's contact given at intake: sealed in the event under the enterprise's key, shown masked on the
case, and unreadable everywhere once the enterprise is erased (crypto-shredding)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides as QueryOverrides
from services.casequery.bootstrap import build_app as build_query
from services.casequery.projections.case_view import fold_all
from services.casequery.settings import CaseQuerySettings
from services.intake.bootstrap import Overrides, build_app
from services.intake.settings import IntakeSettings
from shared.auth.keys import Role
from shared.crypto.vault import MemoryKeyStore, Vault
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.support import case_body
from tests.unit.test_casequery_http import FakeViews, InMemoryStories

STAFF = {"Authorization": "Bearer staff-key"}
CONTACT = {"name": "王经理", "mobile": "13912345678", "email": "wang@gree.cn"}


@pytest.fixture
def world() -> tuple[InMemoryRecorder, Vault, FakeViews]:
    return InMemoryRecorder(), Vault(MemoryKeyStore()), FakeViews()


@pytest.fixture
async def clients(world) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    recorder, vault, views = world
    keys = FakeApiKeys({"staff-key": ("finance", Role.STAFF)})
    intake = build_app(IntakeSettings(), Overrides(recorder=recorder, api_keys=keys, vault=vault))
    query = build_query(
        CaseQuerySettings(),
        QueryOverrides(
            views=cast(AsyncCollection, views),
            recorder=recorder,
            api_keys=keys,
            stories=InMemoryStories(),
            vault=vault,
        ),
    )
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://t") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=query), base_url="http://t") as b,
    ):
        yield a, b


async def _open(world, intake: httpx.AsyncClient, body: dict, key: str = "k1") -> tuple[str, dict]:
    recorder, _, views = world
    answer = await intake.post("/api/v1/cases", json=body, headers={**STAFF, "Idempotency-Key": key})
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["case_id"]
    events = await recorder.read_stream(case_id)
    views.docs[:] = [d for d in views.docs if d["case_id"] != case_id] + [fold_all(events)]
    return case_id, events[0].data


async def test_the_contact_is_sealed_in_the_event_and_shown_masked_on_the_case(world, clients):
    intake, query = clients
    case_id, data = await _open(world, intake, {**case_body(1), "contact": CONTACT})
    stored = json.dumps(data, ensure_ascii=False)
    assert "13912345678" not in stored and "王经理" not in stored and "wang@gree.cn" not in stored
    assert data["contact"]["subject"] == f"enterprise:finance:{data['enterprise']['credit_code']}"
    case = (await query.get(f"/api/v1/cases/{case_id}", headers=STAFF)).json()
    assert case["contact"] == {
        "name": "王**",
        "mobile": "139****5678",
        "email": "w***@gree.cn",
        "erased": False,
    }


async def test_erasing_the_enterprise_leaves_the_event_and_the_view_unreadable(world, clients):
    intake, query = clients
    _, vault, _ = world
    case_id, data = await _open(world, intake, {**case_body(2), "contact": CONTACT})
    assert await vault.erase(data["contact"]["subject"])
    assert await vault.open(data["contact"]) is None
    case = (await query.get(f"/api/v1/cases/{case_id}", headers=STAFF)).json()
    assert case["contact"]["erased"] and case["contact"]["mobile"] is None
    listed = (await query.get("/api/v1/cases", headers=STAFF)).json()["items"]
    assert listed[0]["contact"]["erased"]


async def test_a_contact_needs_a_way_to_reach_it_and_valid_details(clients):
    intake, _ = clients
    for contact, field in (
        ({"name": "王经理"}, "contact"),
        ({"name": "王", "mobile": "123"}, "mobile"),
        ({"name": "王", "email": "not-an-email"}, "email"),
    ):
        answer = await intake.post("/api/v1/cases", json={**case_body(3), "contact": contact}, headers=STAFF)
        assert answer.status_code == 422 and field in answer.text, answer.text


async def test_the_same_key_with_the_same_case_but_new_contact_details_replays_the_case(world, clients):
    intake, _ = clients
    first, _ = await _open(world, intake, {**case_body(4), "contact": CONTACT}, key="same")
    again = await intake.post(
        "/api/v1/cases",
        json={**case_body(4), "contact": {**CONTACT, "mobile": "13800000000"}},
        headers={**STAFF, "Idempotency-Key": "same"},
    )
    assert again.status_code in (200, 201) and again.json()["case_id"] == first and again.json()["replayed"]
