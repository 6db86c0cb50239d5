"""Group commit: a round's concurrent sends share writes, and a failed write fails only its own callers."""

from __future__ import annotations

import asyncio

import pytest

from services.notification.adapters.group_commit import GroupCommit


class Store:
    """Records each write's items; the write takes a moment; can fail the writes holding a poisoned item."""

    def __init__(self) -> None:
        self.writes: list[list[str]] = []

    async def write(self, items: list[str]) -> None:
        await asyncio.sleep(0.01)
        if "poison" in items:
            raise RuntimeError("write refused")
        self.writes.append(items)


async def test_items_handed_in_during_a_write_go_together_in_the_next_one() -> None:
    store = Store()
    commit = GroupCommit(store.write)
    first = asyncio.create_task(commit.submit("a"))
    await asyncio.sleep(0)  # the first write is under way
    await asyncio.gather(first, *(commit.submit(item) for item in ("b", "c", "d")))
    assert store.writes == [["a"], ["b", "c", "d"]]


async def test_a_failed_write_fails_its_own_callers_and_the_next_write_goes_ahead() -> None:
    store = Store()
    commit = GroupCommit(store.write)
    first = asyncio.create_task(commit.submit("poison"))
    await asyncio.sleep(0)
    later = asyncio.create_task(commit.submit("e"))
    with pytest.raises(RuntimeError, match="write refused"):
        await first
    await later
    assert store.writes == [["e"]]


async def test_a_caller_returns_only_once_its_item_is_written() -> None:
    store = Store()
    commit = GroupCommit(store.write)
    await commit.submit("a")
    assert store.writes == [["a"]]
