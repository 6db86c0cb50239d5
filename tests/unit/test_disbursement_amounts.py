"""Amounts: the server accepts exactly what the published JSON Schema pattern accepts, whitespace included, over
HTTP (test_disbursement_http.py) and over Kafka alike."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from faststream.kafka import TestKafkaBroker
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.contracts.amounts import PUBLISHED_AMOUNT_PATTERN, parse_amount
from shared.contracts.disbursement import DisbursementReportV1
from shared.contracts.topics import DISBURSEMENT_REQUESTS
from tests.unit.test_disbursement_kafka_handler import PAYMENT, message, open_one, reports_consumer, signed

# JSON Schema patterns are ECMA-262 regular expressions, where "$" matches only at the very end; Python's "$"
# also matches before a final line break, so the published pattern is read here with "\Z" in its place.
PUBLISHED = re.compile(PUBLISHED_AMOUNT_PATTERN.replace("$", r"\Z"))
WHITESPACE = "no spaces or line breaks around it"


def accepted(text: str) -> bool:
    try:
        parse_amount(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("text", [" 5", "5 ", " 5.00 ", "5.00\n", "\t5", "\u30005.00", "5.00\r\n"])
def test_an_amount_with_whitespace_around_it_is_refused_saying_so(text: str) -> None:
    with pytest.raises(ValueError, match=WHITESPACE) as caught:
        parse_amount(text)
    assert "金额前后不能有空格或换行" in str(caught.value)
    assert PUBLISHED.search(text) is None  # as the published contract refuses it


@pytest.mark.parametrize(("text", "amount"), [("5", "5.00"), ("0.5", "0.50"), ("999999999999.99", None)])
def test_a_plain_amount_is_still_accepted(text: str, amount: str | None) -> None:
    assert parse_amount(text) == Decimal(amount or text)


@given(st.text(alphabet="0123456789. \n\t-e+", max_size=17))
def test_the_server_accepts_exactly_what_the_published_pattern_accepts(text: str) -> None:
    assert accepted(text) == (PUBLISHED.search(text) is not None)


def test_a_kafka_report_with_a_padded_amount_is_invalid_naming_why() -> None:
    body = {
        "request_id": "r1",
        "bureau": "finance",
        "disbursement_id": "d1",
        "reported_by": "国库集中支付系统",
        "report": {**PAYMENT, "amount": " 5"},
    }
    with pytest.raises(ValidationError, match=WHITESPACE):
        DisbursementReportV1.model_validate(body)


async def test_a_kafka_payment_with_a_padded_amount_is_dead_lettered_and_records_nothing() -> None:
    reports = await reports_consumer()
    broker, recorder, letters, private, key = reports.parts()
    disbursement_id = await open_one(recorder)
    padded = message(disbursement_id, {**PAYMENT, "amount": " 5"}, "r1")

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(padded, DISBURSEMENT_REQUESTS, headers=signed(private, key, padded))

    assert len(letters) == 1 and "invalid DisbursementReportV1" in letters[0] and WHITESPACE in letters[0]
    assert [e.event_type for e in await recorder.read_stream(f"disbursement-{disbursement_id}")] == [
        "DisbursementOpened"
    ]
