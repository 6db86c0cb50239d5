"""A CaseOpened handled late (the consumer lagged or restarted) gives no concierge to a case solved meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment.application.boards import Boards, Cases, board_stream
from services.assignment.application.policies import assign_concierge_when_case_opened
from shared.contracts.assignment import Post
from shared.contracts.casework import CaseReopened, CaseResolved, ProblemClarified, RatingCollected
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.memory import InMemoryRecorder
from tests.unit.test_assignment_support import context, open_case, record


async def board_types(recorder: InMemoryRecorder) -> list[str]:
    return [e.event_type for e in await recorder.read_stream(board_stream("finance"))]


async def with_a_free_chief() -> tuple[InMemoryRecorder, Boards, Cases]:
    recorder = InMemoryRecorder()
    boards, cases = Boards(recorder), Cases(recorder)
    now = datetime.now(UTC)
    await boards.decide(
        context("finance"), lambda b: b.add_staff("a", "王科长", Post.SECTION_CHIEF, "预算科", now)
    )
    return recorder, boards, cases


def handled_after(opened: EventEnvelope, seconds: float) -> EventEnvelope:
    """The same CaseOpened as a consumer gets it `seconds` after it occurred."""
    return opened.model_copy(update={"occurred_at": datetime.now(UTC) - timedelta(seconds=seconds)})


async def solve(recorder: InMemoryRecorder, case_id: str) -> None:
    await record(recorder, case_id, "finance", [ProblemClarified(summary="x", sections=["国库科"])])
    await record(recorder, case_id, "finance", [CaseResolved(summary="已解决", settlement_intent=True)])


async def test_a_case_resolved_before_its_late_opening_is_handled_gets_no_concierge() -> None:
    recorder, boards, cases = await with_a_free_chief()
    opened = await open_case(recorder, "c1", "finance", 1)
    await solve(recorder, "c1")

    assert not await assign_concierge_when_case_opened(handled_after(opened, 20), boards=boards, cases=cases)

    assert "ConciergeAssigned" not in await board_types(recorder)
    assert [e.event_type for e in await recorder.read_stream("c1")][-1] == "CaseResolved"


@pytest.mark.parametrize("late", [True, False])
async def test_a_case_still_open_or_reopened_is_placed_however_late(late: bool) -> None:
    recorder, boards, cases = await with_a_free_chief()
    opened = await open_case(recorder, "c1", "finance", 1)
    if late:  # solved, rated low and reopened while the consumer was away: it still needs a concierge
        await solve(recorder, "c1")
        events = [
            RatingCollected(rating=1, comment="没解决"),
            CaseReopened(reason="rated 1", flagged_for_leadership=True),
        ]
        await record(recorder, "c1", "finance", events)

    assert await assign_concierge_when_case_opened(
        handled_after(opened, 20 if late else 0), boards=boards, cases=cases
    )

    assert "ConciergeAssigned" in await board_types(recorder)
