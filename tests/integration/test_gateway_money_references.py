"""Through the gateway: one bank transfer credits one disbursement of a bureau, one repayment reference is
recorded once per arrears, and every timeline entry says how it came and who caused it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from shared.workdays.calendar import SHANGHAI
from tests.integration.test_gateway_routes_money import open_disbursement, record_arrears

pytestmark = pytest.mark.integration


def an_hour_ago() -> str:
    return (datetime.now(SHANGHAI) - timedelta(hours=1)).isoformat(timespec="seconds")


async def test_a_bank_reference_credited_to_one_disbursement_is_refused_for_another(
    admin: httpx.AsyncClient,
) -> None:
    first = (await open_disbursement(admin, 6201)).json()["id"]
    second = (await open_disbursement(admin, 6202)).json()["id"]
    payment = {"amount": "100.00", "credited_at": an_hour_ago(), "bank_reference": "ICBC-SAME-1"}
    credited = await admin.post(f"/api/v1/disbursements/{first}/payments", json=payment)
    assert credited.status_code == 201, credited.text

    again = await admin.post(f"/api/v1/disbursements/{second}/payments", json=payment)
    assert again.status_code == 409 and "OneCreditPerBankReference" in again.text and first in again.text
    shown = (await admin.get(f"/api/v1/disbursements/{second}")).json()
    assert shown["credited"] == "0.00"
    [entry] = [
        e for e in (await admin.get(f"/api/v1/disbursements/{first}")).json()["timeline"] if e["amount"]
    ]
    assert entry["via"] == "http" and entry["actor"]["kind"] == "integration"  # a bureau key, over HTTP


async def test_a_repayment_reference_is_recorded_once_per_arrears(admin: httpx.AsyncClient) -> None:
    arrears_id = await record_arrears(admin, "2026-11-02")
    repayment = {"amount": "300.00", "repaid_on": "2026-11-20", "reference": "ICBC-REPAY-1"}
    url = f"/api/v1/arrears/{arrears_id}/repayments"
    assert (await admin.post(url, json=repayment)).status_code == 201
    twice = await admin.post(url, json=repayment)
    assert twice.status_code == 409 and "OneRepaymentPerReference" in twice.text
    assert (await admin.get(f"/api/v1/arrears/{arrears_id}")).json()["repaid"] == "300.00"
