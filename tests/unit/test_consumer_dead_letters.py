"""A DLQ record can always be published: non-UTF-8 headers as base64, too large parts cut with their size
and digest, a record the broker still refuses as a short stub; an outage raises, so the record comes again."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.messaging.dead_letters import (
    HEADERS_KEPT,
    KEY_PREFIX,
    REASON_LIMIT,
    STUB_PREFIX,
    VALUE_PREFIX,
    Letter,
    dead_letter,
    letter_for,
    problems_of,
)

AIOKAFKA_MAX_REQUEST = 1_048_576


def record(value: bytes | None, key: bytes | None = b"k", headers: Any = ()) -> ConsumerRecord:
    return ConsumerRecord(
        "t", 2, 41, 0, 0, key, value, None, len(key or b""), len(value or b""), list(headers)
    )


def _fits_one_request(letter: Letter) -> bool:
    headers = [(k, v.encode()) for k, v in letter.headers.items()]
    size = DefaultRecordBatchBuilder.estimate_size_in_bytes(letter.key, letter.value, headers)
    return bool(size <= AIOKAFKA_MAX_REQUEST)


def test_an_ordinary_record_goes_as_received_with_the_reason() -> None:
    letter = letter_for(record(b'{"n": 1}', headers=[("event_id", b"e-1")]), "invalid Item: x", "g")
    assert (letter.value, letter.key, letter.headers["event_id"]) == (b'{"n": 1}', b"k", "e-1")
    assert letter.headers["dlq-reason"] == "invalid Item: x"
    assert (letter.headers["dlq-source-topic"], letter.headers["dlq-source-offset"]) == ("t", "41")
    assert not any(h in letter.headers for h in ("dlq-truncated", "dlq-base64-headers", "dlq-original-size"))


def test_header_values_that_are_not_utf8_are_kept_exactly_as_base64_and_named() -> None:
    raw = [("trace", b"\xff\xfe\x00"), ("x-null", None), ("ok", "好".encode())]
    letter = letter_for(record(b"{}", headers=raw), "header 'trace' is not UTF-8", "g")
    assert base64.b64decode(letter.headers["trace"]) == b"\xff\xfe\x00"
    assert json.loads(letter.headers["dlq-base64-headers"]) == ["trace"]
    assert (letter.headers["x-null"], letter.headers["ok"]) == ("", "好")


def test_a_reason_with_a_lone_surrogate_can_still_be_published() -> None:
    letter = letter_for(record(b"{}"), "bad \udcff input", "g")
    assert letter.headers["dlq-reason"].encode() == b"bad \\udcff input"


def test_a_value_too_large_is_cut_to_a_prefix_with_its_size_and_digest() -> None:
    huge = b"A" * 1_048_610
    letter = letter_for(record(huge), "invalid Item", "g")
    assert letter.value == huge[:VALUE_PREFIX] and letter.key == b"k"
    assert letter.headers["dlq-truncated"] == "value"
    assert letter.headers["dlq-original-size"] == "1048610"
    assert letter.headers["dlq-original-sha256"] == hashlib.sha256(huge).hexdigest()
    assert _fits_one_request(letter)


def test_a_key_too_large_is_cut_with_its_size_and_digest() -> None:
    key = b"K" * 1_100_000
    letter = letter_for(record(b"{}", key=key), "invalid Item", "g")
    assert letter.key == key[:KEY_PREFIX] and letter.value == b"{}"
    assert letter.headers["dlq-truncated"] == "key"
    assert letter.headers["dlq-original-key-size"] == str(len(key))
    assert letter.headers["dlq-original-key-sha256"] == hashlib.sha256(key).hexdigest()
    assert _fits_one_request(letter)


def test_headers_too_large_keep_those_that_fit_in_order_and_say_how_many_there_were() -> None:
    raw = [(f"h{i}", b"v" * 100_000) for i in range(12)] + [("big-name" * 20_000, b"x"), ("last", b"small")]
    letter = letter_for(record(b"{}", headers=raw), "invalid Item", "g")
    kept = [k for k in letter.headers if not k.startswith("dlq-")]
    assert kept == ["last"]  # each 100 kB header and the 160 kB name are over the budget alone
    assert letter.headers["dlq-truncated"] == "headers"
    assert letter.headers["dlq-original-header-count"] == "14"
    assert sum(len(k) + len(v) for k, v in letter.headers.items()) < HEADERS_KEPT + 20_000
    assert _fits_one_request(letter)


def test_everything_too_large_at_once_with_a_long_chinese_reason_still_fits_one_request() -> None:
    raw = [(f"h{i}", b"\xff" * 30_000) for i in range(40)]
    letter = letter_for(record(b"A" * 2_000_000, key=b"K" * 500_000, headers=raw), "无法处理" * 2000, "g")
    assert letter.headers["dlq-truncated"] == "value,key,headers"
    assert _fits_one_request(letter)
    assert json.loads(letter.headers["dlq-base64-headers"]) == [
        k for k in letter.headers if k.startswith("h")
    ]


class Broker:
    """Publishes by recording; refuses (raises) what it is told to, once each."""

    def __init__(self, *refusals: BaseException) -> None:
        self.refusals = list(refusals)
        self.published: list[tuple[bytes | None, bytes | None, dict[str, str]]] = []

    async def publish(
        self, value: bytes | None, *, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        assert topic == "t.dlq"
        if self.refusals:
            raise self.refusals.pop(0)
        self.published.append((value, key, headers))


async def test_a_record_the_broker_still_refuses_goes_as_a_short_stub_with_the_reason_and_digest() -> None:
    broker = Broker(MessageSizeTooLargeError("the broker's own limit is lower"))
    value = b"V" * 900_000
    await dead_letter(broker, record(value), "invalid Item: too long", "g")  # type: ignore[arg-type]
    [(stub, key, headers)] = broker.published
    assert stub == value[:STUB_PREFIX] and key is None
    assert headers["dlq-reason"] == "invalid Item: too long" and headers["dlq-consumer-group"] == "g"
    assert headers["dlq-original-sha256"] == hashlib.sha256(value).hexdigest()
    assert "MessageSizeTooLargeError" in headers["dlq-publish-error"]


async def test_a_broker_outage_is_raised_so_the_record_comes_again_rather_than_being_skipped() -> None:
    broker = Broker(KafkaConnectionError("no broker"))
    with pytest.raises(KafkaConnectionError):
        await dead_letter(broker, record(b"{}"), "invalid Item", "g")  # type: ignore[arg-type]
    assert broker.published == []


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""


async def test_a_value_of_a_hundred_thousand_bad_keys_is_one_short_reason_in_the_letter_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    value = json.dumps({str(i): 0 for i in range(100_000)}).encode()
    with pytest.raises(ValidationError) as refused:
        Strict.model_validate_json(value)
    reason = f"invalid Strict: {problems_of(refused.value)}"
    assert reason.startswith("invalid Strict: 100000 problems, the first 10:") and len(reason) < 3_000
    broker = Broker()
    with caplog.at_level(logging.ERROR):
        await dead_letter(broker, record(value), reason + "x" * 50_000, "g")  # type: ignore[arg-type]
    [(_, _, headers)] = broker.published
    assert len(headers["dlq-reason"]) < REASON_LIMIT + 100 and headers["dlq-reason"].endswith(
        "more characters)"
    )
    assert max(len(r.getMessage()) for r in caplog.records) < REASON_LIMIT + 200
