"""Every timeline entry and stage says how it came: a director's own approval is told from one a finance system
reported over Kafka in the director's name (the integration key that signed it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker

from services.disbursement.application.provenance import via
from services.disbursement.application.queries import disbursement_detail
from services.disbursement.bootstrap import Overrides, build_app
from services.disbursement.settings import DisbursementSettings
from shared.auth.keys import Role
from shared.contracts.envelope import Actor
from shared.contracts.topics import DISBURSEMENT_REQUESTS
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.seed import default_calendar
from tests.fakes import FakeApiKeys
from tests.unit.test_disbursement_http import Bureaus, PeopleAndKeys, opening
from tests.unit.test_disbursement_kafka_handler import message, open_one, reports_consumer, signed

DIRECTOR = {"Authorization": "Bearer director"}
ADMIN = {"Authorization": "Bearer admin"}
APPROVAL = {"kind": "stage", "stage": "approved", "at": "2026-11-20T09:00:00+08:00", "approver": "周建国"}


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def client(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    db: Any = None  # the routes under test read the event store only
    keys = PeopleAndKeys(FakeApiKeys({"admin": ("finance", Role.ADMIN)}))
    app = build_app(
        DisbursementSettings(), Overrides(recorder=recorder, api_keys=keys, db=db, bureaus=Bureaus())
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def test_over_http_each_entry_names_the_signed_in_person_or_the_bureau_key(
    client: httpx.AsyncClient,
) -> None:
    opened = await client.post("/api/v1/disbursements", json=opening(allocated="100.00"), headers=ADMIN)
    url = f"/api/v1/disbursements/{opened.json()['id']}"
    approval = {"stage": "approved", "at": "2026-10-12T17:00:00+08:00"}
    assert (await client.post(f"{url}/stages", json=approval, headers=DIRECTOR)).status_code == 201
    view = (await client.get(url, headers=ADMIN)).json()

    received, approved = view["timeline"]
    assert received["via"] == "http" and received["actor"]["key_id"] == "fake-finance-admin"
    assert received["actor"]["kind"] == "integration"  # a bureau key, no person
    assert approved["via"] == "http" and approved["approver"] == "周建国"
    assert {k: approved["actor"][k] for k in ("kind", "staff_id", "name")} == {
        "kind": "person",
        "staff_id": "s-director",
        "name": "周建国",
    }
    assert [(s["stage"], s["via"], s["actor"]["kind"]) for s in view["stages"]] == [
        ("allocation_received", "http", "integration"),
        ("approved", "http", "person"),
    ]


async def test_an_approval_reported_over_kafka_names_the_integration_key_that_signed_it() -> None:
    reports = await reports_consumer()
    broker, recorder, letters, private, key = reports.parts()
    disbursement_id = await open_one(recorder)
    value = message(disbursement_id, APPROVAL, "approval-1")
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(value, DISBURSEMENT_REQUESTS, headers=signed(private, key, value))
    assert letters == []

    detail = await disbursement_detail(
        disbursement_id, "finance", recorder=recorder, calendar=default_calendar(), now=datetime.now(UTC)
    )
    (approved,) = detail.timeline
    assert approved.approver == "周建国" and approved.via == "kafka" and approved.actor is not None
    assert (approved.actor.kind, approved.actor.key_id, approved.actor.staff_id) == (
        "integration",
        key.key_id,
        None,
    )
    (stage,) = detail.stages
    assert stage.via == "kafka" and stage.actor == approved.actor


def test_a_kafka_report_believed_unsigned_says_so() -> None:
    # With DISBURSEMENT_REQUIRE_SIGNED_MESSAGES off, an unsigned report's actor carries no key.
    unsigned = Actor(kind="integration", id="国库集中支付系统", bureau="finance")
    keyed = Actor(kind="integration", id="k1", bureau="finance", key_id="k1")
    assert [via("r1", unsigned), via("r1", keyed), via(None, keyed), via(None, None)] == [
        "kafka_unsigned",
        "kafka",
        "http",
        None,
    ]
