"""A bureau's queue of waiting enterprises, kept so that no board event costs more as the queue grows.

Each waiting enterprise is one document (`case_story_queue`, id `<board stream>/<credit code>`), written only when
that enterprise's place changes. The board state keeps three small numbers instead of the queue: `joined` (how
many enterprises ever joined: each joins with the next ordinal), `head` (the ordinal first in line) and `holes`
(ordinals above the head that left out of turn). Every ordinal from the head to `joined` is either waiting or a
hole, so the enterprises ahead of ordinal n are `n - head - (holes below n)`: a place is read from two documents,
however long the queue. Served in turn, the holes stay empty; they hold only enterprises that left out of turn.

An enterprise that leaves keeps its document, marked not waiting, so that a late writer replaying an older event
cannot bring it back (every write is guarded by the board version, see story_store.py).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.contracts.assignment import CaseLeftQueue, ConciergeAssigned, EnterpriseQueued, FallbackApproved
from shared.contracts.envelope import EventEnvelope
from shared.contracts.events import is_known_event, parse_event_data

Board = dict[str, Any]
Entry = dict[str, Any]
QUEUE_FIELDS = ("joined", "head", "holes")


def entry_id(board_id: str, credit_code: str) -> str:
    """Return the id of an enterprise's queue document on a board."""
    return f"{board_id}/{credit_code}"


def queue_codes(envelope: EventEnvelope) -> list[str]:
    """Return the credit codes whose queue documents folding this board event reads."""
    if not is_known_event(envelope.event_type):
        return []
    payload = parse_event_data(envelope.event_type, envelope.schema_version, envelope.data)
    return [code] if (code := _code(payload)) else []


def _code(payload: BaseModel) -> str | None:
    if isinstance(payload, FallbackApproved):
        return payload.credit_code
    if isinstance(payload, ConciergeAssigned | EnterpriseQueued | CaseLeftQueue):
        return payload.enterprise.credit_code
    return None


def waiting(state: Board, credit_code: str) -> Entry | None:
    """Return the enterprise's queue entry while it waits (the store has loaded it if it exists)."""
    found = state["queue"].get(credit_code)
    return found if found is not None and found["waiting"] else None


def join(
    state: Board, envelope: EventEnvelope, enterprise: dict[str, str], case_ids: list[str], reason: str
) -> None:
    """Put an enterprise at the end of the queue with the next ordinal."""
    state["joined"] += 1
    code = enterprise["credit_code"]
    state["queue"][code] = {
        "_id": entry_id(envelope.stream_id, code),
        "board": envelope.stream_id,
        "bureau": envelope.bureau,
        "credit_code": code,
        "enterprise": enterprise["name"],
        "case_ids": case_ids,
        "queued_at": envelope.occurred_at,
        "reason": reason,
        "ordinal": state["joined"],
        "waiting": True,
        "board_version": envelope.version,
    }


def change(state: Board, entry: Entry, envelope: EventEnvelope, **fields: Any) -> None:
    """Replace a waiting enterprise's entry with changed fields (entries are never changed in place)."""
    state["queue"][entry["credit_code"]] = {**entry, **fields, "board_version": envelope.version}


def leave(state: Board, entry: Entry, envelope: EventEnvelope) -> None:
    """Take an enterprise out of the queue: the head moves up, or its ordinal becomes a hole."""
    change(state, entry, envelope, waiting=False)
    ordinal, holes = entry["ordinal"], state["holes"]
    if ordinal != state["head"]:
        insort(holes, ordinal)
        return
    state["head"] += 1
    while holes and holes[0] == state["head"]:
        holes.pop(0)
        state["head"] += 1


def place(entry: Entry | None, board: Board | None) -> dict[str, Any] | None:
    """Return a waiting entry's place on its board, or None when it does not wait (as far as both documents say)."""
    if entry is None or board is None or not entry.get("waiting") or "head" not in board:
        return None
    ordinal, holes = entry["ordinal"], board["holes"]
    if ordinal < board["head"] or ordinal > board["joined"]:
        return None  # the two documents were read at different moments: it left, or the board is behind
    index = bisect_left(holes, ordinal)
    if index < len(holes) and holes[index] == ordinal:
        return None
    ahead = ordinal - board["head"] - index
    return {
        "position": ahead + 1,
        "enterprises_ahead": ahead,
        "queued_at": entry["queued_at"],
        "reason": entry["reason"],
    }


def queue_place(board: Board | None, case_id: str) -> dict[str, Any] | None:
    """Return the case's place from a board state holding its entries (a fold in memory), or None."""
    for entry in (board or {}).get("queue", {}).values():
        if entry["waiting"] and case_id in entry["case_ids"]:
            return place(entry, board)
    return None


def from_document(doc: Board | None) -> tuple[Board | None, list[Entry]]:
    """Return a stored board as the fold takes it, and the queue entries an older board kept inside it.

    Before the queue had its own documents, a board held the whole queue as a list. Such a board is read as its
    entries (to write) and the three numbers, in the same order.
    """
    if doc is None:
        return None, []
    board = {key: value for key, value in doc.items() if key != "queue"}
    if not isinstance(doc.get("queue"), list):
        return {**board, "queue": {}}, []
    entries = [_entry_of_list(doc, ordinal, item) for ordinal, item in enumerate(doc["queue"], 1)]
    queue = {e["credit_code"]: e for e in entries}
    return {**board, "joined": len(entries), "head": 1, "holes": [], "queue": queue}, entries


def to_document(board: Board) -> Board:
    """Return the board state as stored: without its entries, which have their own documents."""
    return {key: value for key, value in board.items() if key != "queue"}


def _entry_of_list(doc: Board, ordinal: int, item: dict[str, Any]) -> Entry:
    queued_at: datetime = item["queued_at"]
    return {
        "_id": entry_id(doc["_id"], item["credit_code"]),
        "board": doc["_id"],
        "bureau": doc["bureau"],
        "credit_code": item["credit_code"],
        "enterprise": item["enterprise"],
        "case_ids": list(item["case_ids"]),
        "queued_at": queued_at,
        "reason": item["reason"],
        "ordinal": ordinal,
        "waiting": True,
        "board_version": doc["version"],
    }
