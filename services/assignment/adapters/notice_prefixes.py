"""Which bureau a 机关代字 (document-number prefix) belongs to: the first bureau to number a notice with it."""

from __future__ import annotations

from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

NOTICE_PREFIXES = "assignment_notice_prefixes"


class NoticePrefixes(Protocol):
    """Port: claim a prefix for a bureau; two bureaus never number documents under the same one."""

    async def claim(self, prefix: str, bureau: str) -> str:
        """Claim the prefix for the bureau unless another holds it; return the bureau that holds it."""
        ...


class MongoNoticePrefixes:
    """Claims in a collection owned by the assignment service (`_id` = the prefix: a claim is race-free)."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def claim(self, prefix: str, bureau: str) -> str:
        """Insert the claim; a duplicate key means someone holds it already, so read who."""
        try:
            await self._collection.insert_one({"_id": prefix, "bureau": bureau})
            return bureau
        except DuplicateKeyError:
            held = await self._collection.find_one({"_id": prefix})
            return str(held["bureau"]) if held else bureau  # deleted meanwhile: nobody else holds it


class MemoryNoticePrefixes:
    """The same claims in a dict, for unit tests."""

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}

    async def claim(self, prefix: str, bureau: str) -> str:
        """Claim the prefix for the bureau unless another holds it; return the bureau that holds it."""
        return self._holders.setdefault(prefix, bureau)
