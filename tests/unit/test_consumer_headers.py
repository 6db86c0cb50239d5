"""faststream parses records with non-UTF-8 or null header values through UnreadableHeaders: the message keeps
the original records, and the one with a bad value is named with the reason on that message only; ordinary
records are parsed by faststream alone."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaBatchParser, AioKafkaParser

from shared.messaging.kafka import UnreadableHeaders


def record(offset: int, headers: list[tuple[str, bytes | None]]) -> ConsumerRecord:
    return ConsumerRecord("t", offset % 2, offset, 0, 0, b"k", b"{}", None, 1, 2, headers)


GOOD = [("event_id", b"e-1"), ("bureau", "财政局".encode())]


async def test_faststreams_own_parser_still_fails_on_a_bad_header_value_which_is_why_it_is_wrapped() -> None:
    # If this passes after an upgrade, faststream tolerates such headers itself and UnreadableHeaders can go.
    with pytest.raises(UnicodeDecodeError):
        await AioKafkaParser(KafkaMessage, None).parse_message(record(1, [("trace", b"\xff")]))


async def test_a_batch_with_a_bad_header_value_parses_and_names_only_that_record_once() -> None:
    parser, headers = AioKafkaBatchParser(KafkaMessage, None), UnreadableHeaders()
    records = (record(1, GOOD), record(2, [*GOOD, ("trace", b"\xff\xfe\x00")]), record(3, [("x-null", None)]))

    message = await headers.parse(records, parser.parse_batch)

    assert message.raw_message is records  # offsets, nack and the DLQ see the records as received
    assert message.batch_headers[1]["trace"] == "\\xff\\xfe\x00"
    assert message.batch_headers[2]["x-null"] == ""
    assert [headers.problem(message, r) for r in records] == [None, "header 'trace' is not UTF-8", None]
    # Kept on that message alone: another poll's record at the same offset (a topic made again) is not named.
    again = await headers.parse((record(2, GOOD),), parser.parse_batch)
    assert headers.problem(again, again.raw_message[0]) is None


async def test_one_record_with_several_bad_values_names_each() -> None:
    parser, headers = AioKafkaParser(KafkaMessage, None), UnreadableHeaders()
    bad = record(7, [("a", b"\xff"), ("event_id", b"ok"), ("b", b"\xc3(")])

    message = await headers.parse(bad, parser.parse_message)

    assert message.raw_message is bad and message.headers["event_id"] == "ok"
    assert headers.problem(message, bad) == "headers 'a', 'b' are not UTF-8"


async def test_ordinary_records_are_parsed_by_faststream_alone() -> None:
    calls: list[Any] = []
    parser, headers = AioKafkaBatchParser(KafkaMessage, None), UnreadableHeaders()

    async def counted(msg: Any) -> Any:
        calls.append(msg)
        return await parser.parse_batch(msg)

    records = (record(1, GOOD), record(2, GOOD))
    message = await headers.parse(records, counted)

    assert calls == [records] and message.raw_message is records
    assert headers.problem(message, records[0]) is None
