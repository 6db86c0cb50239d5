"""The linked case shows its money, on real Tansu and SecantusDB through the gateway: a disbursement opened for a
case and credited the next working day shows on the case with its time to account, in the case's history, and
the same after a rebuild of the case query's read models."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.money import CASE_MONEY
from services.casequery.rebuild import rebuild
from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.stack import Stack
from shared.eventstore.mongo import MongoRecorder
from tests.support import case_body, credit_code, current_collection, eventually

pytestmark = pytest.mark.integration
RECEIVED = "2026-11-19T15:00:00+08:00"  # a Thursday
CREDITED = "2026-11-20T10:00:00+08:00"  # the next working day


@pytest.fixture
async def client(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of a fresh bureau."""
    bureau_id = f"cm{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "case money test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as http:
        yield http


async def test_a_credited_disbursement_shows_on_its_case_with_time_to_account_in_its_history_and_after_rebuild(
    client: httpx.AsyncClient, stack_db: AsyncDatabase
) -> None:
    opened = await client.post("/api/v1/cases", json=case_body(8811))
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    body = {
        "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": credit_code(8811)},
        "case_id": case_id,
        "source": "市财政局",
        "fund_type": "subsidy",
        "allocated": "70000000.00",
        "allocation_received_at": RECEIVED,
    }
    answer = await client.post(
        "/api/v1/disbursements", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert answer.status_code == 201, answer.text
    url = f"/api/v1/disbursements/{answer.json()['id']}"
    for stage in (
        {"stage": "documents_complete", "at": "2026-11-19T16:00:00+08:00"},
        {"stage": "approved", "at": "2026-11-19T17:00:00+08:00"},
        {"stage": "payment_instructed", "at": "2026-11-20T09:00:00+08:00"},
    ):
        reported = await client.post(f"{url}/stages", json=stage)
        assert reported.status_code == 201, reported.text
    paid = await client.post(
        f"{url}/payments",
        json={"amount": "70000000.00", "credited_at": CREDITED, "bank_reference": "ICBC-8811"},
    )
    assert paid.status_code == 201, paid.text

    async def credited_on_the_case() -> Any:
        case = await client.get(f"/api/v1/cases/{case_id}")
        money = case.json().get("disbursements") if case.status_code == 200 else None
        return money if money and money[0]["status"] == "credited" else None

    [shown] = await eventually(credited_on_the_case, 120, "the credited disbursement on the case")
    assert shown["allocated"] == shown["credited"] == "70000000.00" and shown["source"] == "市财政局"
    assert shown["time_to_account"] == {"hours": 19.0, "workdays": 1, "within_one_working_day": True}
    assert shown["allocation_received_at"] == RECEIVED and shown["fully_credited_at"] == CREDITED

    history = (await client.get(f"/api/v1/cases/{case_id}/history")).json()
    money_events = [e["event_type"] for e in history if e["source"] == "disbursement"]
    assert money_events[0] == "DisbursementOpened" and money_events[-1] == "DisbursementPaymentCredited"
    assert "DisbursementStageReported" in money_events
    assert all(e["occurred_at"].endswith("+08:00") for e in history)

    # The case's money is rebuilt from the event store as the live consumer built it
    live = [d async for d in (await current_collection(stack_db, CASE_MONEY)).find({"case_id": case_id})]
    await rebuild(stack_db, MongoRecorder(stack_db.client, stack_db), progress=False)
    rebuilt = (await current_collection(stack_db, CASE_MONEY)).find({"case_id": case_id})
    assert [d async for d in rebuilt] == live
    assert (await client.get(f"/api/v1/cases/{case_id}")).json()["disbursements"] == [shown]
