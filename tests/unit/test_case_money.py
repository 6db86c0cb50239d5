"""The case's money: the fold of disbursement events (link, version guard, replay), time to account in working
days, and the case and its history through the read API with fakes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides, build_app
from services.casequery.projections.money import fold_money, time_to_account
from services.casequery.projections.money_store import InMemoryCaseMoney
from services.casequery.settings import CaseQuerySettings
from shared.auth.keys import Role
from shared.contracts.cases import Enterprise
from shared.contracts.disbursement import (
    ArrearsRecorded,
    DisbursementOpened,
    DisbursementPaymentCredited,
    DisbursementStageReported,
    FundType,
    Stage,
    Status,
)
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import NewEvent
from shared.messaging.consumer import PoisonMessage
from shared.workdays.seed import default_calendar
from tests.fakes import FakeApiKeys
from tests.support import credit_code
from tests.unit.test_casequery_http import FINANCE, FakeViews, InMemoryStories, open_finance_case, recording

RECEIVED = datetime.fromisoformat("2026-11-20T15:00:00+08:00")  # a Friday
MONDAY = datetime.fromisoformat("2026-11-23T10:00:00+08:00")


def opened(disbursement_id: str, case_id: str | None, enterprise: int = 5) -> NewEvent:
    """DisbursementOpened for enterprise n (5: the enterprise of open_finance_case's case)."""
    event = DisbursementOpened(
        disbursement_id=disbursement_id,
        enterprise=Enterprise(name="格力电器(郑州)有限公司", credit_code=credit_code(enterprise)),
        case_id=case_id,
        source="市财政局",
        fund_type=FundType.SUBSIDY,
        allocated=Decimal("70000000.00"),
    )
    return NewEvent("DisbursementOpened", 1, event.model_dump(mode="json"))


def received(disbursement_id: str) -> NewEvent:
    event = DisbursementStageReported(
        disbursement_id=disbursement_id,
        stage=Stage.ALLOCATION_RECEIVED,
        at=RECEIVED,
        reported_by="市财政局",
        status=Status.ALLOCATION_RECEIVED,
        credited_total=Decimal("0"),
        allocation_received_at=RECEIVED,
    )
    return NewEvent("DisbursementStageReported", 1, event.model_dump(mode="json"))


def credited(disbursement_id: str, amount: str, total: str, at: datetime, full: bool) -> NewEvent:
    event = DisbursementPaymentCredited(
        disbursement_id=disbursement_id,
        payment_id=uuid.uuid4().hex,
        amount=Decimal(amount),
        credited_at=at,
        bank_reference=uuid.uuid4().hex[:10],
        reported_by="工商银行",
        credited_total=Decimal(total),
        fully_credited=full,
        status=Status.CREDITED if full else Status.PARTIALLY_CREDITED,
        allocation_received_at=RECEIVED,
        fully_credited_at=at if full else None,
    )
    return NewEvent("DisbursementPaymentCredited", 1, event.model_dump(mode="json"))


async def record(
    recorder: InMemoryRecorder, disbursement_id: str, events: list[NewEvent], bureau: str = "finance"
) -> list[EventEnvelope]:
    """Append to the disbursement's stream as the disbursement service would; return the envelopes."""
    stream = f"disbursement-{disbursement_id}"
    rec = recording(stream, "disbursement", bureau)
    version = len(await recorder.read_stream(stream))
    result = await recorder.append(rec.__class__(**{**rec.__dict__, "expected_version": version}), events)
    return list(result.events)


def fold_each(envelopes: list[EventEnvelope], doc: dict[str, Any] | None = None) -> dict[str, Any] | None:
    for envelope in envelopes:
        doc = fold_money(doc, envelope)
    return doc


async def test_a_disbursement_opened_for_a_case_shows_its_allocation_with_nothing_credited_yet() -> None:
    envelopes = await record(InMemoryRecorder(), "d1", [opened("d1", "case-1")])
    doc = fold_each(envelopes)
    assert doc is not None and doc["case_id"] == "case-1" and doc["bureau"] == "finance"
    assert doc["entry"]["allocated"] == "70000000.00" and doc["entry"]["credited"] == "0.00"
    assert doc["entry"]["status"] == "opened" and doc["entry"]["fully_credited_at"] is None


async def test_a_disbursement_without_a_case_leaves_nothing_even_after_its_payments() -> None:
    envelopes = await record(
        InMemoryRecorder(),
        "d2",
        [opened("d2", None), credited("d2", "70000000.00", "70000000.00", MONDAY, True)],
    )
    assert fold_each(envelopes) is None


async def test_stages_and_payments_set_status_and_credited_total_from_the_newest_event() -> None:
    recorder = InMemoryRecorder()
    envelopes = await record(
        recorder,
        "d3",
        [
            opened("d3", "case-3"),
            received("d3"),
            credited("d3", "30000000.00", "30000000.00", MONDAY, False),
            credited("d3", "40000000.00", "70000000.00", MONDAY, True),
        ],
    )
    doc = fold_each(envelopes)
    assert doc is not None and doc["version"] == 4
    assert doc["entry"]["status"] == "credited" and doc["entry"]["credited"] == "70000000.00"
    assert doc["entry"]["fully_credited_at"] == MONDAY and doc["entry"]["allocation_received_at"] == RECEIVED


async def test_a_replayed_or_redelivered_older_event_changes_nothing() -> None:
    envelopes = await record(
        InMemoryRecorder(),
        "d4",
        [opened("d4", "case-4"), received("d4"), credited("d4", "70000000.00", "70000000.00", MONDAY, True)],
    )
    doc = fold_each(envelopes)
    for old in envelopes:  # the whole stream again, e.g. a consumer-group reset
        assert fold_money(doc, old) is doc
    assert doc is not None and doc["entry"]["credited"] == "70000000.00"


async def test_the_store_keeps_another_bureaus_disbursement_away_from_the_case() -> None:
    recorder, money = InMemoryRecorder(), InMemoryCaseMoney()
    for envelope in await record(recorder, "d5", [opened("d5", "case-5")], bureau="other"):
        await money.apply(envelope)
    for envelope in await record(recorder, "d6", [opened("d6", "case-5")]):
        await money.apply(envelope)
    assert [d["_id"] for d in await money.of_case("finance", "case-5")] == ["d6"]


def test_credited_on_the_monday_after_a_friday_arrival_is_within_one_working_day() -> None:
    tta = time_to_account(RECEIVED, MONDAY, default_calendar())
    assert tta == {"hours": 67.0, "workdays": 1, "within_one_working_day": True}


def test_credited_on_the_monday_after_a_thursday_arrival_is_two_working_days() -> None:
    thursday = datetime.fromisoformat("2026-11-19T15:00:00+08:00")
    tta = time_to_account(thursday, MONDAY, default_calendar())
    assert tta is not None and tta["workdays"] == 2 and not tta["within_one_working_day"]


def test_no_time_to_account_until_fully_credited() -> None:
    assert time_to_account(RECEIVED, None, default_calendar()) is None


# -- through the read API, with fakes --


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def views() -> FakeViews:
    return FakeViews()


@pytest.fixture
def money() -> InMemoryCaseMoney:
    return InMemoryCaseMoney()


@pytest.fixture
async def client(
    recorder: InMemoryRecorder, views: FakeViews, money: InMemoryCaseMoney
) -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"finance-key": ("finance", Role.VIEWER)})
    overrides = Overrides(
        views=cast(AsyncCollection, views),
        recorder=recorder,
        api_keys=keys,
        stories=InMemoryStories(),
        money=money,
    )
    app = build_app(CaseQuerySettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def _credited_case(recorder: InMemoryRecorder, views: FakeViews, money: InMemoryCaseMoney) -> str:
    case_id = await open_finance_case(recorder, views)
    events = [
        opened("d7", case_id),
        received("d7"),
        credited("d7", "70000000.00", "70000000.00", MONDAY, True),
    ]
    for envelope in await record(recorder, "d7", events):
        await money.apply(envelope)
    for envelope in await record(recorder, "d8", [opened("d8", case_id)], bureau="other"):
        await money.apply(envelope)
    return case_id


async def test_the_case_shows_its_credited_disbursement_with_time_to_account_in_shanghai_time(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews, money: InMemoryCaseMoney
) -> None:
    case_id = await _credited_case(recorder, views, money)
    case = (await client.get(f"/api/v1/cases/{case_id}", headers=FINANCE)).json()
    [shown] = case["disbursements"]  # the other bureau's disbursement naming this case is not shown
    assert shown["disbursement_id"] == "d7" and shown["allocated"] == shown["credited"] == "70000000.00"
    assert shown["status"] == "credited" and shown["fully_credited_at"] == "2026-11-23T10:00:00+08:00"
    assert shown["time_to_account"] == {"hours": 67.0, "workdays": 1, "within_one_working_day": True}


async def test_the_history_tells_the_disbursement_events_after_the_case_opened(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews, money: InMemoryCaseMoney
) -> None:
    case_id = await _credited_case(recorder, views, money)
    history = (await client.get(f"/api/v1/cases/{case_id}/history", headers=FINANCE)).json()
    kinds = [(e["source"], e["event_type"]) for e in history]
    assert kinds == [
        ("case", "CaseOpened"),
        ("disbursement", "DisbursementOpened"),
        ("disbursement", "DisbursementStageReported"),
        ("disbursement", "DisbursementPaymentCredited"),
    ]
    assert history[-1]["summary"].startswith("资金拨付") and history[-1]["stream_id"] == "disbursement-d7"
    assert history[-1]["data"]["credited_at"] == "2026-11-23T10:00:00+08:00"


async def test_a_case_without_money_shows_no_disbursements(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews
) -> None:
    case_id = await open_finance_case(recorder, views)
    assert (await client.get(f"/api/v1/cases/{case_id}", headers=FINANCE)).json()["disbursements"] == []


async def test_a_payload_its_contract_refuses_is_dead_lettered_not_retried() -> None:
    [envelope] = await record(InMemoryRecorder(), "d9", [NewEvent("DisbursementOpened", 1, {"case_id": "c"})])
    with pytest.raises(PoisonMessage):
        fold_money(None, envelope)


# -- a case shows only its own money: its bureau's and its enterprise's; arrears never --

CASE_ENTERPRISE = 5  # open_finance_case opens the case for enterprise 5


async def _link(
    recorder: InMemoryRecorder,
    money: InMemoryCaseMoney,
    disbursement_id: str,
    case_id: str,
    enterprise: int = CASE_ENTERPRISE,
    bureau: str = "finance",
) -> None:
    for envelope in await record(
        recorder, disbursement_id, [opened(disbursement_id, case_id, enterprise)], bureau
    ):
        await money.apply(envelope)


async def _arrears_naming(recorder: InMemoryRecorder, money: InMemoryCaseMoney, case_id: str) -> None:
    event = ArrearsRecorded(
        arrears_id="a1",
        enterprise=Enterprise(name="测试企业5有限公司", credit_code=credit_code(CASE_ENTERPRISE)),
        debtor="高新区建设局",
        purpose="厂房施工款",
        amount_owed=Decimal("1200000.00"),
        delivered_on=date(2026, 10, 8),
        agreed_term_days=30,
        due_on=date(2026, 11, 7),
        case_id=case_id,
    )
    result = await recorder.append(
        recording("arrears-a1", "arrears"), [NewEvent("ArrearsRecorded", 1, event.model_dump(mode="json"))]
    )
    for envelope in result.events:
        await money.apply(envelope)


async def _money_shown(client: httpx.AsyncClient, case_id: str) -> tuple[list[str], set[str]]:
    """Return the disbursements a case shows and the money streams its history tells."""
    case = (await client.get(f"/api/v1/cases/{case_id}", headers=FINANCE)).json()
    history = (await client.get(f"/api/v1/cases/{case_id}/history", headers=FINANCE)).json()
    shown = [d["disbursement_id"] for d in case["disbursements"]]
    return shown, {e["stream_id"] for e in history if e["source"] != "case"}


async def test_a_case_shows_only_the_disbursements_of_its_own_bureau_and_enterprise(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews, money: InMemoryCaseMoney
) -> None:
    case_id = await open_finance_case(recorder, views)
    await _link(recorder, money, "own", case_id)
    await _link(recorder, money, "other-enterprise", case_id, enterprise=6)
    await _link(recorder, money, "other-bureau", case_id, bureau="innovation")
    await _arrears_naming(recorder, money, case_id)

    assert await _money_shown(client, case_id) == (["own"], {"disbursement-own"})


async def test_money_folded_before_the_credit_code_was_kept_is_matched_by_its_opening_event(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews, money: InMemoryCaseMoney
) -> None:
    case_id = await open_finance_case(recorder, views)
    await _link(recorder, money, "own", case_id)
    await _link(recorder, money, "other-enterprise", case_id, enterprise=6)
    for doc in money.docs.values():  # as an older casequery stored them
        del doc["credit_code"]

    assert await _money_shown(client, case_id) == (["own"], {"disbursement-own"})
