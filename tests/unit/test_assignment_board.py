"""The concierge rules: eligibility, rotation, queue, fallback approval, leave and reassignment."""

import dataclasses
from datetime import date, datetime

import pytest
from pydantic import BaseModel

from services.assignment.domain.board import AssignmentBoard
from services.assignment.domain.roster import EnterpriseFile
from services.assignment.domain.rules import AssignmentRefused
from shared.contracts.assignment import (
    CaseJoinedEnterprise,
    CaseLeftQueue,
    ConciergeAssigned,
    ConciergeReassigned,
    ConciergeReleased,
    EnterpriseQueued,
    Post,
)
from shared.contracts.cases import Category, Enterprise
from shared.workdays.calendar import SHANGHAI
from tests.support import credit_code

NOW = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
FUNDS = Category.FUND_DISBURSEMENT


def enterprise(n: int) -> Enterprise:
    return Enterprise(name=f"企业{n}", credit_code=credit_code(n))


def play(board: AssignmentBoard, events: list[BaseModel]) -> list[BaseModel]:
    """Decisions apply their events as they make them; a replay of the same events gives the same board."""
    replayed = AssignmentBoard(board.bureau)
    for event in board_log(board) + events:
        replayed.apply(event, NOW)
    board_log(board).extend(events)
    # The replay applies every event at NOW, the decisions at their own time: assignment times may differ.
    assert replayed.queue() == board.queue() and _untimed(replayed.files) == _untimed(board.files)
    return events


def _untimed(files: dict[str, EnterpriseFile]) -> dict[str, EnterpriseFile]:
    return {code: dataclasses.replace(file, assigned_at=None) for code, file in files.items()}


def board_log(board: AssignmentBoard) -> list[BaseModel]:
    log: list[BaseModel] = board.__dict__.setdefault("_test_log", [])
    return log


def board_with(*people: tuple[str, Post]) -> AssignmentBoard:
    board = AssignmentBoard("finance")
    for staff_id, post in people:
        play(board, board.add_staff(staff_id, f"人员{staff_id}", post, "预算科", NOW))
    return board


def test_a_new_enterprise_gets_a_management_post_concierge_and_the_event_says_why() -> None:
    board = board_with(("clerk", Post.CLERK), ("chief", Post.SECTION_CHIEF), ("model", Post.SERVICE_MODEL))
    [event] = play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    assert isinstance(event, ConciergeAssigned) and event.staff_id == "chief"
    reasons = {c.staff_id: (c.eligible, c.reason) for c in event.candidates}
    assert reasons["clerk"] == (False, "not a management post")
    assert reasons["model"][0] is False and "leadership approval" in reasons["model"][1]
    assert event.rule_version.startswith("2026.11")


def test_an_enterprise_with_an_open_case_keeps_its_concierge_for_new_cases() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    [event] = play(board, board.open_case("c2", enterprise(1), FUNDS, NOW))
    assert isinstance(event, CaseJoinedEnterprise) and event.staff_id == "a"


def test_with_nobody_free_the_enterprise_waits_and_is_never_given_to_someone_ineligible() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("clerk", Post.CLERK))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    [event] = play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))
    assert isinstance(event, EnterpriseQueued) and "no management-post person is free" in event.reason
    assert [f.enterprise.credit_code for f in board.queue()] == [credit_code(2)]


def test_resolution_releases_the_concierge_to_the_oldest_waiting_enterprise() -> None:
    board = board_with(("a", Post.DEPUTY_DIRECTOR))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))
    play(board, board.open_case("c3", enterprise(3), FUNDS, NOW))
    events = play(board, board.resolve_case("c1", NOW))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["CaseLeftEnterprise", "ConciergeReleased", "ConciergeAssigned"]
    assert isinstance(events[2], ConciergeAssigned) and events[2].enterprise == enterprise(2)
    assert [f.enterprise.credit_code for f in board.queue()] == [credit_code(3)]


def test_the_concierge_is_released_only_when_all_the_enterprises_cases_are_resolved() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    play(board, board.open_case("c2", enterprise(1), FUNDS, NOW))
    assert not any(isinstance(e, ConciergeReleased) for e in play(board, board.resolve_case("c1", NOW)))
    assert any(isinstance(e, ConciergeReleased) for e in play(board, board.resolve_case("c2", NOW)))


def test_choice_prefers_fewest_served_then_category_experience() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a (tie broken by id)
    play(board, board.resolve_case("c1", NOW))
    [second] = play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))
    assert isinstance(second, ConciergeAssigned) and second.staff_id == "b"  # fewer served


def test_fallback_staff_needs_leadership_approval() -> None:
    board = board_with(("dir", Post.DIRECTOR), ("model", Post.SERVICE_MODEL), ("chief", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # dir or chief busy
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))  # the other busy
    [queued] = play(board, board.open_case("c3", enterprise(3), FUNDS, NOW))
    assert isinstance(queued, EnterpriseQueued)
    with pytest.raises(AssignmentRefused, match="not bureau leadership"):
        board.approve_fallback("ap1", credit_code(3), "model", "chief", "人手不足", NOW)
    events = play(board, board.approve_fallback("ap1", credit_code(3), "model", "dir", "经局班子研究", NOW))
    assigned = events[-1]
    assert isinstance(assigned, ConciergeAssigned) and assigned.staff_id == "model"
    assert assigned.fallback_approval_id == "ap1"


def test_staff_on_leave_are_never_picked_and_their_enterprises_go_to_the_deputy() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF), ("c", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    leave = board.record_leave("l1", "a", date(2026, 10, 9), date(2026, 10, 20), "病假", "c", NOW)
    events = play(board, leave)
    moved = events[-1]
    assert isinstance(moved, ConciergeReassigned) and (moved.from_staff_id, moved.to_staff_id) == ("a", "c")
    assert moved.case_ids == ["c1"] and moved.notify_enterprise
    [next_one] = play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))
    assert isinstance(next_one, ConciergeAssigned) and next_one.staff_id == "b"  # a is on leave


def test_reassignment_needs_a_reason_and_an_eligible_person() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF), ("clerk", Post.CLERK))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    with pytest.raises(AssignmentRefused, match="reason"):
        board.reassign(credit_code(1), "b", " ", NOW)
    with pytest.raises(AssignmentRefused, match="not a management post"):
        board.reassign(credit_code(1), "clerk", "工作量", NOW)
    [event] = play(board, board.reassign(credit_code(1), "b", "利益冲突", NOW))
    assert isinstance(event, ConciergeReassigned) and event.to_staff_id == "b"


def test_a_redelivered_case_is_not_assigned_twice() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    assert board.open_case("c1", enterprise(1), FUNDS, NOW) == []


def test_a_management_post_newcomer_takes_the_oldest_waiting_enterprise() -> None:
    board = board_with(("clerk", Post.CLERK))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    events = play(board, board.add_staff("new", "新科长", Post.SECTION_CHIEF, "国库科", NOW))
    assert isinstance(events[-1], ConciergeAssigned) and events[-1].case_ids == ["c1"]
    assert board.queue() == []


def test_capacity_is_a_bureau_setting_and_raising_it_serves_the_queue() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))
    events = play(board, board.set_capacity(2, NOW))
    assert isinstance(events[-1], ConciergeAssigned) and events[-1].staff_id == "a"
    assert board.queue() == [] and board.staff["a"].serving == {credit_code(1), credit_code(2)}


def test_a_case_resolved_while_its_enterprise_waits_takes_the_enterprise_off_the_queue() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a serves enterprise 1
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))  # enterprise 2 waits
    play(board, board.open_case("c3", enterprise(3), FUNDS, NOW))  # enterprise 3 waits
    [left] = play(board, board.resolve_case("c2", NOW))
    assert isinstance(left, CaseLeftQueue) and left.enterprise_left
    assert [f.enterprise.credit_code for f in board.queue()] == [credit_code(3)]

    events = play(board, board.resolve_case("c1", NOW))
    assigned = events[-1]
    assert isinstance(assigned, ConciergeAssigned) and assigned.case_ids == ["c3"]


def test_a_waiting_enterprise_with_another_open_case_keeps_waiting_when_one_is_resolved() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))
    play(board, board.open_case("c2", enterprise(2), FUNDS, NOW))
    play(board, board.open_case("c3", enterprise(2), FUNDS, NOW))
    [left] = play(board, board.resolve_case("c2", NOW))
    assert isinstance(left, CaseLeftQueue) and not left.enterprise_left
    assert [f.open_cases for f in board.queue()] == [["c3"]]


def test_a_reopened_case_goes_back_to_the_concierge_its_own_stream_names() -> None:
    board = board_with(("a", Post.SECTION_CHIEF), ("b", Post.SECTION_CHIEF))
    play(board, board.open_case("c1", enterprise(1), FUNDS, NOW))  # a
    play(board, board.resolve_case("c1", NOW))
    [joined] = play(board, board.reopen_case("c1", enterprise(1), FUNDS, "a", NOW))
    assert isinstance(joined, CaseJoinedEnterprise) and joined.staff_id == "a"


def test_a_reopened_case_that_never_had_a_concierge_is_placed_like_a_new_one() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    [assigned] = play(board, board.reopen_case("c1", enterprise(1), FUNDS, None, NOW))
    assert isinstance(assigned, ConciergeAssigned) and assigned.staff_id == "a"


def test_the_board_forgets_cases_once_their_enterprise_is_released() -> None:
    board = board_with(("a", Post.SECTION_CHIEF))
    for n in range(1, 4):
        play(board, board.open_case(f"c{n}", enterprise(n), FUNDS, NOW))
    for n in range(1, 4):
        play(board, board.resolve_case(f"c{n}", NOW))
    assert board.files == {} and board.file_of_case("c1") is None and board.queue() == []
    assert not hasattr(board, "case_staff")
