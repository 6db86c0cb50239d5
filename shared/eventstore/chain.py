"""The hash chain over the global order: canonical form of an event and the link hash.

Why a chain: a stored event edited, deleted or moved afterwards must be detectable. Each event's hash
covers its canonical envelope (which includes its position) and the hash of the event before it, so
changing any event changes every hash after it, and the head hash (kept with the head watermark, and
printed by `make verify`) pins the whole record. The sequencer writes the hash together with the
position; readers never compute it on the fly, they only check it.

Canonical form (version 1): the envelope's fields below as a JSON object with sorted keys, compact
separators, UTF-8 (not ASCII-escaped); datetimes as UTC ISO 8601 with microseconds
(`2026-11-27T02:57:19.123000+00:00`), Decimals as their string, UUIDs as their string; `actor` without
its null fields (so an actor stored before a field existed hashes the same as one read back with it
null). Link hash = SHA-256 over the previous hash (64 lowercase hex characters, ASCII) followed by
the canonical bytes, as lowercase hex. The first chained event links to GENESIS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from bson import Decimal128

from shared.contracts.envelope import EventEnvelope

GENESIS = "0" * 64  # the "previous hash" of the first chained event
CANONICAL_VERSION = 1
CHAINED_FIELDS = (
    "event_id",
    "event_type",
    "schema_version",
    "stream_id",
    "stream_type",
    "version",
    "position",
    "bureau",
    "occurred_at",
    "recorded_at",
    "actor",
    "correlation_id",
    "causation_id",
    "data",
)


def _scalar(value: Any) -> Any:
    """Return the JSON form of a value json cannot write itself, normalised so an event always gives the same bytes."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # stored dates are UTC
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):  # a mapping that is not a dict
        return dict(value)
    return str(value)  # Decimal, UUID, ObjectId and anything else: their string


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_scalar)


def canonical(fields: Mapping[str, Any]) -> bytes:
    """Return the canonical bytes of an event given its envelope fields (missing ones count as null)."""
    chosen = {name: fields.get(name) for name in CHAINED_FIELDS}
    actor = chosen["actor"]
    if isinstance(actor, Mapping):
        chosen["actor"] = {k: v for k, v in actor.items() if v is not None}
    # json writes dicts, lists, tuples, str, int, float, bool and None itself (in C); _scalar does the rest.
    return _ENCODER.encode(chosen).encode()


def link_hash(previous: str, canonical_bytes: bytes) -> str:
    """Return the hash of an event: SHA-256 over the previous event's hash and its canonical bytes."""
    return hashlib.sha256(previous.encode("ascii") + canonical_bytes).hexdigest()


def envelope_fields(envelope: EventEnvelope) -> dict[str, Any]:
    """Return the chained fields of an envelope."""
    return envelope.model_dump(mode="python", include=set(CHAINED_FIELDS))


def document_fields(doc: Mapping[str, Any], position: int | None = None) -> dict[str, Any]:
    """Return the chained fields of a stored event document (its `_id` is the event id)."""
    fields = {name: doc.get(name) for name in CHAINED_FIELDS if name != "event_id"}
    fields["event_id"] = doc.get("_id")
    if position is not None:
        fields["position"] = position
    return fields


def event_hash(previous: str, fields: Mapping[str, Any]) -> str:
    """Return the hash of an event with these fields, linked after `previous`."""
    return link_hash(previous, canonical(fields))


@dataclass(frozen=True)
class ChainedEvent:
    """One event as the chain stores it: its fields, its hash and the hash it links to."""

    position: int
    event_id: str
    bureau: str | None
    fields: Mapping[str, Any]
    hash: str | None
    prev_hash: str | None


@dataclass(frozen=True)
class ChainHead:
    """The head watermark: the last visible position, its hash, and where the chain began."""

    position: int
    hash: str
    chain_start: int  # positions below it were recorded before the chain existed


class ChainSource(Protocol):
    """A store whose chain can be walked (the MongoDB store, the in-memory fake)."""

    async def chain_head(self) -> ChainHead:
        """Return the head watermark with its hash."""
        ...

    async def stored_hash(self, position: int) -> str | None:
        """Return the stored hash of the event at a position, or None when there is none."""
        ...

    def chained_events(self, after: int, up_to: int) -> AsyncIterator[ChainedEvent]:
        """Yield stored events with positions in (after, up_to], in position order, a batch at a time."""
        ...
