"""Board snapshots are a cache: snapshot + tail equals a replay from version 1; deleting them changes nothing."""

from __future__ import annotations

from datetime import datetime

from services.assignment.adapters.board_snapshots import InMemoryBoardSnapshots
from services.assignment.application.boards import Boards, board_stream
from services.assignment.domain.board import AssignmentBoard
from services.assignment.domain.board_snapshot import snapshot_of
from shared.contracts.assignment import Post
from shared.contracts.events import parse_event_data
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_assignment_replay import World, board_decision, scripted_history
from tests.unit.test_assignment_support import context

NOW = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)


async def history_world() -> World:
    world = World()
    await scripted_history(world)
    await board_decision(world, lambda b: b.set_capacity(2, NOW))
    return world


async def test_a_board_loaded_from_any_snapshot_and_its_tail_equals_the_board_replayed_from_version_one() -> (
    None
):
    world = await history_world()
    stream = await world.recorder.read_stream(board_stream("finance"))
    replayed = snapshot_of(await Boards(world.recorder).current("finance"))

    for k in range(1, len(stream) + 1):
        board = AssignmentBoard("finance")
        for envelope in stream[:k]:
            board.apply(parse_event_data(envelope.event_type, 1, envelope.data), envelope.occurred_at)
            board.version = envelope.version
        snapshots = InMemoryBoardSnapshots()
        await snapshots.save("finance", k, snapshot_of(board))

        loaded = await Boards(world.recorder, snapshots=snapshots).current("finance")

        assert snapshot_of(loaded) == replayed, f"snapshot at version {k}"


async def test_boards_save_snapshots_as_they_go_and_deleting_them_changes_nothing() -> None:
    world = await history_world()
    snapshots = InMemoryBoardSnapshots()
    boards = Boards(world.recorder, snapshots=snapshots, snapshot_every=5)
    head = await world.recorder.stream_version(board_stream("finance"))
    await boards.current("finance")
    assert snapshots.saved["finance"][0] == head

    snapshots.saved.clear()
    fresh = await Boards(world.recorder, snapshots=snapshots).current("finance")
    assert snapshot_of(fresh) == snapshot_of(await Boards(world.recorder).current("finance"))


async def test_a_snapshot_of_another_schema_is_ignored() -> None:
    world = await history_world()
    snapshots = InMemoryBoardSnapshots()
    await snapshots.save("finance", 3, {"schema_version": 0, "bureau": "finance"})
    loaded = await Boards(world.recorder, snapshots=snapshots).current("finance")
    assert snapshot_of(loaded) == snapshot_of(await Boards(world.recorder).current("finance"))


async def test_the_default_capacity_is_not_frozen_into_a_snapshot() -> None:
    world = World()
    await world.live.boards.decide(
        context("finance"), lambda b: b.add_staff("a", "王", Post.SECTION_CHIEF, "预算科", NOW)
    )
    snapshots = InMemoryBoardSnapshots()
    await Boards(world.recorder, snapshots=snapshots, snapshot_every=1).current("finance")

    loaded = await Boards(world.recorder, capacity=lambda _: 3, snapshots=snapshots).current("finance")

    assert loaded.capacity == 3
