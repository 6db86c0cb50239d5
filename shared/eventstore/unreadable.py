"""Documents in the events collection that cannot be read as an event, and where they are set aside.

The recorder writes only valid envelopes, so such a document was written past it (a hand edit, a script, a
migration gone wrong). The sequencer must not number it: a position given to something no reader can parse
stalls the relay on it for good, and deleting it afterwards leaves a break in the chain. So the sequencer
checks each pending document it read (in memory, no extra read) and moves an unreadable one out of `events`
into `events_rejected`, untouched under `document`, with the reason: it frees the (stream_id, version) it
held, and no reader of the store (streams, the global order, rebuilds, the audit) ever sees it.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import bson
import bson.errors
from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DocumentTooLarge, WriteError

from shared.metrics import metrics

log = logging.getLogger(__name__)
REJECTED = "events_rejected"
# Written only by the sequencer, together with `position`: a pending document carrying one was not written
# by the recorder, and a position taken in advance would collide with the one the sequencer gives.
SEQUENCER_FIELDS = ("position", "hash", "prev_hash")
# Numbering adds a position and two hashes (under 200 bytes) to a document: one this close to MongoDB's 16 MiB
# could not take them, and would fail every round. The recorder's events are far smaller (MAX_EVENT_BYTES of
# JSON, though BSON may take several times that for long arrays): the margin is MongoDB's, not the recorder's.
LARGEST_DOCUMENT = 16 * 1024 * 1024 - 64 * 1024


def why_unreadable(exc: ValidationError) -> str:
    """Return a validation error in one line: each field's path and what is wrong with it."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in exc.errors())[:2000]


class UnreadableEvent(Exception):
    """A numbered event document that cannot be read as an envelope (edited after it was numbered)."""

    def __init__(self, doc: dict[str, Any], exc: ValidationError) -> None:
        super().__init__(
            f"the event at position {doc.get('position')} (event id {doc.get('_id')!r}) cannot be read as"
            f" an envelope: {why_unreadable(exc)}"
        )
        self.position = doc.get("position")
        self.event_id = doc.get("_id")


def structural_fault(doc: dict[str, Any]) -> str | None:
    """Return what makes a pending document unfit to be numbered, short of reading it as an envelope, or None.

    The envelope reading is lenient ("4" reads as version 4), but the unique (stream_id, version) index and
    the sequencer's ordering take the stored values as they are: a version stored as text is another key.
    """
    size = len(bson.encode(doc))
    if size > LARGEST_DOCUMENT:
        return f"{size:,} bytes: too close to MongoDB's 16 MiB to be numbered (at most {LARGEST_DOCUMENT:,})"
    taken = [name for name in SEQUENCER_FIELDS if name in doc]
    if taken:
        return f"a pending document carries {', '.join(taken)}, which only the sequencer writes"
    if not isinstance(doc.get("version"), int) or isinstance(doc.get("version"), bool):  # Int64 is an int
        return f"version: stored as {type(doc.get('version')).__name__}, not an integer"
    if not isinstance(doc.get("stream_id"), str):
        return f"stream_id: stored as {type(doc.get('stream_id')).__name__}, not a string"
    return None


async def set_aside(events: AsyncCollection, rejected: AsyncCollection, doc_id: Any, reason: str) -> None:
    """Move one pending document from `events` to `events_rejected` with the reason, log and count it.

    Copy first, then delete: a crash in between leaves it pending, and the next round copies it again over
    the same `_id` (idempotent) and deletes it. Three commands, only ever for a document that is not an event.
    """
    whole = await events.find_one({"_id": doc_id, "pending": {"$exists": True}})
    if whole is None:
        return  # another sequencer moved it meanwhile
    kept = {"document": whole, "reason": reason, "rejected_at": datetime.now(UTC)}
    try:
        await rejected.replace_one({"_id": doc_id}, kept, upsert=True)
    except (DocumentTooLarge, bson.errors.BSONError, WriteError):
        # Too large to keep whole beside the reason: keep what identifies it, and the order goes on.
        raw = bson.encode(whole)
        stub = {k: whole.get(k) for k in ("stream_id", "stream_type", "version", "event_type", "bureau")}
        digest = {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        await rejected.replace_one({"_id": doc_id}, {**kept, "document": {**stub, **digest}}, upsert=True)
    if (await events.delete_one({"_id": doc_id, "pending": {"$exists": True}})).deleted_count == 0:
        # Another sequencer got there first (a stale lease): numbered, it is in the global order and no copy
        # may say otherwise; set aside by it, its copy stands (and it counted it).
        if await events.find_one({"_id": doc_id}, {"_id": 1}) is not None:
            await rejected.delete_one({"_id": doc_id})
        return
    metrics().eventstore_rejected_documents.inc()
    log.error(
        "event store: document %r (stream %r, version %r) cannot be read as an event and was set aside"
        " unnumbered in %s: %s",
        doc_id,
        whole.get("stream_id"),
        whole.get("version"),
        REJECTED,
        reason,
    )
