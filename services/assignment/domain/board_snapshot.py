"""A board's state as a document, so a process can start from a snapshot and replay only the tail.

A snapshot is a cache: the stream stays the truth. A snapshot of another schema, or one that does not
validate, is ignored and the board is replayed from version 1.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from services.assignment.domain.board import AssignmentBoard
from services.assignment.domain.roster import EnterpriseFile, Staff
from shared.contracts.assignment import NoticePublished

SNAPSHOT_SCHEMA = 3  # 3: enterprises served as a set, when each was assigned; 2: leaves by id, departures; bump when the board's state changes shape: older snapshots are then ignored


class BoardState(BaseModel):
    """Everything an AssignmentBoard holds, in a JSON-able form."""

    schema_version: int = SNAPSHOT_SCHEMA
    bureau: str
    version: int
    capacity: int
    capacity_set: bool
    staff: dict[str, Staff]
    files: dict[str, EnterpriseFile]
    approvals: dict[str, tuple[str, str]]
    assigned_enterprises: set[str]
    notices: dict[str, NoticePublished]
    case_file: dict[str, str]
    waiting: list[str]  # queue order, oldest first


def snapshot_of(board: AssignmentBoard) -> dict[str, Any]:
    """Return the board's state as a JSON-able document."""
    document = BoardState(
        bureau=board.bureau,
        version=board.version,
        capacity=board.capacity,
        capacity_set=board.capacity_set,
        staff=board.staff,
        files=board.files,
        approvals=board.approvals,
        assigned_enterprises=board.assigned_enterprises,
        notices=board.notices,
        case_file=board._case_file,
        waiting=list(board._waiting),
    ).model_dump(mode="json")
    # A set's order depends on its history; sorted, equal boards give equal documents.
    document["assigned_enterprises"].sort()
    for person in document["staff"].values():
        person["serving"].sort()
        person["served"].sort()
    return document


def board_from_snapshot(document: dict[str, Any], default_capacity: int) -> AssignmentBoard | None:
    """Rebuild a board from a snapshot document; None when it is of another schema or invalid."""
    if document.get("schema_version") != SNAPSHOT_SCHEMA:
        return None
    try:
        state = BoardState.model_validate(document)
    except ValidationError:
        return None
    # The default capacity comes from settings, not events: only a recorded setting is restored.
    board = AssignmentBoard(state.bureau, state.capacity if state.capacity_set else default_capacity)
    board.capacity_set, board.version = state.capacity_set, state.version
    board.staff, board.files, board.approvals = state.staff, state.files, state.approvals
    board.assigned_enterprises, board.notices = state.assigned_enterprises, state.notices
    board._case_file = state.case_file
    board._waiting = dict.fromkeys(state.waiting)
    return board
