"""Idempotency-Key handling shared by every write endpoint of the assignment service."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from services.assignment.application.boards import Context
from shared.auth.actors import actor_of
from shared.auth.keys import Principal
from shared.idempotency import IdempotencyStore, RecordedAnswer, fingerprint_of, scope_of

T = TypeVar("T", bound=BaseModel)
KEY_REUSED = (
    "该 Idempotency-Key 已用于另一个请求 / this Idempotency-Key was already used with a different request "
    "body; use a new key for a new request"
)


def command_context(principal: Principal, scope: str | None) -> Context:
    """Context of an HTTP command: its command id is derived from the scoped key, or random without one."""
    name = hashlib.sha256(scope.encode()).hexdigest()[:32] if scope else uuid.uuid4().hex
    return Context(
        bureau=principal.bureau,
        actor=actor_of(principal),
        command_id=f"http:{principal.bureau}:{name}",
        correlation_id=uuid.uuid4(),
        keyed=scope is not None,
    )


def new_id(context: Context, kind: str) -> str:
    """Return an id for what a command creates: the same on every retry of the same scoped key."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{context.command_id}:{kind}"))


async def idempotent(
    request: Request,
    caller: Principal,
    key: str | None,
    payload: BaseModel,
    answer_type: type[T],
    run: Callable[[Context], Awaitable[T]],
    status_code: int = status.HTTP_201_CREATED,
) -> T:
    """Run a command once per scoped key: a true retry gets the first answer, a reused key with another body 409."""
    if key is None:
        return await run(command_context(caller, None))
    store: IdempotencyStore = request.app.state.idempotency
    scope = scope_of(caller.bureau, request.method, request.url.path, key)
    fingerprint = fingerprint_of(payload.model_dump(mode="json"))
    found = await store.find(scope)
    if found is not None:
        return _replayed(found, fingerprint, answer_type)
    answer = await run(command_context(caller, scope))
    recorded = await store.record(RecordedAnswer(scope, fingerprint, status_code, jsonable_encoder(answer)))
    return _replayed(recorded, fingerprint, answer_type)


def _replayed(found: RecordedAnswer, fingerprint: str, answer_type: type[T]) -> T:
    if found.fingerprint != fingerprint:
        raise HTTPException(status.HTTP_409_CONFLICT, KEY_REUSED)
    return answer_type.model_validate(found.body)
