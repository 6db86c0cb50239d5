"""README's money routes through the gateway, as a user sees them: arrears, their repayments and their list,
the list of disbursements with its filters and pages, the workbook of a period, and where a new disbursement
lives."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from services.disbursement.domain.arrears import due_on
from shared.workdays.calendar import SHANGHAI
from shared.workdays.seed import default_calendar
from tests.api import Api
from tests.support import credit_code, eventually

pytestmark = pytest.mark.integration
GREE = {"name": "格力电器(郑州)有限公司", "credit_code": credit_code(6101)}


def today() -> Any:
    return datetime.now(SHANGHAI).date()


async def record_arrears(client: httpx.AsyncClient, delivered_on: str, owed: str = "1200000.00") -> str:
    body = {
        "enterprise": GREE,
        "debtor": "高新区建设局",
        "purpose": "厂房施工款",
        "amount_owed": owed,
        "delivered_on": delivered_on,
        "agreed_term_days": 30,
    }
    answer = await client.post("/api/v1/arrears", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_arrears_a_partial_repayment_leaves_them_overdue_and_the_last_one_settles_them_late(
    admin: httpx.AsyncClient, api: Api
) -> None:
    # 30 calendar days end on 2026-10-01 (国庆, off until 10-07): due on the first working day after it.
    arrears_id = await record_arrears(admin, "2026-09-01")
    url = f"/api/v1/arrears/{arrears_id}"
    fresh = (await admin.get(url)).json()
    assert (fresh["due_on"], fresh["outstanding"], fresh["repaid"]) == ("2026-10-08", "1200000.00", "0.00")
    assert fresh["overdue"] and fresh["overdue_days"] == (today() - datetime(2026, 10, 8).date()).days

    part = await admin.post(
        f"{url}/repayments", json={"amount": "200000", "repaid_on": "2026-10-11", "reference": "R-1"}
    )

    assert part.status_code == 201, part.text
    assert part.json()["recorded"] == ["ArrearsRepaid"]
    view = (await admin.get(url)).json()
    assert (view["repaid"], view["outstanding"], view["overdue"], view["settled_on"]) == (
        "200000.00",
        "1000000.00",
        True,
        None,
    )
    assert [(r["amount"], r["repaid_on"], r["reference"]) for r in view["repayments"]] == [
        ("200000.00", "2026-10-11", "R-1")
    ]

    too_much = await admin.post(f"{url}/repayments", json={"amount": "1000000.01", "repaid_on": "2026-10-21"})
    assert too_much.status_code == 409 and "RepaidNeverExceedsOwed" in too_much.text
    rest = await admin.post(f"{url}/repayments", json={"amount": "1000000.00", "repaid_on": "2026-10-21"})

    assert rest.status_code == 201, rest.text
    settled = (await admin.get(url)).json()
    assert (settled["outstanding"], settled["overdue"], settled["overdue_days"]) == ("0.00", False, 0)
    assert (settled["settled_on"], settled["days_late"]) == ("2026-10-21", 13)
    assert [r["days_late"] for r in settled["repayments"]] == [3, 13]
    assert (await api.innovation.get(url)).status_code == 404
    assert (
        await api.innovation.post(f"{url}/repayments", json={"amount": "1", "repaid_on": "2026-10-21"})
    ).status_code == 404


async def test_arrears_repayment_dates_are_plain_days_and_amounts_decimal_strings(
    admin: httpx.AsyncClient,
) -> None:
    arrears_id = await record_arrears(admin, today().isoformat(), owed="500.00")
    url = f"/api/v1/arrears/{arrears_id}/repayments"
    for wrong in (
        {"amount": "100.00", "repaid_on": f"{today().isoformat()}T00:00:00"},
        {"amount": 100.0, "repaid_on": today().isoformat()},
        {"amount": "1.001", "repaid_on": today().isoformat()},
    ):
        assert (await admin.post(url, json=wrong)).status_code == 422, wrong
    view = (await admin.get(f"/api/v1/arrears/{arrears_id}")).json()
    assert (view["repaid"], view["repayments"], view["overdue"]) == ("0.00", [], False)
    assert view["due_on"] == due_on(today(), 30, default_calendar()).isoformat()


async def test_arrears_the_list_shows_the_bureaus_own_overdue_first_and_filters_them(
    admin: httpx.AsyncClient, api: Api
) -> None:
    settled = await record_arrears(admin, "2026-11-02", owed="300.00")
    repaid = await admin.post(
        f"/api/v1/arrears/{settled}/repayments", json={"amount": "300.00", "repaid_on": "2026-11-02"}
    )
    assert repaid.status_code == 201, repaid.text
    not_yet_due = await record_arrears(admin, today().isoformat(), owed="200.00")
    overdue = await record_arrears(admin, "2026-09-01", owed="100.00")  # due 2026-10-08

    async def listed() -> Any:
        page = (await admin.get("/api/v1/arrears")).json()
        return page if page["total"] == 3 and not any(i["open"] for i in page["items"][2:]) else None

    everything = await eventually(listed, 60, "three arrears in the list, the settled one settled")
    assert [i["arrears_id"] for i in everything["items"]] == [overdue, not_yet_due, settled]
    first = everything["items"][0]
    assert (first["due_on"], first["overdue"], first["outstanding"]) == ("2026-10-08", True, "100.00")
    assert first["overdue_days"] == (today() - datetime(2026, 10, 8).date()).days
    for params, expected in (
        ({"overdue": "true"}, [overdue]),
        ({"overdue": "false"}, [not_yet_due, settled]),
        ({"open": "false"}, [settled]),
        ({"enterprise": GREE["credit_code"], "limit": 1, "offset": 1}, [not_yet_due]),
    ):
        page = (await admin.get("/api/v1/arrears", params=params)).json()
        assert [i["arrears_id"] for i in page["items"]] == expected, params
    others = (await api.innovation.get("/api/v1/arrears", params={"limit": 200})).json()
    assert not {i["arrears_id"] for i in others["items"]} & {overdue, not_yet_due, settled}
    for wrong in ({"overdue": "yes"}, {"open": "no"}, {"enterprise": "91410100"}, {"limit": 201}):
        refused = await admin.get("/api/v1/arrears", params=wrong)
        assert refused.status_code == 422 and next(iter(wrong)) in refused.text, (wrong, refused.text)


async def open_disbursement(client: httpx.AsyncClient, n: int, **extra: Any) -> httpx.Response:
    body = {
        "enterprise": {"name": f"测试企业{n}有限公司", "credit_code": credit_code(n)},
        "source": "市财政局",
        "fund_type": "subsidy",
        "allocated": "1000.00",
        **extra,
    }
    answer = await client.post("/api/v1/disbursements", json=body)
    assert answer.status_code == 201, answer.text
    return answer


async def test_disbursements_a_new_disbursement_answers_its_location_and_the_location_shows_it(
    admin: httpx.AsyncClient,
) -> None:
    opened = await open_disbursement(admin, 6102)

    disbursement_id = opened.json()["id"]
    assert opened.headers["Location"].endswith(f"/api/v1/disbursements/{disbursement_id}")
    shown = await admin.get(opened.headers["Location"])
    assert shown.status_code == 200, shown.text
    assert (shown.json()["disbursement_id"], shown.json()["allocated"]) == (disbursement_id, "1000.00")


async def test_disbursements_the_list_filters_stuck_ones_with_overdue_and_pages_with_limit_and_offset(
    admin: httpx.AsyncClient,
) -> None:
    stuck = [
        (await open_disbursement(admin, n, allocation_received_at="2026-10-09T09:00:00+08:00")).json()["id"]
        for n in (6103, 6104)
    ]
    moving = (await open_disbursement(admin, 6105)).json()["id"]

    async def listed() -> Any:
        page = (await admin.get("/api/v1/disbursements")).json()
        return page if page["total"] == 3 else None

    everything = await eventually(listed, 60, "three disbursements in the list")
    assert [i["disbursement_id"] for i in everything["items"]] == [moving, *stuck[::-1]]
    overdue = (await admin.get("/api/v1/disbursements", params={"overdue": "true"})).json()
    assert sorted(i["disbursement_id"] for i in overdue["items"]) == sorted(stuck) and overdue["total"] == 2
    assert all(i["overdue"] for i in overdue["items"])
    others = (await admin.get("/api/v1/disbursements", params={"overdue": "false"})).json()
    assert [i["disbursement_id"] for i in others["items"]] == [moving] and not others["items"][0]["overdue"]
    page = (await admin.get("/api/v1/disbursements", params={"limit": 1, "offset": 1})).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [i["disbursement_id"] for i in page["items"]] == [everything["items"][1]["disbursement_id"]]
    for wrong in ({"overdue": "yes"}, {"limit": 0}, {"limit": 201}, {"offset": -1}, {"offset": 100001}):
        refused = await admin.get("/api/v1/disbursements", params=wrong)
        assert refused.status_code == 422 and next(iter(wrong)) in refused.text, (wrong, refused.text)


def sheet_rows(content: bytes, title: str) -> list[tuple[Any, ...]]:
    return list(load_workbook(io.BytesIO(content))[title].iter_rows(values_only=True))


async def test_disbursements_the_workbook_limits_time_to_account_to_the_days_from_and_to(
    admin: httpx.AsyncClient,
) -> None:
    opened = await open_disbursement(admin, 6106, allocation_received_at="2026-11-19T15:00:00+08:00")
    disbursement_id = opened.json()["id"]
    paid = await admin.post(
        f"/api/v1/disbursements/{disbursement_id}/payments",
        json={"amount": "1000.00", "credited_at": "2026-11-20T10:00:00+08:00", "bank_reference": "ICBC-6106"},
    )
    assert paid.status_code == 201, paid.text
    report = "/api/v1/disbursements/report.xlsx"

    async def credited_in_the_workbook() -> bytes | None:
        answer = await admin.get(report, params={"from": "2026-11-20", "to": "2026-11-20"})
        assert answer.status_code == 200, answer.text
        rows = dict((r[0], r[1]) for r in sheet_rows(answer.content, "汇总") if r and r[0])
        return answer.content if rows.get("全额到账笔数") == 1 else None

    inside = await eventually(credited_in_the_workbook, 60, "the credit in the workbook's period")
    summary = {r[0]: r[1:] for r in sheet_rows(inside, "汇总") if r and r[0]}
    assert summary["到账用时统计区间"][0] == "2026-11-20 至 2026-11-20"
    assert summary["中位数（小时）"][0] == 19.0
    [header, row] = sheet_rows(inside, "拨付明细")
    assert header[0] == "拨付编号" and row[0] == disbursement_id and row[6] == 1000

    outside = await admin.get(report, params={"from": "2026-11-21", "to": "2026-11-30"})
    assert outside.status_code == 200, outside.text
    summary = {r[0]: r[1:] for r in sheet_rows(outside.content, "汇总") if r and r[0]}
    assert summary["到账用时统计区间"][0] == "2026-11-21 至 2026-11-30"
    assert summary["全额到账笔数"][0] == 0
    with_a_time = {"from": "2026-11-20T00:00:00", "to": "2026-11-21"}
    assert (await admin.get(report, params=with_a_time)).status_code == 422
