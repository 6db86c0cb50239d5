"""Two assignment instances over one event store: neither decides on a board it never caught up."""

from __future__ import annotations

from datetime import datetime

from services.assignment.application.boards import Boards, Cases, board_stream
from services.assignment.application.policies import (
    assign_concierge_when_case_opened,
    release_concierge_when_case_resolved,
)
from shared.contracts.assignment import Post
from shared.contracts.casework import CaseResolved, ProblemClarified
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.support import credit_code
from tests.unit.test_assignment_support import context, open_case, record

NOW = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)


async def board_types(recorder: InMemoryRecorder) -> list[str]:
    return [e.event_type for e in await recorder.read_stream(board_stream("finance"))]


async def test_a_release_decided_by_an_instance_with_a_stale_board_is_not_dropped() -> None:
    recorder = InMemoryRecorder()
    first, second, cases = Boards(recorder), Boards(recorder), Cases(recorder)
    await first.decide(
        context("finance"), lambda b: b.add_staff("a", "王科长", Post.SECTION_CHIEF, "预算科", NOW)
    )
    await second.current("finance")  # the second instance caches the board before the case exists
    opened = await open_case(recorder, "c1", "finance", 1)
    await assign_concierge_when_case_opened(opened, boards=first, cases=cases)

    await record(recorder, "c1", "finance", [ProblemClarified(summary="x", sections=["国库科"])])
    [resolution] = await record(
        recorder, "c1", "finance", [CaseResolved(summary="已到账", settlement_intent=True)]
    )
    assert await release_concierge_when_case_resolved(resolution, boards=second)

    assert (await board_types(recorder))[-2:] == ["CaseLeftEnterprise", "ConciergeReleased"]
    assert (await first.current("finance")).staff["a"].serving == set()


async def test_an_http_decision_on_a_stale_board_sees_staff_another_instance_added() -> None:
    recorder = InMemoryRecorder()
    first, second, cases = Boards(recorder), Boards(recorder), Cases(recorder)
    await first.decide(
        context("finance"), lambda b: b.add_staff("a", "王科长", Post.SECTION_CHIEF, "预算科", NOW)
    )
    await assign_concierge_when_case_opened(
        await open_case(recorder, "c1", "finance", 1), boards=first, cases=cases
    )
    await second.current("finance")
    await first.decide(
        context("finance"), lambda b: b.add_staff("b", "李科长", Post.SECTION_CHIEF, "国库科", NOW)
    )

    # Before the fix this raised AssignmentRefused ("no staff member b"), answered as a spurious 409.
    recorded = await second.decide(
        context("finance"), lambda b: b.reassign(credit_code(1), "b", "利益冲突", NOW)
    )
    assert [e.event_type for e in recorded] == ["ConciergeReassigned"]


async def test_a_step_refused_by_a_case_known_here_is_tried_again_on_the_stream_another_instance_moved() -> (
    None
):
    recorder = InMemoryRecorder()
    here, there = Cases(recorder), Cases(recorder)
    opened = await open_case(recorder, "c9", "finance", 9)
    here.observe(opened)  # this instance follows the case from the opening it consumed
    await there.decide(context("finance"), "c9", lambda c: c.clarify("资金未到账", ["国库科"]))

    # Known here, the case is not clarified and refuses a resolution; the stream says it is clarified.
    resolved = await here.decide(context("finance"), "c9", lambda c: c.resolve("已到账", True))

    assert resolved and resolved[0].event_type == "CaseResolved"
    assert [e.version for e in await recorder.read_stream("c9")] == [1, 2, 3]


async def test_a_step_on_a_case_known_here_but_moved_elsewhere_is_appended_after_the_newer_events() -> None:
    recorder = InMemoryRecorder()
    here, there = Cases(recorder), Cases(recorder)
    here.observe(await open_case(recorder, "c8", "finance", 8))
    await here.decide(context("finance"), "c8", lambda c: c.clarify("资金未到账", ["国库科"]))
    await there.decide(context("finance"), "c8", lambda c: c.resolve("已到账", True))

    # Known here at version 2, where a policy recommendation is allowed: the append expecting version 2 fails
    # on the stream at 3, and the step is decided again on the stream as it is.
    recommended = await here.decide(
        context("finance"), "c8", lambda c: c.recommend_policy("稳岗返还", "已说明")
    )

    assert recommended and recommended[0].version == 4
    types = [e.event_type for e in await recorder.read_stream("c8")]
    assert types[-2:] == ["CaseResolved", "PolicyRecommended"]


async def test_a_second_instance_shows_the_same_queue_and_assignment_times_as_the_deciding_one() -> None:
    recorder = InMemoryRecorder()
    deciding, reading, cases = Boards(recorder), Boards(recorder), Cases(recorder)
    for n in (1, 2):  # nobody on the roster: both enterprises wait
        opened = await open_case(recorder, f"c{n}", "finance", n)
        await assign_concierge_when_case_opened(opened, boards=deciding, cases=cases)
    await deciding.decide(
        context("finance"), lambda b: b.add_staff("a", "王科长", Post.SECTION_CHIEF, "预算科", NOW)
    )  # takes the first waiting enterprise

    live, replayed = await deciding.current("finance"), await reading.current("finance")

    # Each time is the board event's own (as recorded), whichever instance or restart shows it.
    assert [f.queued_at for f in live.queue()] == [f.queued_at for f in replayed.queue()]
    assert {c: f.assigned_at for c, f in live.files.items()} == {
        c: f.assigned_at for c, f in replayed.files.items()
    }
    queued = [
        e.occurred_at
        for e in await recorder.read_stream(board_stream("finance"))
        if e.event_type == "EnterpriseQueued"
    ]
    assert [f.queued_at for f in live.queue()] == queued[1:]
