"""Idempotency-Key records: the first answer to a scoped key, with a fingerprint of the request it answered.

A key alone is not a request's identity: the same key sent to another path, another case or with another
body is another request. So the key is scoped (bureau, method, path) and the record keeps a hash of the
canonical body. A true retry gets the recorded answer back (same status, same body); a reuse with a
different request is refused. The event store stays idempotent on its own (command ids derived from the
scoped key), which covers two retries racing before either answer was recorded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

MAX_KEY_CHARACTERS = 128


def refuse_repeated_key(request: Request) -> None:
    """Refuse a request that carries the Idempotency-Key header more than once (422, as a malformed key)."""
    # Two keys name two requests: whichever one were taken, a retry under the other would run it twice.
    count = len(request.headers.getlist("idempotency-key"))
    if count > 1:
        msg = f"只能发送一个 Idempotency-Key，收到 {count} 个 / send one Idempotency-Key header, not {count}"
        raise RequestValidationError(
            [{"loc": ("header", "idempotency-key"), "msg": msg, "type": "value_error"}]
        )


async def idempotency_key_of(
    request: Request,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=MAX_KEY_CHARACTERS)] = None,
) -> str | None:
    """Return the request's Idempotency-Key (None without one); a repeated header is refused."""
    refuse_repeated_key(request)
    return idempotency_key


# The Idempotency-Key of a write route: `idempotency_key: IdempotencyKey = None`.
IdempotencyKey = Annotated[str | None, Depends(idempotency_key_of)]


@dataclass(frozen=True)
class RecordedAnswer:
    """The answer given to the first request under a scoped key."""

    scope: str
    fingerprint: str
    status: int
    body: Any


def scope_of(bureau: str, method: str, path: str, key: str) -> str:
    """Return the scope of a key: one bureau, one method, one path (which names the stream)."""
    return f"{bureau} {method.upper()} {path} {key}"


def fingerprint_of(payload: Any) -> str:
    """Return the SHA-256 of a request body in canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore(Protocol):
    """Port: recorded answers by scope."""

    async def find(self, scope: str) -> RecordedAnswer | None:
        """Return the answer recorded under a scope."""
        ...

    async def record(self, answer: RecordedAnswer) -> RecordedAnswer:
        """Record an answer unless one exists; return the one that is recorded (first writer wins)."""
        ...


class MongoIdempotencyStore:
    """Recorded answers in a MongoDB collection (`_id` = scope, so the first insert wins)."""

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def find(self, scope: str) -> RecordedAnswer | None:
        """Return the answer recorded under a scope."""
        doc = await self._collection.find_one({"_id": scope})
        if doc is None:
            return None
        return RecordedAnswer(scope, doc["fingerprint"], int(doc["status"]), json.loads(doc["body"]))

    async def record(self, answer: RecordedAnswer) -> RecordedAnswer:
        """Insert the answer; on a concurrent first insert return the other one."""
        try:
            await self._collection.insert_one(
                {
                    "_id": answer.scope,
                    "fingerprint": answer.fingerprint,
                    "status": answer.status,
                    # Stored as JSON text so the replayed body is byte-for-byte what was first answered.
                    "body": json.dumps(answer.body, ensure_ascii=False),
                    "recorded_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            found = await self.find(answer.scope)
            if found is not None:
                return found
        return answer


class InMemoryIdempotencyStore:
    """Recorded answers in a dict, for unit tests."""

    def __init__(self) -> None:
        self.answers: dict[str, RecordedAnswer] = {}

    async def find(self, scope: str) -> RecordedAnswer | None:
        """Return the answer recorded under a scope."""
        return self.answers.get(scope)

    async def record(self, answer: RecordedAnswer) -> RecordedAnswer:
        """Record the answer unless one exists."""
        return self.answers.setdefault(answer.scope, answer)
