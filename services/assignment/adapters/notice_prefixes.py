"""Which bureau a 机关代字 (document-number prefix) belongs to: the first bureau to number a notice with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

NOTICE_PREFIXES = "assignment_notice_prefixes"


class NoticePrefixes(Protocol):
    """Port: claim a prefix for a bureau; two bureaus never number documents under the same one."""

    async def claim(self, prefix: str, bureau: str) -> tuple[str, bool]:
        """Claim the prefix for the bureau unless another holds it; return the holder and whether it is new."""
        ...

    async def release(self, prefix: str, bureau: str) -> None:
        """Give up the bureau's claim (a claim made for a notice that was then refused)."""
        ...

    async def holder(self, prefix: str) -> str | None:
        """Return the bureau holding the prefix, if any."""
        ...

    async def take_over(self, prefix: str, holder: str, bureau: str, older_than: timedelta) -> bool:
        """Move a claim the holder made longer ago than `older_than` to the bureau; True when it moved."""
        ...


class MongoNoticePrefixes:
    """Claims in a collection owned by the assignment service (`_id` = the prefix: a claim is race-free)."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def claim(self, prefix: str, bureau: str) -> tuple[str, bool]:
        """Insert the claim; a duplicate key means someone holds it already, so read who."""
        try:
            await self._collection.insert_one({"_id": prefix, "bureau": bureau, "at": datetime.now(UTC)})
            return bureau, True
        except DuplicateKeyError:
            held = await self._collection.find_one({"_id": prefix})
            if held is None:  # released meanwhile: claim it again
                return await self.claim(prefix, bureau)
            return str(held["bureau"]), False

    async def release(self, prefix: str, bureau: str) -> None:
        """Delete the claim if the bureau holds it."""
        await self._collection.delete_one({"_id": prefix, "bureau": bureau})

    async def holder(self, prefix: str) -> str | None:
        """Return the bureau holding the prefix, if any."""
        held = await self._collection.find_one({"_id": prefix})
        return str(held["bureau"]) if held else None

    async def take_over(self, prefix: str, holder: str, bureau: str, older_than: timedelta) -> bool:
        """Move the claim only if that holder still has it and made it long enough ago (compare-and-set)."""
        now = datetime.now(UTC)
        # A claim without `at` predates the field: old enough.
        old = {"$or": [{"at": {"$lt": now - older_than}}, {"at": {"$exists": False}}]}
        moved = await self._collection.update_one(
            {"_id": prefix, "bureau": holder, **old}, {"$set": {"bureau": bureau, "at": now}}
        )
        return moved.modified_count == 1


class MemoryNoticePrefixes:
    """The same claims in a dict, for unit tests."""

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}
        self._at: dict[str, datetime] = {}

    async def claim(self, prefix: str, bureau: str) -> tuple[str, bool]:
        """Claim the prefix for the bureau unless another holds it; return the holder and whether it is new."""
        new = prefix not in self._holders
        if new:
            self._at[prefix] = datetime.now(UTC)
        return self._holders.setdefault(prefix, bureau), new

    async def release(self, prefix: str, bureau: str) -> None:
        """Delete the claim if the bureau holds it."""
        if self._holders.get(prefix) == bureau:
            del self._holders[prefix]

    async def holder(self, prefix: str) -> str | None:
        """Return the bureau holding the prefix, if any."""
        return self._holders.get(prefix)

    async def take_over(self, prefix: str, holder: str, bureau: str, older_than: timedelta) -> bool:
        """Move the claim only if that holder still has it and made it long enough ago."""
        if self._holders.get(prefix) != holder or datetime.now(UTC) - self._at[prefix] < older_than:
            return False
        self._holders[prefix], self._at[prefix] = bureau, datetime.now(UTC)
        return True
