"""A concierge taken away with nobody to replace them: the case records it waits (ConciergeWithdrawnFromCase)."""

from __future__ import annotations

from services.assignment.domain.casework import CaseFile
from shared.contracts.assignment import Post
from shared.contracts.casework import ConciergeAssignedToCase, ConciergeWithdrawnFromCase
from tests.unit.test_assignment_replay import NOW, World, board_decision, replay_twice_with_a_fresh_instance
from tests.unit.test_assignment_support import open_case

TODAY = NOW.date()


async def case_events(world: World, case_id: str) -> list[str]:
    return [e.event_type for e in await world.recorder.read_stream(case_id)]


async def test_given_nobody_free_when_the_concierge_goes_on_leave_then_the_case_shows_it_waits() -> None:
    world = World()
    await board_decision(world, lambda b: b.add_staff("a", "科长a", Post.SECTION_CHIEF, "预算科", NOW))
    await open_case(world.recorder, "c1", "finance", 1)
    await world.relay()

    await board_decision(world, lambda b: b.record_leave("l1", "a", TODAY, TODAY, "病假", None, NOW))

    assert (await case_events(world, "c1"))[-1] == "ConciergeWithdrawnFromCase"
    case = await world.live.cases.load("c1")
    assert case is not None and case.concierge is None
    assert world.summaries.summaries["c1"]["concierge"] is None
    [withdrawn] = (await world.recorder.read_stream("c1"))[-1:]
    assert withdrawn.data["staff_id"] == "a" and "on leave" in withdrawn.data["reason"]

    await board_decision(world, lambda b: b.add_staff("b", "科长b", Post.SECTION_CHIEF, "预算科", NOW))

    case = await world.live.cases.load("c1")
    assert case is not None and case.concierge == "b"
    assert world.summaries.summaries["c1"]["concierge"] == {"staff_id": "b"}


async def test_a_replayed_withdrawal_does_not_take_away_the_concierge_assigned_since() -> None:
    world = World()
    await board_decision(world, lambda b: b.add_staff("a", "科长a", Post.SECTION_CHIEF, "预算科", NOW))
    await open_case(world.recorder, "c1", "finance", 1)
    await world.relay()
    await board_decision(world, lambda b: b.depart("a", "调离", NOW))
    await board_decision(world, lambda b: b.add_staff("b", "科长b", Post.SECTION_CHIEF, "预算科", NOW))
    history = await world.history()

    await replay_twice_with_a_fresh_instance(world, history)

    assert await world.history() == history
    case = await world.live.cases.load("c1")
    assert case is not None and case.concierge == "b"


def test_a_case_ignores_a_withdrawal_older_than_its_board_version_or_of_another_concierge() -> None:
    case = CaseFile(case_id="c1", bureau="finance")
    case.apply(ConciergeAssignedToCase(staff_id="b", staff_name="b", board_event_id="e2", board_version=5))
    assert case.withdraw_concierge("b", "x", "e1", 4) == []
    assert case.withdraw_concierge("a", "x", "e3", 6) == []
    [event] = case.withdraw_concierge("b", "病假", "e3", 6)
    assert isinstance(event, ConciergeWithdrawnFromCase)
    case.apply(event)
    assert case.concierge is None and case.board_version == 6
