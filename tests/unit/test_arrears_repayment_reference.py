"""A repayment's reference is recorded once per arrears: a resend without an Idempotency-Key never counts twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from services.disbursement.bootstrap import Overrides, build_app
from services.disbursement.domain import rules
from services.disbursement.domain.rules import Refused
from services.disbursement.settings import DisbursementSettings
from shared.auth.keys import Role
from shared.contracts.disbursement import RepaymentReport
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.unit.test_arrears_domain import TODAY, arrears
from tests.unit.test_disbursement_http import Bureaus, arrears_body

ADMIN = {"Authorization": "Bearer admin"}
REPAYMENT = {"amount": "300.00", "repaid_on": "2026-11-20", "reference": "ICBC-REPAY-1"}


def repaid(reference: str | None, amount: str = "300.00", on: date = date(2026, 11, 20)) -> RepaymentReport:
    return RepaymentReport(amount=amount, repaid_on=on, reference=reference)


def test_the_same_reference_again_is_refused_naming_it_and_the_first_repayment() -> None:
    a = arrears(owed="1000.00")
    for event in a.repay(repaid("ICBC-REPAY-1"), today=TODAY):
        a.apply(event, a.version + 1)
    for again in (repaid("ICBC-REPAY-1"), repaid("ICBC-REPAY-1", "50.00", date(2026, 11, 21))):
        with pytest.raises(Refused) as caught:
            a.repay(again, today=TODAY)
        assert caught.value.rule == rules.ONE_REPAYMENT_PER_REFERENCE
        assert "ICBC-REPAY-1" in caught.value.reason and "300.00 on 2026-11-20" in caught.value.reason
    assert a.repaid == 300


def test_repayments_without_a_reference_or_with_another_one_are_each_recorded() -> None:
    a = arrears(owed="1000.00")
    for report in (repaid(None), repaid(None), repaid("ICBC-REPAY-2")):
        for event in a.repay(report, today=TODAY):
            a.apply(event, a.version + 1)
    assert a.repaid == 900


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def client(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    db: Any = None  # the routes under test read the event store only
    keys = FakeApiKeys({"admin": ("finance", Role.ADMIN)})
    app = build_app(
        DisbursementSettings(), Overrides(recorder=recorder, api_keys=keys, db=db, bureaus=Bureaus())
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def test_a_repayment_posted_twice_without_an_idempotency_key_is_409_the_second_time(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    created = await client.post("/api/v1/arrears", json=arrears_body(amount_owed="1000.00"), headers=ADMIN)
    url = f"/api/v1/arrears/{created.json()['id']}/repayments"
    first = await client.post(url, json=REPAYMENT, headers=ADMIN)
    second = await client.post(url, json=REPAYMENT, headers=ADMIN)
    assert first.status_code == 201, first.text
    assert second.status_code == 409 and "OneRepaymentPerReference" in second.text
    assert "该还款凭证号已登记 / reference ICBC-REPAY-1" in second.text
    view = (await client.get(f"/api/v1/arrears/{created.json()['id']}", headers=ADMIN)).json()
    assert view["repaid"] == "300.00" and len(await recorder.read_all()) == 2


# What the outside trial recorded again after `ICBC-1`: case, a zero-width space inside, full width, a hyphen
# (U+2010), an en dash; and kin (a minus sign, a full-width hyphen-minus, a BOM in front, a soft hyphen inside).
ICBC_1_RESPELLED = [
    "icbc-1",
    "ICBC-1\u200b",
    "IC\u200bBC-1",
    "ＩＣＢＣ-1",
    "ICBC\u20101",
    "ICBC\u20131",
    "ICBC\u22121",
    "ICBC\uff0d1",
    "\ufeffICBC-1",
    "IC\u00adBC-1",
    # The second trial: variation selectors, the grapheme joiner, Hangul fillers, the braille blank, Mongolian
    # and Khmer invisibles, dash look-alikes that are not Pd, a no-break space.
    "ICBC-1\ufe0f",
    "ICBC-1\U000e0100",
    "IC\u034fBC-1",
    "ICBC\u3164-1",
    "ICBC-1\u2800",
    "ICBC\u180b-1",
    "ICBC\u02d71",
    "ICBC\u20431",
    "ICBC\u27961",
    "ICBC\u00a0-1",
]


@pytest.mark.parametrize("respelled", ICBC_1_RESPELLED, ids=ascii)
def test_the_same_reference_spelled_another_way_is_refused_naming_the_first_spelling(respelled: str) -> None:
    a = arrears(owed="1000.00")
    for event in a.repay(repaid("ICBC-1"), today=TODAY):
        a.apply(event, a.version + 1)
    with pytest.raises(Refused) as caught:
        a.repay(repaid(respelled, "50.00"), today=TODAY)
    assert caught.value.rule == rules.ONE_REPAYMENT_PER_REFERENCE
    assert "(as ICBC-1)" in caught.value.reason and a.repaid == 300


async def test_a_respelled_reference_over_http_is_409_and_the_first_keeps_its_spelling(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/api/v1/arrears", json=arrears_body(amount_owed="1000.00"), headers=ADMIN)
    url = f"/api/v1/arrears/{created.json()['id']}/repayments"
    first = await client.post(url, json={**REPAYMENT, "reference": "ＩＣＢＣ-REPAY-1"}, headers=ADMIN)
    assert first.status_code == 201, first.text
    for respelled in ("icbc-repay-1", "ICBC\u2013REPAY\u20101\u200b"):
        again = await client.post(url, json={**REPAYMENT, "reference": respelled}, headers=ADMIN)
        assert again.status_code == 409 and "OneRepaymentPerReference" in again.text, respelled
    view = (await client.get(f"/api/v1/arrears/{created.json()['id']}", headers=ADMIN)).json()
    assert view["repaid"] == "300.00"
    assert [r["reference"] for r in view["repayments"]] == ["ＩＣＢＣ-REPAY-1"]  # as it was given
