"""The canonical form of an event and the link hash are fixed, so a chain verifies anywhere, any time."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from bson import Decimal128

from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.chain import (
    GENESIS,
    canonical,
    document_fields,
    envelope_fields,
    event_hash,
    link_hash,
)
from shared.eventstore.mongo import to_document

EVENT_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
CORRELATION = uuid.UUID("00000000-0000-0000-0000-000000000002")
AT = datetime(2026, 11, 27, 2, 57, 19, 123000, tzinfo=UTC)


def envelope(**changes: object) -> EventEnvelope:
    base = EventEnvelope(
        event_id=EVENT_ID,
        event_type="CaseOpened",
        schema_version=1,
        stream_id="case-1",
        stream_type="case",
        version=1,
        position=7,
        bureau="finance",
        occurred_at=AT,
        recorded_at=AT,
        actor=Actor(kind="person", id="s-1", bureau="finance", staff_id="s-1", name="张三", post="副局长"),
        correlation_id=CORRELATION,
        data={"title": "补贴资金拨付", "amount": "7000.00"},
    )
    return base.model_copy(update=changes)


def test_canonical_form_is_sorted_compact_utf8_json_of_the_envelope_fields() -> None:
    text = canonical(envelope_fields(envelope())).decode()
    assert text.startswith('{"actor":{"bureau":"finance","id":"s-1","kind":"person","name":"张三"')
    assert '"recorded_at":"2026-11-27T02:57:19.123000+00:00"' in text
    assert '"event_id":"00000000-0000-0000-0000-000000000001"' in text
    assert '"causation_id":null' in text and '"position":7' in text
    assert ", " not in text and ": " not in text


def test_the_same_moment_in_another_offset_gives_the_same_bytes() -> None:
    shanghai = AT.astimezone(timezone(timedelta(hours=8)))
    assert canonical(envelope_fields(envelope(occurred_at=shanghai))) == canonical(
        envelope_fields(envelope())
    )


def test_decimals_are_written_as_strings_whatever_their_bson_form() -> None:
    plain = canonical({"data": {"amount": Decimal("7000.10")}})
    stored = canonical({"data": {"amount": Decimal128("7000.10")}})
    assert plain == stored and b'"amount":"7000.10"' in plain


def test_a_stored_document_hashes_the_same_as_its_envelope() -> None:
    e = envelope()
    doc = to_document(e, "cmd-1", 0)
    doc.pop("pending")
    # An actor stored before its newer fields existed hashes as one read back with them null.
    doc["actor"] = {
        "kind": "person",
        "id": "s-1",
        "bureau": "finance",
        "staff_id": "s-1",
        "name": "张三",
        "post": "副局长",
    }
    assert canonical(document_fields(doc, position=7)) == canonical(envelope_fields(e))


def test_the_link_hash_is_sha256_of_the_previous_hash_and_the_canonical_bytes() -> None:
    body = canonical(envelope_fields(envelope()))
    assert link_hash(GENESIS, body) == hashlib.sha256(GENESIS.encode() + body).hexdigest()


def test_any_changed_field_or_predecessor_changes_the_hash() -> None:
    original = event_hash(GENESIS, envelope_fields(envelope()))
    changes: list[dict[str, object]] = [
        {"position": 8},
        {"version": 2},
        {"bureau": "innovation"},
        {"data": {"title": "补贴资金拨付", "amount": "7000.01"}},
        {"actor": Actor(kind="person", id="s-2", bureau="finance")},
        {"recorded_at": AT + timedelta(milliseconds=1)},
        {"causation_id": CORRELATION},
    ]
    for change in changes:
        assert event_hash(GENESIS, envelope_fields(envelope(**change))) != original, change
    assert event_hash("1" * 64, envelope_fields(envelope())) != original
