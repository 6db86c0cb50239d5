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
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn, Protocol

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import WithJsonSchema
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.contracts.text import shows_nothing

MAX_KEY_CHARACTERS = 128
HEADER = "idempotency-key"
# What the OpenAPI says of the header; key_text() enforces it on the characters as written (UTF-8), which
# FastAPI's own max_length cannot: it counts the header's bytes seen as Latin-1 (来 is 3 of them).
KeyHeaderText = Annotated[
    str, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARACTERS})
]


def _refuse(msg: str, name: str) -> NoReturn:
    raise RequestValidationError([{"loc": ("header", name), "msg": msg, "type": "value_error"}])


def key_text(value: str, name: str = HEADER) -> str:
    """Return a key header's text as the caller wrote it (UTF-8), or refuse it with 422 and the reason."""
    # HTTP hands header bytes over as Latin-1, so `来访-001` arrives as mojibake: decoded here, once.
    try:
        text = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        _refuse("请求头不是有效的 UTF-8 / the header is not valid UTF-8", name)
    for ch in text:
        code, category = f"U+{ord(ch):04X}", unicodedata.category(ch)
        if category in ("Cc", "Cs") or ch in "\ufffe\uffff":
            _refuse(f"请求头含控制字符 / the header holds the control character {code}", name)
        # Zero-width characters and bidi overrides make two keys look alike, or one read reversed in a log.
        if category == "Cf":
            _refuse(
                f"请求头含不可见的格式字符 {code}（零宽字符或双向控制符） / the header holds the invisible "
                f"format character {code} (zero-width or bidirectional control)",
                name,
            )
    if not 1 <= len(text.strip()) <= MAX_KEY_CHARACTERS or text != text.strip():
        _refuse(
            f"须为 1-{MAX_KEY_CHARACTERS} 个字符且首尾无空白 / must be 1-{MAX_KEY_CHARACTERS} characters, no "
            "leading or trailing blanks",
            name,
        )
    if shows_nothing(text):
        _refuse("不能只有不可见字符 / must not be made only of invisible characters", name)
    return text


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
    request: Request, idempotency_key: Annotated[KeyHeaderText | None, Header()] = None
) -> str | None:
    """Return the request's Idempotency-Key (None without one); a repeated or malformed header is refused."""
    refuse_repeated_key(request)
    if idempotency_key is not None:
        key_text(idempotency_key)
    # The header as received (not its decoded text): the scopes and command ids recorded so far derive from it,
    # so a retry sent across an upgrade still finds its first answer.
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
