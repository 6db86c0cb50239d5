"""Dead-lettering: a record that can never be handled goes to its topic's DLQ, whatever it carries.

The DLQ record keeps the value, key and headers as received wherever Kafka lets it. Two kinds of record could
not be published as they came, and dead-lettering them failed again on every redelivery (the consumer rewound
and retried forever): header values that are not UTF-8 (faststream publishes headers as text) and records too
large for one produce request. The first are kept exactly, as base64; the second are cut to a bounded prefix
with the original size and SHA-256 in headers. A broker outage still raises, so the record comes again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from shared.contracts.topics import dlq
from shared.metrics import metrics

log = logging.getLogger(__name__)
# What one DLQ record may weigh: under aiokafka's max_request_size (1 MiB), which a record just over it (Tansu
# accepts 1,048,610 bytes) plus the dlq-* headers would exceed.
RECORD_LIMIT = 1_000_000
VALUE_PREFIX = 64 * 1024  # kept of a value that does not fit: enough to recognise it, bounded
KEY_PREFIX = 1024
HEADERS_KEPT = 64 * 1024  # bytes of original headers kept when they do not fit, in order
STUB_PREFIX = 1024  # the value prefix of the last-resort record the broker refused the fitted one for
REASON_LIMIT = (
    4000  # characters of a reason kept, in the header and in the log: a crafted message cannot fill a disk
)
# The broker or the client refuses this record for what it is: another try cannot succeed, a smaller one can.
REFUSED = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
    UnicodeError,
)
SOURCE_HEADERS = (
    "dlq-reason",
    "dlq-source-topic",
    "dlq-source-partition",
    "dlq-source-offset",
    "dlq-consumer-group",
    "dlq-failed-at",
)


@dataclass
class Letter:
    """One DLQ record as it will be published: faststream takes header values as text."""

    value: bytes | None
    key: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


def _text(value: str) -> str:
    # A lone surrogate (e.g. from an exception quoting undecodable input) would make publishing fail again.
    return value.encode("utf-8", "backslashreplace").decode()


def _weight(headers: dict[str, str]) -> int:
    # Each header also costs its two length varints (and its count): bounded by 10 bytes.
    return sum(len(k.encode()) + len(v.encode()) + 10 for k, v in headers.items())


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def original_headers(raw: Any) -> tuple[dict[str, str], set[str]]:
    """Return the record's headers as text and the names of those given as base64 (not UTF-8)."""
    headers: dict[str, str] = {}
    binary: set[str] = set()
    for name, value in raw or ():
        name = _text(str(name))
        binary.discard(name)  # a repeated name: the last value is kept, as a dict of headers does
        if value is None:
            headers[name] = ""  # a null header value: faststream publishes no null, the nearest is empty
            continue
        try:
            headers[name] = bytes(value).decode()
        except UnicodeDecodeError:
            headers[name] = base64.b64encode(bytes(value)).decode()
            binary.add(name)
    return headers, binary


def _fit(value: bytes | None, key: bytes | None, originals: dict[str, str]) -> tuple[Letter, dict[str, str]]:
    """Cut what does not fit one produce request to bounded prefixes; return it and headers saying what."""
    cut: list[str] = []
    notes: dict[str, str] = {}
    if value is not None and len(value) > VALUE_PREFIX:
        notes |= {"dlq-original-size": str(len(value)), "dlq-original-sha256": _digest(value)}
        value = value[:VALUE_PREFIX]
        cut.append("value")
    if key is not None and len(key) > KEY_PREFIX:
        notes |= {"dlq-original-key-size": str(len(key)), "dlq-original-key-sha256": _digest(key)}
        key = key[:KEY_PREFIX]
        cut.append("key")
    kept: dict[str, str] = {}
    budget = HEADERS_KEPT
    for name, text in originals.items():
        if (weight := _weight({name: text})) <= budget:
            kept[name] = text
            budget -= weight
    if len(kept) < len(originals):
        notes["dlq-original-header-count"] = str(len(originals))
        cut.append("headers")
    notes["dlq-truncated"] = ",".join(cut) or "none"
    return Letter(value, key, kept), notes


def letter_for(record: Any, reason: str, group: str) -> Letter:
    """Return the DLQ record of a record: as received where possible, fitted to one produce request."""
    notes: dict[str, str]
    originals, binary = original_headers(record.headers)
    ours = {
        "dlq-reason": _text(cut(reason)),
        "dlq-source-topic": record.topic,
        "dlq-source-partition": str(record.partition),
        "dlq-source-offset": str(record.offset),
        "dlq-consumer-group": group,
        "dlq-failed-at": datetime.now(UTC).isoformat(),
    }
    value, key = record.value, record.key
    letter, notes = Letter(value, key, originals), {}
    if len(value or b"") + len(key or b"") + _weight(originals) + _weight(ours) > RECORD_LIMIT:
        letter, notes = _fit(value, key, originals)
    if named := sorted(binary.intersection(letter.headers)):
        notes["dlq-base64-headers"] = json.dumps(named, ensure_ascii=False)
    letter.headers.update({**ours, **notes})
    return letter


def _stub(letter: Letter, record: Any, error: BaseException) -> Letter:
    """The last resort after the broker refused the fitted record: a short prefix and the dlq-* headers."""
    value = record.value
    notes = {"dlq-truncated": "value,key,headers", "dlq-publish-error": _text(repr(error))[:1000]}
    if value is not None:
        notes |= {"dlq-original-size": str(len(value)), "dlq-original-sha256": _digest(value)}
    ours = {k: letter.headers[k] for k in SOURCE_HEADERS if k in letter.headers}
    return Letter(value[:STUB_PREFIX] if value is not None else None, None, {**ours, **notes})


def problems_of(exc: Exception, shown: int = 10) -> str:
    """Return why a value did not validate: pydantic's first `shown` problems and how many there are in all (a
    value of 120,000 bad keys is one short reason, not 120,000 lines)."""
    if not isinstance(exc, ValidationError) or exc.error_count() <= shown:
        return str(exc)
    first = ValidationError.from_exception_data(exc.title, exc.errors()[:shown])  # type: ignore[arg-type]
    return f"{exc.error_count()} problems, the first {shown}: {first}"


def cut(reason: str) -> str:
    """Return a reason as kept: at most REASON_LIMIT characters, saying how many more there were."""
    if len(reason) <= REASON_LIMIT:
        return reason
    return f"{reason[:REASON_LIMIT]}… ({len(reason) - REASON_LIMIT} more characters)"


async def dead_letter(broker: KafkaBroker, record: Any, reason: str, group: str) -> None:
    """Publish a record, its value, key and headers as received, to its topic's DLQ with the reason.

    A record too large is cut (headers say so); one the broker still refuses goes as a short stub; an outage
    raises, so the record is not committed and comes again.
    """
    log.error(
        "%s: dead-lettering %s[%s]@%s: %s", group, record.topic, record.partition, record.offset, cut(reason)
    )
    letter = letter_for(record, reason, group)
    topic = dlq(record.topic)
    try:
        await broker.publish(letter.value, topic=topic, key=letter.key, headers=letter.headers)
    except REFUSED as exc:
        log.error(
            "%s: the DLQ refused %s[%s]@%s (%r): sending a stub",
            group,
            record.topic,
            record.partition,
            record.offset,
            exc,
        )
        stub = _stub(letter, record, exc)
        await broker.publish(stub.value, topic=topic, key=stub.key, headers=stub.headers)
    metrics().dead_letters.labels(record.topic, group).inc()
    metrics().kafka_produced.labels(topic).inc()
