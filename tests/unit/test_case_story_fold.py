"""The case's story is a pure fold of the board's events: explanations, queue places, replays that change nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.casequery.projections.story import (
    Board,
    Story,
    fold_board,
    fold_story,
    queue_place,
    why_not_chosen,
)
from shared.contracts.assignment import CandidateConsidered
from shared.contracts.envelope import Actor, EventEnvelope
from tests.support import credit_code

START = datetime(2026, 11, 2, 1, tzinfo=UTC)  # a Monday, 09:00 in Shanghai
RULES = "2026.11-2: test rules"


def enterprise(n: int) -> dict[str, str]:
    return {"name": f"测试企业{n}有限公司", "credit_code": credit_code(n)}


def board_event(
    event_type: str, version: int, data: dict[str, Any], actor: Actor | None = None
) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        stream_id="board-finance",
        stream_type="board",
        version=version,
        position=version * 10,
        bureau="finance",
        occurred_at=START + timedelta(minutes=version),
        recorded_at=START + timedelta(minutes=version),
        actor=actor or Actor(kind="service", id="assign_concierge_when_case_opened"),
        correlation_id=uuid.uuid4(),
        data=data,
    )


def candidate(staff_id: str, eligible: bool, reason: str, served: int, experience: int = 0) -> dict[str, Any]:
    return {
        "staff_id": staff_id,
        "eligible": eligible,
        "reason": reason,
        "enterprises_served": served,
        "category_experience": experience,
        "idle_since": None,
    }


def assigned(n: int, case_ids: list[str], staff_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "enterprise": enterprise(n),
        "staff_id": staff_id,
        "staff_name": name,
        "post": "section_chief",
        "case_ids": case_ids,
        "category": "fund_disbursement",
        "candidates": extra.pop("candidates", []),
        "rule_version": RULES,
        "reason": f"{name}: eligible, fewest served",
        **extra,
    }


def queued(n: int, case_id: str, reason: str = "no management-post person is free") -> dict[str, Any]:
    return {
        "enterprise": enterprise(n),
        "case_id": case_id,
        "category": "fund_disbursement",
        "reason": reason,
    }


def roster() -> list[EventEnvelope]:
    return [
        board_event(
            "StaffMemberAdded", 1, {"staff_id": "s0", "name": "赵局长", "post": "director", "section": "局办"}
        ),
        board_event(
            "StaffMemberAdded",
            2,
            {"staff_id": "s1", "name": "王科长", "post": "section_chief", "section": "预算科"},
        ),
        board_event(
            "StaffMemberAdded",
            3,
            {"staff_id": "s2", "name": "李科长", "post": "section_chief", "section": "国库科"},
        ),
        board_event(
            "StaffMemberAdded",
            4,
            {"staff_id": "s3", "name": "张骨干", "post": "experienced_staff", "section": "国库科"},
        ),
    ]


def fold(events: list[EventEnvelope]) -> tuple[Board, dict[str, Story]]:
    """Fold board events as the store does: the board state, and a story per case concerned."""
    board: Board | None = None
    stories: dict[str, Story] = {}
    for event in events:
        board, notes = fold_board(board, event)
        for note in notes:
            stories[note.case_id] = fold_story(stories.get(note.case_id), note, event.version, event.bureau)
    assert board is not None
    return board, stories


def test_given_an_assignment_when_folded_then_the_case_shows_who_was_chosen_and_why_each_other_was_not() -> (
    None
):
    # Given a roster of a director, two section chiefs and an experienced staff member
    candidates = [
        candidate("s0", True, "eligible", 2),
        candidate("s1", True, "eligible", 0),
        candidate("s2", False, "on leave", 0),
        candidate("s3", False, "not a management post and no leadership approval for this enterprise", 0),
    ]

    # When the board assigns 王科长 to the enterprise's case
    _, stories = fold(
        [
            *roster(),
            board_event("ConciergeAssigned", 5, assigned(1, ["c1"], "s1", "王科长", candidates=candidates)),
        ]
    )

    # Then the case names the concierge, the rule version, and a reason for every other candidate
    decision = stories["c1"]["assignment"]
    assert (decision["kind"], decision["concierge"]["name"], decision["rule_version"]) == (
        "assigned",
        "王科长",
        RULES,
    )
    assert decision["decided_at"] == START + timedelta(minutes=5)
    assert [c["staff_id"] for c in decision["candidates"]] == ["s1", "s0", "s2", "s3"]  # the chosen first
    by_id = {c["staff_id"]: c for c in decision["candidates"]}
    assert by_id["s1"]["chosen"] and by_id["s1"]["not_chosen_because"] is None
    assert "2" in by_id["s0"]["not_chosen_because"] and "served more" in by_id["s0"]["not_chosen_because"]
    assert "on leave" in by_id["s2"]["not_chosen_because"]
    assert "no leadership approval" in by_id["s3"]["not_chosen_because"]
    assert (by_id["s0"]["name"], by_id["s3"]["post"]) == ("赵局长", "experienced_staff")
    assert [e["event_type"] for e in stories["c1"]["entries"]] == ["ConciergeAssigned"]


def test_given_enterprises_waiting_when_the_first_is_served_then_the_next_moves_up_to_place_one() -> None:
    # Given two enterprises queued one after the other (and a second case of the first)
    events = [
        *roster(),
        board_event("EnterpriseQueued", 5, queued(2, "c2")),
        board_event("EnterpriseQueued", 6, queued(3, "c3")),
        board_event(
            "EnterpriseQueued", 7, queued(2, "c4", "the enterprise is already waiting for a concierge")
        ),
    ]
    board, stories = fold(events)
    assert queue_place(board, "c2") == {
        "position": 1,
        "enterprises_ahead": 0,
        "queued_at": START + timedelta(minutes=5),
        "reason": "no management-post person is free",
    }
    assert queue_place(board, "c4")["position"] == 1  # type: ignore[index]  # same enterprise, same place
    assert queue_place(board, "c3")["enterprises_ahead"] == 1  # type: ignore[index]
    assert stories["c3"]["assignment"]["kind"] == "queued"
    assert stories["c3"]["entries"][0]["decision"]["reason"] == "no management-post person is free"

    # When the first enterprise gets a concierge
    board, stories = fold(
        [*events, board_event("ConciergeAssigned", 8, assigned(2, ["c2", "c4"], "s1", "王科长"))]
    )

    # Then its cases leave the queue and the other enterprise is next
    assert queue_place(board, "c2") is None and queue_place(board, "c4") is None
    assert queue_place(board, "c3")["position"] == 1  # type: ignore[index]
    assert [e["decision"]["kind"] for e in stories["c2"]["entries"]] == ["queued", "assigned"]


def test_given_a_case_resolved_while_waiting_when_it_was_the_last_then_its_enterprise_leaves_the_queue() -> (
    None
):
    events = [
        *roster(),
        board_event("EnterpriseQueued", 5, queued(2, "c2")),
        board_event("EnterpriseQueued", 6, queued(3, "c3")),
    ]
    left = {"enterprise": enterprise(2), "case_id": "c2", "enterprise_left": True}

    board, stories = fold([*events, board_event("CaseLeftQueue", 7, left)])

    assert queue_place(board, "c2") is None and queue_place(board, "c3")["position"] == 1  # type: ignore[index]
    assert stories["c2"]["entries"][-1]["decision"]["kind"] == "left_queue"
    assert stories["c2"]["assignment"]["kind"] == "queued"  # history only: no concierge was ever decided


def test_given_a_leadership_approval_when_the_fallback_is_assigned_then_the_approving_leader_is_named() -> (
    None
):
    approval = {
        "approval_id": "a1",
        "credit_code": credit_code(3),
        "staff_id": "s3",
        "approved_by": "s0",
        "note": "熟悉业务",
    }
    events = [
        *roster(),
        board_event("EnterpriseQueued", 5, queued(3, "c3")),
        board_event("FallbackApproved", 6, approval),
        board_event("ConciergeAssigned", 7, assigned(3, ["c3"], "s3", "张骨干", fallback_approval_id="a1")),
    ]

    _, stories = fold(events)

    decision = stories["c3"]["assignment"]
    assert decision["kind"] == "fallback_assigned"
    assert decision["approved_by"] == {"staff_id": "s0", "name": "赵局长", "post": "director"}
    assert [e["decision"]["kind"] for e in stories["c3"]["entries"]] == [
        "queued",
        "fallback_approved",
        "fallback_assigned",
    ]


def test_given_a_leadership_reassignment_then_the_case_shows_the_new_concierge_and_who_approved() -> None:
    moved = {
        "enterprise": enterprise(1),
        "from_staff_id": "s1",
        "to_staff_id": "s2",
        "to_staff_name": "李科长",
        "reason": "利益回避",
        "case_ids": ["c1"],
        "approved_by": "key-42",
    }
    leader = Actor(kind="person", id="s0", staff_id="s0", name="赵局长", post="局长", key_id="key-42")
    events = [
        *roster(),
        board_event("ConciergeAssigned", 5, assigned(1, ["c1"], "s1", "王科长")),
        board_event("ConciergeReassigned", 6, moved, leader),
    ]

    _, stories = fold(events)

    decision = stories["c1"]["assignment"]
    assert (decision["kind"], decision["concierge"]["staff_id"], decision["previous_staff_id"]) == (
        "reassigned",
        "s2",
        "s1",
    )
    assert decision["approved_by"]["name"] == "赵局长" and decision["reason"] == "利益回避"


def test_given_a_board_event_already_folded_when_it_is_replayed_then_the_story_does_not_change() -> None:
    events = [
        *roster(),
        board_event("EnterpriseQueued", 5, queued(2, "c2")),
        board_event("ConciergeAssigned", 6, assigned(2, ["c2"], "s1", "王科长")),
    ]
    board, stories = fold(events)

    # When the queued event is delivered again after the state moved on
    _, notes = fold_board(board, events[4])
    replayed = fold_story(stories["c2"], notes[0], events[4].version, "finance")

    # Then nothing is added and the current assignment stays the newer one
    assert replayed == stories["c2"]
    assert replayed["assignment"]["kind"] == "assigned"


def test_given_equal_candidates_when_explained_then_the_preference_that_decided_is_named() -> None:
    chosen = CandidateConsidered(
        staff_id="s1", eligible=True, reason="eligible", enterprises_served=1, category_experience=2
    )
    less_experience = chosen.model_copy(update={"staff_id": "s2", "category_experience": 1})
    idle_less = chosen.model_copy(update={"staff_id": "s3", "idle_since": "2026-11-01T00:00:00+00:00"})
    tie = chosen.model_copy(update={"staff_id": "s4"})

    assert "less experience" in why_not_chosen(less_experience, chosen)
    assert "idle for less time" in why_not_chosen(idle_less, chosen)
    assert "tie" in why_not_chosen(tie, chosen)


def test_given_a_board_event_this_service_does_not_know_when_folded_then_only_the_version_moves() -> None:
    board, _ = fold(roster())

    after, notes = fold_board(board, board_event("SomethingNewer", 5, {"case_ids": ["c1"]}))

    assert notes == [] and after["version"] == 5
    assert {k: v for k, v in after.items() if k != "version"} == {
        k: v for k, v in board.items() if k != "version"
    }
