"""The in-memory fake passes the recorder contract."""

import pytest

from shared.eventstore.memory import InMemoryRecorder
from shared.testing.recorder_contract import RecorderContract, StoreHarness


async def _nothing() -> None:
    return None


class TestInMemoryRecorder(RecorderContract):
    @pytest.fixture
    def store(self) -> StoreHarness:
        return StoreHarness(InMemoryRecorder(), _nothing)
