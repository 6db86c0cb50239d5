"""Replays (broker loss, consumer-group reset, DLQ replay) change nothing: every assignment consumer.

A scripted history runs through the same handlers the Kafka subscribers use, with every recorded event
delivered as the relay would. Then every event is delivered again, twice, by a fresh instance (a restarted
process, cold cache), both right away and after the state moved on: no event is appended.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from services.assignment.application.boards import Boards, Cases, board_stream
from services.assignment.application.calendars import Calendars
from services.assignment.entrypoints.kafka import (
    board_event_handler,
    calendar_event_handler,
    case_event_handler,
)
from services.assignment.projections.case_summaries import InMemoryCaseSummaries
from shared.contracts.assignment import Post
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.support import credit_code
from tests.unit.test_assignment_support import context, open_case

Handler = Callable[[EventEnvelope], Awaitable[bool | None]]
NOW = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)


@dataclass
class Instance:
    """One assignment process: its caches and the three consumers' handlers."""

    boards: Boards
    cases: Cases
    calendars: Calendars
    handlers: dict[str, Handler]


def instance(recorder: InMemoryRecorder, summaries: InMemoryCaseSummaries) -> Instance:
    boards, cases, calendars = Boards(recorder), Cases(recorder), Calendars(recorder)
    handlers = {
        "case": case_event_handler(boards=boards, cases=cases, calendars=calendars, summaries=summaries),
        "board": board_event_handler(boards=boards, cases=cases),
        "calendar": calendar_event_handler(cases=cases, calendars=calendars, summaries=summaries),
    }
    return Instance(boards, cases, calendars, handlers)


@dataclass
class World:
    """The event store, an assignment instance, and the relay's position."""

    recorder: InMemoryRecorder = field(default_factory=InMemoryRecorder)
    position: int = 0

    def __post_init__(self) -> None:
        self.summaries = InMemoryCaseSummaries(self.recorder)
        self.live = instance(self.recorder, self.summaries)

    async def relay(self) -> None:
        """Deliver every new event to its consumer until nothing new is recorded."""
        while batch := await self.recorder.read_all(after_position=self.position):
            for envelope in batch:
                self.position = envelope.position or self.position
                await self.live.handlers[envelope.stream_type](envelope)

    async def history(self) -> list[EventEnvelope]:
        return await self.recorder.read_all(limit=100_000)


async def board_decision(world: World, decide: Callable) -> None:  # type: ignore[type-arg]
    await world.live.boards.decide(context("finance"), decide)
    await world.relay()


async def case_step(world: World, case_id: str, decide: Callable) -> None:  # type: ignore[type-arg]
    await world.live.cases.decide(context("finance"), case_id, decide)
    await world.relay()


async def scripted_history(world: World) -> None:
    """Staff, assignments, a join, a queue, a reassignment, resolutions, a reopening, a calendar year."""
    for staff_id in ("a", "b"):
        await board_decision(
            world, lambda b, s=staff_id: b.add_staff(s, f"科长{s}", Post.SECTION_CHIEF, "预算科", NOW)
        )
    for case_id, n in (("c1", 1), ("c2", 1), ("c3", 2), ("c4", 3)):  # c2 joins c1's enterprise, e3 waits
        await open_case(world.recorder, case_id, "finance", n)
        await world.relay()
    await board_decision(
        world, lambda b: b.add_staff("d", "科长d", Post.SECTION_CHIEF, "预算科", NOW)
    )  # serves e3
    await board_decision(world, lambda b: b.add_staff("e", "科长e", Post.SECTION_CHIEF, "预算科", NOW))
    await board_decision(world, lambda b: b.reassign(credit_code(1), "e", "利益冲突", NOW))
    for case_id in ("c1", "c2", "c3"):
        await case_step(world, case_id, lambda c: c.clarify("补贴未到账", ["国库科"]))
        await case_step(world, case_id, lambda c: c.resolve("已到账", True))
    await case_step(world, "c2", lambda c: c.collect_rating(1, "太慢"))  # reopened: back to e, a no-op on c2
    await board_decision(world, lambda b: b.reassign(credit_code(1), "a", "工作量", NOW))
    calendar = await world.live.calendars.current()
    await case_step(world, "c4", lambda c: c.clarify("跨年", ["国库科"]))
    deadline = calendar.add_workdays(NOW, 80)  # reaches 2027, not published yet: provisional
    await case_step(world, "c4", lambda c: c.open_task("t1", "国库科", "跨年", 80, deadline, NOW))
    await publish_2027(world, extra_holiday=None)


async def publish_2027(world: World, extra_holiday: date | None) -> None:
    holidays = [date(2027, 1, 1), *(date(2027, 2, d) for d in range(5, 12))]
    holidays += [extra_holiday] if extra_holiday else []
    event = {"year": 2027, "holidays": holidays, "makeup_workdays": [], "published_by": "zone/test"}
    await world.live.calendars.publish(context("zone"), event)
    await world.relay()


async def replay_twice_with_a_fresh_instance(world: World, envelopes: list[EventEnvelope]) -> None:
    fresh = instance(world.recorder, world.summaries)
    for envelope in envelopes:
        for _ in range(2):
            await fresh.handlers[envelope.stream_type](envelope)


async def test_replaying_every_event_twice_appends_nothing_and_the_cases_agree_with_the_board() -> None:
    world = World()
    await scripted_history(world)
    history = await world.history()
    kinds = {e.event_type for e in history}
    assert {"ConciergeReassigned", "CaseJoinedEnterprise", "CaseReopened"} <= kinds
    assert {"EnterpriseQueued", "CoordinationTaskDueRecomputed"} <= kinds

    await replay_twice_with_a_fresh_instance(world, history)

    assert await world.history() == history
    await assert_cases_agree_with_the_board(world)


async def test_replaying_after_the_state_moved_on_appends_nothing() -> None:
    world = World()
    await scripted_history(world)
    old = await world.history()
    await case_step(world, "c2", lambda c: c.resolve("再次解决", True))  # the concierge is released again
    await board_decision(world, lambda b: b.add_staff("f", "科长f", Post.SECTION_CHIEF, "预算科", NOW))
    await publish_2027(world, extra_holiday=date(2027, 3, 1))  # a correction: version 2
    moved_on = await world.history()

    await replay_twice_with_a_fresh_instance(world, old)

    assert await world.history() == moved_on
    await assert_cases_agree_with_the_board(world)


async def test_a_replayed_older_board_event_does_not_write_the_old_concierge_back_onto_the_case() -> None:
    world = World()
    await scripted_history(world)
    joined = [e for e in await world.history() if e.event_type == "CaseJoinedEnterprise"]
    assert joined and joined[-1].data["staff_id"] == "e"  # the reopening of c2, before the move to a

    await world.live.handlers["board"](joined[-1])

    case = await world.live.cases.load("c2")
    assert case is not None and case.concierge == "a"


async def assert_cases_agree_with_the_board(world: World) -> None:
    board = await Boards(world.recorder).current("finance")
    for file in board.files.values():
        for case_id in file.open_cases:
            case = await world.live.cases.load(case_id)
            assert case is not None and case.concierge == file.staff_id, case_id
    assert len(await world.recorder.read_stream(board_stream("finance"))) > 10
