"""Unordered bulk writes in which a duplicate key means another writer got there first (not a failure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import InsertOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


async def write_unordered(collection: AsyncCollection, operations: Sequence[Any]) -> set[int]:
    """Run the operations unordered; return the indices a duplicate key stopped (any other error raises)."""
    if not operations:
        return set()
    try:
        await collection.bulk_write(list(operations), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {int(error["index"]) for error in errors}
    return set()


async def insert_new(collection: AsyncCollection, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the documents unordered; return those whose _id another writer had taken meanwhile."""
    taken = await write_unordered(collection, [InsertOne(doc) for doc in docs])
    return [docs[index] for index in sorted(taken)]
