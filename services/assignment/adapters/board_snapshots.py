"""Board snapshots: a cache collection {bureau, version, state}; deleting it changes nothing but start-up time."""

from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

BOARD_SNAPSHOTS = "assignment_board_snapshots"


class BoardSnapshots(Protocol):
    """Port: the latest saved state of each bureau's board."""

    async def load(self, bureau: str) -> dict[str, Any] | None:
        """Return the bureau's snapshot document, if any."""
        ...

    async def save(self, bureau: str, version: int, state: dict[str, Any]) -> None:
        """Keep the snapshot unless a newer one is already saved."""
        ...


class MongoBoardSnapshots:
    """Snapshots in a MongoDB collection owned by the assignment service (`_id` = bureau)."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def load(self, bureau: str) -> dict[str, Any] | None:
        """Return the bureau's snapshot state, if any."""
        doc = await self._collection.find_one({"_id": bureau})
        return dict(doc["state"]) if doc else None

    async def save(self, bureau: str, version: int, state: dict[str, Any]) -> None:
        """Replace an older snapshot (two processes may save; the newer version wins)."""
        try:
            await self._collection.update_one(
                {"_id": bureau, "version": {"$lt": version}},
                {"$set": {"version": version, "state": state}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a snapshot as new or newer is already saved


class InMemoryBoardSnapshots:
    """Snapshots in a dict, for unit tests."""

    def __init__(self) -> None:
        self.saved: dict[str, tuple[int, dict[str, Any]]] = {}

    async def load(self, bureau: str) -> dict[str, Any] | None:
        """Return the bureau's snapshot state, if any."""
        return self.saved[bureau][1] if bureau in self.saved else None

    async def save(self, bureau: str, version: int, state: dict[str, Any]) -> None:
        """Keep the newer snapshot."""
        if bureau not in self.saved or self.saved[bureau][0] < version:
            self.saved[bureau] = (version, state)
