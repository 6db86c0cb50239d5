"""Disbursements through the gateway on real Tansu and SecantusDB: the seed's 一天到账 case end to end, Kafka
reports (duplicate, out of order, poison), a rebuilt dashboard equal to the live one, and tenancy."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement.application import queries
from services.disbursement.projections.rebuild import rebuild
from services.disbursement.projections.store import POINTERS, in_use
from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.contracts.topics import DISBURSEMENT_REQUESTS, dlq
from shared.devstack.stack import Stack
from shared.eventstore.mongo import MongoRecorder
from shared.readmodels.generations import Generations
from shared.workdays.published import PublishedCalendar as Calendars
from tests.kafka_client import IntakeSigner, aproduce, aread_topic, register_signer
from tests.support import case_body, credit_code, eventually

pytestmark = pytest.mark.integration
RECEIVED = "2026-11-19T15:00:00+08:00"  # a Thursday
CREDITED = "2026-11-20T10:00:00+08:00"  # the next working day


@pytest.fixture
async def bureau(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A fresh bureau (so its dashboard holds only this test's money) and an admin client for it."""
    bureau_id = f"m{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "disbursement gateway test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        yield bureau_id, client


async def open_disbursement(client: httpx.AsyncClient, n: int, allocated: str, **extra: Any) -> str:
    body = {
        "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": credit_code(n)},
        "source": "市财政局",
        "fund_type": "subsidy",
        "allocated": allocated,
        "allocation_received_at": RECEIVED,
        **extra,
    }
    answer = await client.post("/api/v1/disbursements", json=body, headers={"Idempotency-Key": f"open-{n}"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def detail(client: httpx.AsyncClient, disbursement_id: str) -> Any:
    answer = await client.get(f"/api/v1/disbursements/{disbursement_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def wait_for_dashboard(client: httpx.AsyncClient, what: str, check: Any, **params: str) -> Any:
    async def probe() -> Any:
        answer = await client.get("/api/v1/disbursements/dashboard", params=params)
        return answer.json() if answer.status_code == 200 and check(answer.json()) else None

    return await eventually(probe, 60, what)


def report(bureau: str, disbursement_id: str, body: dict[str, Any], request_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "request_id": request_id or uuid.uuid4().hex,
            "bureau": bureau,
            "disbursement_id": disbursement_id,
            "reported_by": "市财政局国库集中支付系统",
            "report": body,
        }
    ).encode()


async def test_the_seed_case_is_credited_the_next_working_day_and_the_dashboard_shows_it_within_one(
    bureau: tuple[str, httpx.AsyncClient],
) -> None:
    _, client = bureau
    opened = await client.post("/api/v1/cases", json=case_body(8801))
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    disbursement_id = await open_disbursement(client, 8801, "70000000.00", case_id=case_id)
    url = f"/api/v1/disbursements/{disbursement_id}"
    for stage in (
        {"stage": "documents_complete", "at": "2026-11-19T16:00:00+08:00"},
        {"stage": "approved", "at": "2026-11-19T17:00:00+08:00", "note": "局班子会议研究通过"},
        {"stage": "coordination", "at": "2026-11-19T17:30:00+08:00", "note": "协调园区与银行"},
        {"stage": "payment_instructed", "at": "2026-11-20T09:00:00+08:00"},
    ):
        answer = await client.post(f"{url}/stages", json=stage)
        assert answer.status_code == 201, answer.text
    paid = await client.post(
        f"{url}/payments",
        json={"amount": "70000000.00", "credited_at": CREDITED, "bank_reference": "ICBC-0001"},
    )
    assert paid.status_code == 201, paid.text

    view = await detail(client, disbursement_id)
    assert view["status"] == "credited" and view["credited"] == "70000000.00" and view["case_id"] == case_id
    assert view["time_to_account"] == {"hours": 19.0, "workdays": 1, "within_one_workday": True}
    assert [s["stage"] for s in view["stages"]][-1] == "credited" and view["opened_at"].endswith("+08:00")

    # The period's figures and the all-time totals are separate documents; wait until both show the credit.
    figures = await wait_for_dashboard(
        client,
        "the credited disbursement, in the period and in the totals",
        lambda d: d["time_to_account"]["credited"] == 1 and d["outstanding"] == "0.00",
        **{"from": "2026-11-20", "to": "2026-11-20"},
    )
    assert figures["allocated"] == figures["credited"] == "70000000.00" and figures["outstanding"] == "0.00"
    assert figures["time_to_account"]["share_within_one_workday"] == "1.0000"
    assert figures["time_to_account"]["median_hours"] == 19.0
    listed = (await client.get("/api/v1/disbursements", params={"stage": "credited"})).json()
    assert [i["disbursement_id"] for i in listed["items"]] == [disbursement_id]
    workbook = await client.get("/api/v1/disbursements/report.xlsx")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"


async def test_kafka_reports_duplicate_out_of_order_and_poison_are_handled_as_documented(
    bureau: tuple[str, httpx.AsyncClient], stack: Stack
) -> None:
    bureau_id, client = bureau
    signer: IntakeSigner = await register_signer(client, "市财政局国库集中支付系统")
    disbursement_id = await open_disbursement(client, 8802, "500.00")
    credited = {"kind": "payment", "amount": "500.00", "credited_at": CREDITED, "bank_reference": "B-1"}
    instructed = {"kind": "stage", "stage": "payment_instructed", "at": "2026-11-20T09:00:00+08:00"}
    payment = report(bureau_id, disbursement_id, credited, request_id="pay-1")
    poison = b'{"request_id": "broken", "bureau": '
    late = report(bureau_id, disbursement_id, instructed, request_id="instr-1")
    key = disbursement_id.encode()  # one partition: in this order
    await aproduce(
        stack.config.bootstrap,
        DISBURSEMENT_REQUESTS,
        [payment, payment, poison, late],
        key=key,
        signer=signer,
    )

    async def both_applied() -> Any:
        view = await detail(client, disbursement_id)
        return view if len(view["timeline"]) == 3 else None

    view = await eventually(both_applied, 60, "the payment and the late instruction")
    kinds = [(e["kind"], e["stage"], e["late"]) for e in view["timeline"]]
    # Ordered by their own times: received, instructed (reported late), credited (before any instruction).
    assert kinds == [
        ("stage", "allocation_received", False),
        ("stage", "payment_instructed", True),
        ("payment", "credited", True),
    ]
    assert view["status"] == "credited" and view["credited"] == "500.00"  # the duplicate was applied once

    letters = await eventually(lambda: _dead_letters(stack, key), 40, "the poison message in the DLQ")
    assert (
        letters[0].value() == poison
        and b"invalid DisbursementReportV1" in dict(letters[0].headers())["dlq-reason"]
    )


async def _dead_letters(stack: Stack, key: bytes) -> list[Any]:
    letters = await aread_topic(stack.config.bootstrap, dlq(DISBURSEMENT_REQUESTS), until=100_000, timeout=2)
    return [m for m in letters if m.key() == key]


async def test_refusals_answer_409_and_another_bureau_sees_nothing(
    bureau: tuple[str, httpx.AsyncClient], stack_db: AsyncDatabase, api: Any
) -> None:
    _, client = bureau
    disbursement_id = await open_disbursement(client, 8803, "100.00")
    url = f"/api/v1/disbursements/{disbursement_id}"
    before = await stack_db.events.count_documents({"stream_id": f"disbursement-{disbursement_id}"})
    over = await client.post(
        f"{url}/payments", json={"amount": "100.01", "credited_at": CREDITED, "bank_reference": "x"}
    )
    assert over.status_code == 409 and "CreditedNeverExceedsAllocated" in over.json()["detail"]
    assert await stack_db.events.count_documents({"stream_id": f"disbursement-{disbursement_id}"}) == before

    other = api.innovation
    assert (await other.get(url)).status_code == 404
    assert (
        await other.post(f"{url}/stages", json={"stage": "documents_complete", "at": CREDITED})
    ).status_code == 404
    listed = (await other.get("/api/v1/disbursements", params={"enterprise": credit_code(8803)})).json()
    assert listed["total"] == 0
    theirs = (await other.get("/api/v1/disbursements/dashboard")).json()
    assert theirs["bureau"] == "innovation"


async def test_money_links_only_to_a_case_of_the_same_bureau_and_enterprise(
    bureau: tuple[str, httpx.AsyncClient], stack_db: AsyncDatabase, api: Any
) -> None:
    _, client = bureau
    opened = await client.post("/api/v1/cases", json=case_body(8805))
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    refused_before = {"$or": [{"bureau": "innovation"}, {"data.enterprise.credit_code": credit_code(8806)}]}
    before = await stack_db.events.count_documents({"stream_type": {"$ne": "case"}, **refused_before})
    arrears = {
        "debtor": "高新区建设局",
        "purpose": "运维服务",
        "amount_owed": "10.00",
        "delivered_on": "2026-10-01",
    }
    enterprise = {"name": "测试企业", "credit_code": credit_code(8805)}
    other = api.innovation  # another bureau names this bureau's case: told no such case, as for an unknown id
    for client_, code, says in (
        (other, 8805, "names no case of your bureau"),
        (client, 8806, "is a case of another enterprise"),
    ):
        body = {
            **arrears,
            "enterprise": {"name": "测试企业", "credit_code": credit_code(code)},
            "case_id": case_id,
        }
        answer = await client_.post("/api/v1/arrears", json=body)
        assert answer.status_code == 422 and says in answer.json()["detail"], answer.text
        answer = await client_.post(
            "/api/v1/disbursements",
            json={
                "enterprise": body["enterprise"],
                "case_id": case_id,
                "source": "市财政局",
                "fund_type": "subsidy",
                "allocated": "10.00",
            },
        )
        assert answer.status_code == 422 and "LinksOnlyToACaseOfTheSameEnterprise" in answer.json()["detail"]
    refused = {"$or": [{"bureau": "innovation"}, {"data.enterprise.credit_code": credit_code(8806)}]}
    assert await stack_db.events.count_documents({"stream_type": {"$ne": "case"}, **refused}) == before
    linked = await client.post(
        "/api/v1/arrears", json={**arrears, "enterprise": enterprise, "case_id": case_id}
    )
    assert linked.status_code == 201, linked.text


async def test_a_rebuilt_dashboard_equals_the_live_one(
    bureau: tuple[str, httpx.AsyncClient], stack_db: AsyncDatabase
) -> None:
    _, client = bureau
    first = await open_disbursement(client, 8804, "1000.00")
    await open_disbursement(client, 8805, "250.50")
    await client.post(
        f"/api/v1/disbursements/{first}/payments",
        json={"amount": "400.25", "credited_at": CREDITED, "bank_reference": "p1"},
    )
    arrears = await client.post(
        "/api/v1/arrears",
        json={
            "enterprise": {"name": "北控水务(郑州)有限公司", "credit_code": credit_code(8806)},
            "debtor": "高新区建设局",
            "purpose": "运维服务",
            "amount_owed": "31800000.00",
            "delivered_on": "2026-09-01",
        },
    )
    assert arrears.status_code == 201, arrears.text
    await wait_for_dashboard(
        client,
        "every change in the live dashboard",
        lambda d: d["disbursements"] == 2 and d["credited"] == "400.25" and d["arrears"]["count"] == 1,
    )

    recorder = MongoRecorder(stack_db.client, stack_db)
    calendar = Calendars(recorder)
    generations = Generations(stack_db, POINTERS)
    before = await in_use(generations)()
    live = (await client.get("/api/v1/disbursements/dashboard")).json()
    # What rebuilds that died left behind: a generation never pointed at, an old rename-based shadow.
    leftovers = ("arrears_views__g90", "rebuild_disbursement_views")
    for leftover in leftovers:
        await stack_db[leftover].insert_one({"_id": "left by a rebuild that died"})

    await rebuild(stack_db, recorder, calendar.current, generations)

    after = await in_use(generations)()
    assert after != before  # a new generation, pointed at: nothing was renamed
    names = set(await stack_db.list_collection_names())
    assert {after.views, after.arrears, after.dashboard} <= names
    assert not {before.views, before.arrears, before.dashboard, *leftovers} & names  # all dropped
    # The service re-reads the pointers at most once a second; the rebuild waited longer before it returned.
    rebuilt = (await client.get("/api/v1/disbursements/dashboard")).json()
    for figures in (live, rebuilt):
        figures.pop("as_of")
    assert rebuilt == live
    assert (
        Decimal(live["allocated"]) == Decimal(live["outstanding"]) + Decimal(live["credited"])
        and live["arrears"]["overdue"]["outstanding"] == "31800000.00"
    )


async def test_the_newest_first_list_reads_the_same_page_in_windows_as_in_one_query(
    bureau: tuple[str, httpx.AsyncClient], stack_db: AsyncDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    bureau_id, client = bureau
    for n in range(8810, 8814):
        await open_disbursement(client, n, "10.00")
    listed = await eventually(lambda: _listed(client, 4), 60, "four disbursements in the list")
    expected = [item["disbursement_id"] for item in listed]

    monkeypatch.setattr(queries, "SMALL", 0)  # as a bureau with many disbursements: read back in windows
    page = await queries.list_disbursements(
        stack_db,
        await in_use(Generations(stack_db, POINTERS))(),
        bureau_id,
        enterprise=None,
        stage=None,
        overdue=None,
        stuck_before=datetime.now(UTC),
        limit=3,
        offset=1,
        now=datetime.now(UTC),
    )
    assert [item.disbursement_id for item in page.items] == expected[1:4] and page.total == 4


async def _listed(client: httpx.AsyncClient, count: int) -> list[Any]:
    answer = (await client.get("/api/v1/disbursements")).json()
    return list(answer["items"]) if answer["total"] == count else []
