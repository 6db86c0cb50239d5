"""An in-memory stand-in for the few collection operations the auth stores use (unit tests, benchmarks).

It is the same store code over a different collection, so the tests exercise the real queries' logic:
equality filters (and `$in`, `$ne`, `$lt`, `$or`), `$set`/`$inc`/`$max`/`$unset` updates, upserts, unique
fields, `find_one_and_update`, and `find` with a sort."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable
from typing import Any

from pymongo.errors import DuplicateKeyError


class _Result:
    def __init__(self, matched: int) -> None:
        self.matched_count = self.modified_count = matched


def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for field, wanted in query.items():
        if field == "$or":
            if not any(_matches(doc, alternative) for alternative in wanted):
                return False
            continue
        value = doc.get(field)
        if isinstance(wanted, dict) and "$lt" in wanted:
            if value is None or not value < wanted["$lt"]:  # like MongoDB: null is not less than a number
                return False
        elif isinstance(wanted, dict) and "$in" in wanted:
            if value not in wanted["$in"]:
                return False
        elif isinstance(wanted, dict) and "$ne" in wanted:
            if value == wanted["$ne"]:
                return False
        elif value != wanted:
            return False
    return True


class MemoryCursor:
    """What find returns: async iteration, optionally sorted."""

    def __init__(self, docs: Iterable[dict[str, Any]]) -> None:
        self._docs = list(docs)

    def sort(self, field: str, direction: int = 1) -> MemoryCursor:
        """Sort by one field."""
        self._docs.sort(key=lambda d: (d.get(field) is None, d.get(field)), reverse=direction < 0)
        return self

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:  # type: ignore[misc]
        for doc in self._docs:
            yield copy.deepcopy(doc)


class MemoryCollection:
    """Documents by _id, with optional unique field groups (like a unique compound index)."""

    def __init__(self, unique: tuple[tuple[str, ...], ...] = ()) -> None:
        self.docs: dict[Any, dict[str, Any]] = {}
        self.reads = 0
        self._unique = unique

    async def find_one(self, query: dict[str, Any], *_: Any) -> dict[str, Any] | None:
        """Return a copy of the first matching document."""
        self.reads += 1
        if "_id" in query and not isinstance(query["_id"], dict):
            doc = self.docs.get(query["_id"])
            return copy.deepcopy(doc) if doc is not None and _matches(doc, query) else None
        return next((copy.deepcopy(d) for d in self.docs.values() if _matches(d, query)), None)

    def find(self, query: dict[str, Any], *_: Any) -> MemoryCursor:
        """Return the matching documents."""
        self.reads += 1
        return MemoryCursor(d for d in self.docs.values() if _matches(d, query))

    async def insert_one(self, doc: dict[str, Any]) -> None:
        """Insert, refusing a duplicate _id or unique field group."""
        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"duplicate _id {doc['_id']}")
        for fields in self._unique:
            key = tuple(doc.get(f) for f in fields)
            if None in key:  # like a partial index: documents without the fields are not held to it
                continue
            if any(tuple(d.get(f) for f in fields) == key for d in self.docs.values()):
                raise DuplicateKeyError(f"duplicate {fields}")
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def update_one(
        self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False
    ) -> _Result:
        """Update the first matching document (or, with upsert, insert one from the query's equalities)."""
        for doc in self.docs.values():
            if _matches(doc, query):
                _apply(doc, update)
                return _Result(1)
        if upsert:
            new = {k: v for k, v in query.items() if not k.startswith("$") and not isinstance(v, dict)}
            _apply(new, update)
            await self.insert_one(new)
        return _Result(0)

    async def find_one_and_update(
        self, query: dict[str, Any], update: dict[str, Any], *, return_document: Any = False
    ) -> dict[str, Any] | None:
        """Update the first matching document; return it as after (ReturnDocument.AFTER) or before."""
        for doc in self.docs.values():
            if _matches(doc, query):
                before = copy.deepcopy(doc)
                _apply(doc, update)
                return copy.deepcopy(doc) if return_document else before
        return None

    async def update_many(self, query: dict[str, Any], update: dict[str, Any]) -> _Result:
        """Update every matching document."""
        matched = [d for d in self.docs.values() if _matches(d, query)]
        for doc in matched:
            _apply(doc, update)
        return _Result(len(matched))


def _apply(doc: dict[str, Any], update: dict[str, Any]) -> None:
    doc.update(copy.deepcopy(update.get("$set", {})))
    for field, step in update.get("$inc", {}).items():
        doc[field] = doc.get(field, 0) + step
    for field, value in update.get("$max", {}).items():
        if doc.get(field) is None or value > doc[field]:
            doc[field] = copy.deepcopy(value)
    for field in update.get("$unset", {}):
        doc.pop(field, None)


class MemoryDatabase(dict[str, MemoryCollection]):
    """Collections by name, created on first use."""

    def __missing__(self, name: str) -> MemoryCollection:
        unique = (("bureau", "username"), ("bureau", "username_folded")) if name == "accounts" else ()
        self[name] = MemoryCollection(unique)
        return self[name]
