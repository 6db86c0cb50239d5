"""The case's story from the assignment board: a pure fold of the board's events.

Why a fold of the board and not of the case: the explanation of a decision (who was chosen, who else was
considered and why not, the rule version, the approving leader) and the bureau's queue live only on the
board stream (`board-<bureau>`). The fold keeps a small board state (names and posts of the roster, leadership
approvals, where the queue stands) and yields, for each board event, a note for every case it concerns. Notes are
folded into one story document per case. The waiting enterprises each have an entry of their own (queue.py):
the board state holds, under "queue", only the entries the event reads or changes, which the store loads first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import singledispatch
from typing import Any

from pydantic import BaseModel

from services.casequery.projections import queue
from services.casequery.projections.queue import Board, queue_place
from shared.contracts.assignment import (
    CandidateConsidered,
    CaseJoinedEnterprise,
    CaseLeftEnterprise,
    CaseLeftQueue,
    ConciergeAssigned,
    ConciergeReassigned,
    EnterpriseQueued,
    FallbackApproved,
    StaffMemberAdded,
    StaffMemberChanged,
)
from shared.contracts.envelope import EventEnvelope
from shared.contracts.events import is_known_event, parse_event_data

__all__ = ["Board", "CaseNote", "Story", "empty_board", "fold_board", "fold_story", "queue_place"]

Story = dict[str, Any]

# Decision kinds, with the label a user reads (Chinese first).
LABELS = {
    "assigned": "分配专责店小二 (concierge assigned)",
    "fallback_assigned": "经领导批准分配 (assigned with leadership approval)",
    "handed_over": "按规则移交 (handed over by the rules)",
    "reassigned": "改派专责店小二 (concierge reassigned)",
    "joined_enterprise": "沿用企业的专责店小二 (the enterprise keeps its concierge)",
    "queued": "排队等待专责店小二 (waiting for a concierge)",
    "left_queue": "等待中已解决，退出队列 (resolved while waiting: left the queue)",
    "left_enterprise": "案件已解决，离开专责店小二名下 (resolved: left the concierge's enterprise)",
    "fallback_approved": "领导批准非管理岗人员担任 (leadership approved a fallback concierge)",
}
# Decisions that say who serves the case now (the others are history only).
CURRENT = frozenset(
    {"assigned", "fallback_assigned", "handed_over", "reassigned", "joined_enterprise", "queued"}
)


@dataclass(frozen=True)
class CaseNote:
    """What one board event says about one case: a history entry carrying the decision."""

    case_id: str
    entry: dict[str, Any]

    @property
    def current(self) -> bool:
        """Tell whether this decision becomes the case's assignment section."""
        return str(self.entry["decision"]["kind"]) in CURRENT


def empty_board(stream_id: str, bureau: str) -> Board:
    """Return the board state before its first event."""
    board = {"_id": stream_id, "bureau": bureau, "version": 0, "staff": {}, "approvals": {}, "queue": {}}
    return {**board, "joined": 0, "head": 1, "holes": []}


def fold_board(board: Board | None, envelope: EventEnvelope) -> tuple[Board, list[CaseNote]]:
    """Return the board state after one board event and the notes it yields for cases (pure)."""
    state = board or empty_board(envelope.stream_id, envelope.bureau)
    state = {**state, "staff": dict(state["staff"]), "approvals": dict(state["approvals"])}
    # The entries are copied by reference: the fold replaces an entry it changes, never changes it in place.
    state.update(queue=dict(state["queue"]), holes=list(state["holes"]))
    decisions: Decisions = []
    # A board event this service does not know yet (a newer producer) concerns no case it can explain.
    if is_known_event(envelope.event_type):
        payload = parse_event_data(envelope.event_type, envelope.schema_version, envelope.data)
        decisions = _decide(payload, state, envelope)
    state["version"] = envelope.version
    notes = [CaseNote(case_id, _entry(envelope, decision)) for case_id, decision in decisions]
    return state, notes


def fold_story(story: Story | None, note: CaseNote, board_version: int, bureau: str) -> Story:
    """Return the case's story with one note added; a note it already holds changes nothing."""
    current = story or {
        "_id": note.case_id,
        "case_id": note.case_id,
        "bureau": bureau,
        "board_version": 0,
        "entries": [],
        "assignment": None,
    }
    if board_version <= current["board_version"]:
        return current  # a replay of a board event this story is already past
    updated = {**current, "entries": [*current["entries"], note.entry], "board_version": board_version}
    if note.current:
        updated["assignment"] = note.entry["decision"]
    return updated


def _entry(envelope: EventEnvelope, decision: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": "board",
        "stream_id": envelope.stream_id,
        "version": envelope.version,
        "position": envelope.position,
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
        "occurred_at": envelope.occurred_at,
        "recorded_at": envelope.recorded_at,
        "actor": envelope.actor.model_dump(),
        "summary": LABELS[decision["kind"]],
        "decision": decision,
    }


def _person(state: Board, staff_id: str | None) -> dict[str, Any] | None:
    if staff_id is None:
        return None
    known = state["staff"].get(staff_id, {})
    return {"staff_id": staff_id, "name": known.get("name"), "post": known.get("post")}


def _decision(kind: str, state: Board, envelope: EventEnvelope, **fields: Any) -> dict[str, Any]:
    decision: dict[str, Any] = {
        "kind": kind,
        "label": LABELS[kind],
        "concierge": None,
        "reason": None,
        "candidates": [],
        "rule_version": None,
        "decided_at": envelope.occurred_at,
        "board_event_id": str(envelope.event_id),
        "board_version": envelope.version,
        "approved_by": None,
        "previous_staff_id": None,
    }
    decision.update(fields)
    return decision


Decisions = list[tuple[str, dict[str, Any]]]


@singledispatch
def _decide(payload: BaseModel, state: Board, envelope: EventEnvelope) -> Decisions:
    return []  # board events that concern no case (settings, notices, leaves...) only advance the version


@_decide.register
def _(payload: StaffMemberAdded, state: Board, envelope: EventEnvelope) -> Decisions:
    state["staff"][payload.staff_id] = {"name": payload.name, "post": payload.post.value}
    return []


@_decide.register
def _(payload: StaffMemberChanged, state: Board, envelope: EventEnvelope) -> Decisions:
    known = state["staff"].get(payload.staff_id, {})
    state["staff"][payload.staff_id] = {**known, "post": payload.post.value}
    return []


@_decide.register
def _(payload: FallbackApproved, state: Board, envelope: EventEnvelope) -> Decisions:
    approver = _person(state, payload.approved_by)
    state["approvals"][payload.approval_id] = {"approved_by": approver, "note": payload.note}
    waiting = queue.waiting(state, payload.credit_code)
    decision = _decision(
        "fallback_approved",
        state,
        envelope,
        concierge=_person(state, payload.staff_id),
        reason=payload.note,
        approved_by=approver,
    )
    return [(case_id, decision) for case_id in (waiting["case_ids"] if waiting else [])]


@_decide.register
def _(payload: ConciergeAssigned, state: Board, envelope: EventEnvelope) -> Decisions:
    if waiting := queue.waiting(state, payload.enterprise.credit_code):
        queue.leave(state, waiting, envelope)
    approval = state["approvals"].get(payload.fallback_approval_id or "")
    kind = "fallback_assigned" if approval else "handed_over" if payload.replaces_staff_id else "assigned"
    chosen = next((c for c in payload.candidates if c.staff_id == payload.staff_id), None)
    decision = _decision(
        kind,
        state,
        envelope,
        concierge={"staff_id": payload.staff_id, "name": payload.staff_name, "post": payload.post.value},
        reason=payload.reason,
        # The chosen person first, then the others in the order the board recorded them.
        candidates=sorted(
            (_candidate(c, chosen, payload.staff_id, state) for c in payload.candidates),
            key=lambda c: not c["chosen"],
        ),
        rule_version=payload.rule_version,
        approved_by=approval["approved_by"] if approval else None,
        previous_staff_id=payload.replaces_staff_id,
    )
    return [(case_id, decision) for case_id in payload.case_ids]


@_decide.register
def _(payload: CaseJoinedEnterprise, state: Board, envelope: EventEnvelope) -> Decisions:
    reason = payload.reason or "the enterprise keeps its concierge (rule 4)"
    decision = _decision(
        "joined_enterprise", state, envelope, concierge=_person(state, payload.staff_id), reason=reason
    )
    return [(payload.case_id, decision)]


@_decide.register
def _(payload: EnterpriseQueued, state: Board, envelope: EventEnvelope) -> Decisions:
    case_ids = list(dict.fromkeys([payload.case_id, *payload.case_ids]))
    waiting = queue.waiting(state, payload.enterprise.credit_code)
    if waiting is None:  # the enterprise joins the end of the queue (oldest first)
        queue.join(state, envelope, payload.enterprise.model_dump(), case_ids, payload.reason)
    else:  # another case of an enterprise that already waits: it keeps its place
        queue.change(
            state, waiting, envelope, case_ids=list(dict.fromkeys([*waiting["case_ids"], *case_ids]))
        )
    decision = _decision(
        "queued", state, envelope, reason=payload.reason, previous_staff_id=payload.withdrawn_staff_id
    )
    return [(case_id, decision) for case_id in case_ids]


@_decide.register
def _(payload: CaseLeftQueue, state: Board, envelope: EventEnvelope) -> Decisions:
    if waiting := queue.waiting(state, payload.enterprise.credit_code):
        remaining = [c for c in waiting["case_ids"] if c != payload.case_id]
        queue.change(state, waiting, envelope, case_ids=remaining)
        if payload.enterprise_left:
            queue.leave(state, state["queue"][waiting["credit_code"]], envelope)
    reason = "the enterprise's last open case: it left the queue" if payload.enterprise_left else None
    return [(payload.case_id, _decision("left_queue", state, envelope, reason=reason))]


@_decide.register
def _(payload: CaseLeftEnterprise, state: Board, envelope: EventEnvelope) -> Decisions:
    decision = _decision("left_enterprise", state, envelope, concierge=_person(state, payload.staff_id))
    return [(payload.case_id, decision)]


@_decide.register
def _(payload: ConciergeReassigned, state: Board, envelope: EventEnvelope) -> Decisions:
    to = _person(state, payload.to_staff_id) or {}
    decision = _decision(
        "reassigned",
        state,
        envelope,
        concierge={**to, "name": payload.to_staff_name},
        reason=payload.reason,
        approved_by=_approver(state, payload.approved_by, envelope),
        previous_staff_id=payload.from_staff_id,
    )
    return [(case_id, decision) for case_id in payload.case_ids]


def _approver(state: Board, approved_by: str | None, envelope: EventEnvelope) -> dict[str, Any] | None:
    # A leadership reassignment names who approved it (a staff id, or the caller's key id for older
    # events); the rules moving an enterprise name nobody. The actor names a signed-in person when known.
    if approved_by is None:
        return None
    if approved_by in state["staff"]:
        return _person(state, approved_by)
    actor = envelope.actor
    if actor.staff_id:
        return {"staff_id": actor.staff_id, "name": actor.name, "post": actor.post, "key_id": approved_by}
    return {"staff_id": None, "name": None, "post": None, "key_id": approved_by}


def _candidate(
    candidate: CandidateConsidered, chosen: CandidateConsidered | None, chosen_id: str, state: Board
) -> dict[str, Any]:
    known = state["staff"].get(candidate.staff_id, {})
    is_chosen = candidate.staff_id == chosen_id
    return {
        "staff_id": candidate.staff_id,
        "name": known.get("name"),
        "post": known.get("post"),
        "eligible": candidate.eligible,
        "chosen": is_chosen,
        "reason": candidate.reason,
        "not_chosen_because": None if is_chosen else why_not_chosen(candidate, chosen),
        "enterprises_served": candidate.enterprises_served,
        "category_experience": candidate.category_experience,
        "idle_since": _moment(candidate.idle_since),
    }


def why_not_chosen(candidate: CandidateConsidered, chosen: CandidateConsidered | None) -> str:
    """Say why a candidate was not chosen: the rule that excluded them, or the preference that ranked them lower.

    The preference is rule 5, as recorded in each candidate: fewest enterprises served, then most experience in
    the category, then longest idle, then staff id.
    """
    if not candidate.eligible:
        return f"不符合条件 (not eligible): {candidate.reason}"
    if chosen is None:
        return "另一人被选中 (another person was chosen)"
    if candidate.enterprises_served != chosen.enterprises_served:
        return (
            f"已服务 {candidate.enterprises_served} 家企业，多于被选中者的 {chosen.enterprises_served} 家 "
            f"(served more enterprises: {candidate.enterprises_served} against {chosen.enterprises_served})"
        )
    if candidate.category_experience != chosen.category_experience:
        return (
            f"本类别经验 {candidate.category_experience} 件，少于被选中者的 {chosen.category_experience} 件 "
            f"(less experience in this category: {candidate.category_experience} against "
            f"{chosen.category_experience})"
        )
    if candidate.idle_since != chosen.idle_since:
        return "空闲时间短于被选中者 (idle for less time than the chosen person)"
    return "各项相同，按人员编号先后选定 (a tie, broken by staff id)"


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
