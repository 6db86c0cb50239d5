"""The MongoDB recorder passes the recorder contract on a real SecantusDB, its sequencer running alongside."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.sequencer import Sequencer
from shared.testing.recorder_contract import RecorderContract, StoreHarness

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
