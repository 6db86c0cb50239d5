"""The MongoDB recorder passes the recorder contract on a real SecantusDB, its sequencer running alongside."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.eventstore.mongo import EVENTS, HEAD_ID, META, MongoRecorder
from shared.eventstore.sequencer import Sequencer
from shared.testing.recorder_contract import RecorderContract, StoreHarness, event, recording

pytestmark = pytest.mark.integration


class TestMongoRecorder(RecorderContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase) -> AsyncIterator[StoreHarness]:
        sequencer = Sequencer(mongo_db)
        lock = asyncio.Lock()

        async def settle() -> None:
            async with lock:
                while await sequencer.sequence_once():
                    pass

        async def keep_sequencing() -> None:
            # Concurrent with the writers, as the relay runs in production.
            while True:
                await settle()
                await asyncio.sleep(0.001)

        task = asyncio.create_task(keep_sequencing())
        yield StoreHarness(MongoRecorder(mongo_db.client, mongo_db), settle)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_reading_the_global_order_passes_over_unused_positions(mongo_db: AsyncDatabase) -> None:
    """A sequencer that lost its lease mid-batch leaves positions unused; a reader must not stop there."""
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    for i in range(3):
        await recorder.append(recording(f"hole-{i}", 0), [event(i)])
    while await sequencer.sequence_once():
        pass
    last = await mongo_db[EVENTS].find_one({"stream_id": "hole-2"})
    assert last is not None
    moved = last["position"] + 50  # fifty unused positions, more than a page
    await mongo_db[EVENTS].update_one({"_id": last["_id"]}, {"$set": {"position": moved}})
    await mongo_db[META].update_one({"_id": HEAD_ID}, {"$set": {"position": moved}})
    seen, position = [], 0
    while page := await recorder.read_all(position, limit=10):
        seen += page
        position = page[-1].position or position
    assert [e.stream_id for e in seen] == ["hole-0", "hole-1", "hole-2"]


async def test_a_head_moved_less_often_hides_nothing_and_a_new_sequencer_adopts_the_positions_above_it(
    mongo_db: AsyncDatabase,
) -> None:
    """The relay moves the head at most every so often: readers see a complete prefix, nothing is renumbered."""
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    sequencer = Sequencer(mongo_db, head_every_s=3600)
    await recorder.append(recording("lazy-1", 0), [event(1)])
    assert await sequencer.sequence_once() == 1  # the first move is due at once
    await recorder.append(recording("lazy-2", 0), [event(2)])
    assert await sequencer.sequence_once() == 1
    first, second = sequencer.head - 1, sequencer.head  # type: ignore[operator]
    # Numbered and chained, but the head document still says the first: readers stop there, with no gap.
    assert await recorder.head_position() == first
    assert [e.stream_id for e in await recorder.read_all(0)] == ["lazy-1"]
    # A sequencer that takes over (this one crashed) adopts the position above the head, and numbers after it.
    successor = Sequencer(mongo_db)
    await mongo_db[META].delete_one({"_id": "sequencer-lease"})
    await recorder.append(recording("lazy-3", 0), [event(3)])
    assert await successor.sequence_once() == 1
    assert await recorder.head_position() == second + 1
    assert [e.stream_id for e in await recorder.read_all(0)] == ["lazy-1", "lazy-2", "lazy-3"]


async def test_an_idle_round_moves_a_head_left_behind(mongo_db: AsyncDatabase) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    sequencer = Sequencer(mongo_db, head_every_s=3600)
    for n in (1, 2):
        await recorder.append(recording(f"idle-{n}", 0), [event(n)])
        await sequencer.sequence_once()
    assert await recorder.head_position() == sequencer.head - 1  # type: ignore[operator]
    assert await sequencer.sequence_once() == 0  # nothing pending: the head catches up now
    assert await recorder.head_position() == sequencer.head
