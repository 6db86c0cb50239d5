"""The roster on the board: departures, partial changes, post changes, reopened cases and reassignments."""

from __future__ import annotations

import pytest

from services.assignment.domain.board import AssignmentBoard
from services.assignment.domain.board_snapshot import board_from_snapshot, snapshot_of
from services.assignment.domain.rules import RULE_VERSION, AssignmentRefused
from shared.contracts.assignment import (
    CaseJoinedEnterprise,
    ConciergeAssigned,
    ConciergeReassigned,
    EnterpriseQueued,
    Post,
    StaffDeparted,
    StaffMemberChanged,
)
from tests.support import credit_code
from tests.unit.test_assignment_board import FUNDS, NOW, board_with, enterprise, play


# ---- departure -------------------------------------------------------------------------------
def test_given_a_serving_concierge_when_they_leave_the_bureau_then_the_next_eligible_takes_over() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a

    events = play(board, board.depart("a", "调任市财政局", NOW))

    departed, moved = events
    assert isinstance(departed, StaffDeparted) and departed.reason == "调任市财政局"
    assert isinstance(moved, ConciergeReassigned) and (moved.from_staff_id, moved.to_staff_id) == ("a", "b")
    assert "left the bureau: 调任市财政局" in moved.reason and moved.approved_by is None
    assert board.staff["a"].departed and board.staff["a"].served_total == 1  # history keeps them


def test_given_nobody_free_when_a_concierge_leaves_then_the_enterprise_waits_with_the_reason() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("clerk", Post.CLERK))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    play(board, board.open_case("c2", enterprise(1), FUNDS, NOW))

    [_, queued] = play(board, board.depart("a", "退休", NOW))

    assert isinstance(queued, EnterpriseQueued) and "left the bureau: 退休" in queued.reason
    assert queued.withdrawn_staff_id == "a" and queued.case_ids == ["c1", "c2"]
    assert [f.enterprise.credit_code for f in board.queue()] == [credit_code(1)]


def test_given_a_departed_person_then_they_are_never_picked_again_and_nothing_more_is_recorded() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.depart("a", "辞职", NOW))

    [queued] = play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))

    assert isinstance(queued, EnterpriseQueued)
    with pytest.raises(AssignmentRefused, match="left the bureau"):
        board.depart("a", "again", NOW)
    with pytest.raises(AssignmentRefused, match="left the bureau"):
        board.change_staff("a", Post.DIRECTOR, None, NOW)
    with pytest.raises(AssignmentRefused, match="left the bureau"):
        board.record_leave("l1", "a", NOW.date(), NOW.date(), "病假", None, NOW)


def test_given_a_departed_director_then_they_cannot_approve_a_fallback() -> None:
    board = board_with(("dir", Post.DIRECTOR), ("model", Post.SERVICE_MODEL))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # dir serves
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))  # waits
    play(board, board.depart("dir", "调离", NOW))  # enterprise 1 waits too
    with pytest.raises(AssignmentRefused, match="left the bureau"):
        board.approve_fallback("ap", credit_code(2), "model", "dir", "同意", NOW)


# ---- partial change and post change ------------------------------------------------------------
def test_given_only_a_section_when_changed_then_the_post_stays() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    [changed] = play(board, board.change_staff("a", None, "国库科", NOW))
    assert isinstance(changed, StaffMemberChanged) and (changed.post, changed.section) == (
        Post.SECTION_CHIEF,
        "国库科",
    )
    with pytest.raises(AssignmentRefused, match="post or section"):
        board.change_staff("a", None, None, NOW)
    assert board.change_staff("a", Post.SECTION_CHIEF, "国库科", NOW) == []  # nothing changes


def test_given_a_serving_concierge_when_their_post_becomes_clerk_then_the_enterprise_is_handed_over() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.DEPUTY_DIRECTOR))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a

    [_, moved] = play(board, board.change_staff("a", Post.CLERK, None, NOW))

    assert isinstance(moved, ConciergeReassigned) and moved.to_staff_id == "b"
    assert "post changed to clerk" in moved.reason
    assert board.staff["a"].serving == set()


def test_given_a_clerk_promoted_to_a_management_post_then_they_take_the_oldest_waiting_enterprise() -> None:
    board = board_with(("clerk", Post.CLERK))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    events = play(board, board.change_staff("clerk", Post.SECTION_CHIEF, None, NOW))
    assert isinstance(events[-1], ConciergeAssigned) and events[-1].staff_id == "clerk"


# ---- reopened cases and capacity ---------------------------------------------------------------
def test_given_a_busy_concierge_when_their_old_case_reopens_then_it_returns_to_them_and_counts_against_capacity() -> (
    None
):
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.resolve_case("c1", NOW))
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))  # b (fewest served)
    play(board, board.open_case("c3", enterprise(3), FUNDS, NOW))  # a again
    play(board, board.open_case("c4", enterprise(4), FUNDS, NOW))  # waits

    [joined] = play(board, board.reopen_case("c1", enterprise(1), FUNDS, "a", NOW))

    assert isinstance(joined, CaseJoinedEnterprise) and joined.staff_id == "a"
    assert joined.reason and "rule 7" in joined.reason and "counts against" in joined.reason
    assert len(board.staff["a"].serving) == 2  # beyond the capacity of one, by rule 7
    play(board, board.resolve_case("c3", NOW))  # still at capacity: enterprise 4 keeps waiting
    assert [f.enterprise.credit_code for f in board.queue()] == [credit_code(4)]
    assert "reopened case returns to its concierge" in RULE_VERSION


def test_given_a_departed_concierge_when_their_case_reopens_then_it_is_placed_by_the_rules_with_the_reason() -> (
    None
):
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.resolve_case("c1", NOW))
    play(board, board.depart("a", "调离", NOW))

    [assigned] = play(board, board.reopen_case("c1", enterprise(1), FUNDS, "a", NOW))

    assert isinstance(assigned, ConciergeAssigned) and assigned.staff_id == "b"
    assert "cannot take it back: left the bureau" in assigned.reason


def test_given_an_enterprise_served_by_another_when_an_old_case_reopens_then_it_joins_the_current_concierge() -> (
    None
):
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.open_case("c2", enterprise(1), FUNDS, NOW))
    play(board, board.resolve_case("c1", NOW))
    play(board, board.reassign(credit_code(1), "b", "工作量", NOW, "key-1"))

    [joined] = play(board, board.reopen_case("c1", enterprise(1), FUNDS, "a", NOW))

    assert isinstance(joined, CaseJoinedEnterprise) and joined.staff_id == "b"
    assert board.files[credit_code(1)].open_cases == ["c2", "c1"]


# ---- reassignment ------------------------------------------------------------------------------
def test_a_leadership_reassignment_records_who_approved_it() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    [moved] = play(board, board.reassign(credit_code(1), "b", "利益冲突", NOW, "key-director"))
    assert isinstance(moved, ConciergeReassigned) and moved.approved_by == "key-director"
    with pytest.raises(AssignmentRefused, match="no staff member nobody"):
        board.reassign(credit_code(1), "nobody", "利益冲突", NOW, "key-director")


def test_departures_and_leaves_survive_a_snapshot() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.record_leave("l1", "b", NOW.date(), NOW.date(), "事假", None, NOW))
    play(board, board.depart("a", "调离", NOW))

    restored = board_from_snapshot(snapshot_of(board), 1)

    assert restored is not None and snapshot_of(restored) == snapshot_of(board)
    assert restored.staff["a"].departed and restored.staff["b"].leaves["l1"].started


def test_a_snapshot_of_the_previous_schema_is_ignored() -> None:
    board: AssignmentBoard = board_with(("a", Post.SECTION_CHIEF))
    document = snapshot_of(board) | {"schema_version": 1}
    assert board_from_snapshot(document, 1) is None


@pytest.mark.parametrize("away", ["leave", "departure"])
def test_given_a_concierge_away_when_their_case_reopens_and_nobody_is_free_then_the_case_is_told_it_lost_them(
    away: str,
) -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.resolve_case("c1", NOW))
    if away == "leave":
        play(board, board.record_leave("l1", "a", NOW.date(), NOW.date(), "出差", None, NOW))
    else:
        play(board, board.depart("a", "调离", NOW))

    [queued] = play(board, board.reopen_case("c1", enterprise(1), FUNDS, "a", NOW))

    # The case named "a" until now: the withdrawal reaches the case (policy), so it shows it waits.
    assert isinstance(queued, EnterpriseQueued) and "cannot take it back" in queued.reason
    assert queued.withdrawn_staff_id == "a" and queued.case_ids == ["c1"]


def test_given_the_enterprise_waiting_when_an_old_case_reopens_then_it_joins_the_queue_without_its_old_concierge() -> (
    None
):
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.resolve_case("c1", NOW))
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))  # a again
    play(board, board.open_case("c3", enterprise(1), FUNDS, NOW))  # enterprise 1 waits

    [queued] = play(board, board.reopen_case("c1", enterprise(1), FUNDS, "a", NOW))

    assert isinstance(queued, EnterpriseQueued) and queued.withdrawn_staff_id == "a"
    assert (
        board.files[credit_code(1)].open_cases == ["c3", "c1"]
        and board.files[credit_code(1)].staff_id is None
    )


def test_an_enterprise_given_back_to_its_concierge_counts_once_among_the_enterprises_they_served() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.reassign(credit_code(1), "b", "出差", NOW, "key-1"))
    play(board, board.reassign(credit_code(1), "a", "返岗", NOW, "key-1"))

    # Rule 5 ranks by enterprises served: taking one back after a leave must not count it twice.
    assert (board.staff["a"].served_total, board.staff["b"].served_total) == (1, 1)
    restored = board_from_snapshot(snapshot_of(board), default_capacity=1)
    assert restored is not None and restored.staff["a"].served == {credit_code(1)}
    assert board_from_snapshot({**snapshot_of(board), "schema_version": 2}, default_capacity=1) is None
