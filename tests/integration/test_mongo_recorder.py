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
