"""Idempotency-Key handling and the command context of an HTTP call."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from services.disbursement.application.answers import DisbursementRecorded
from services.disbursement.application.commands import Context
from shared.auth.actors import actor_of
from shared.auth.keys import Principal
from shared.idempotency import IdempotencyStore, RecordedAnswer, fingerprint_of, scope_of

KEY_REUSED = (
    "该 Idempotency-Key 已用于另一个请求 / this Idempotency-Key was already used with a different request "
    "body; use a new key for a new request"
)


def reporter_of(principal: Principal) -> str:
    """Return who reported something, as the timeline shows it: the person (with post) or the key."""
    if principal.name:
        return f"{principal.name} ({principal.post})" if principal.post else principal.name
    return f"{principal.bureau} key {principal.key_id}"


def command_context(principal: Principal, scope: str | None) -> Context:
    """Context of an HTTP command: its command id derives from the scoped key, or is random without one."""
    name = hashlib.sha256(scope.encode()).hexdigest()[:32] if scope else uuid.uuid4().hex
    return Context(
        bureau=principal.bureau,
        actor=actor_of(principal),
        command_id=f"disbursement:http:{principal.bureau}:{name}",
        correlation_id=uuid.uuid4(),
        reported_by=reporter_of(principal),
    )


async def idempotent(
    request: Request,
    caller: Principal,
    key: str | None,
    payload: BaseModel,
    run: Callable[[Context], Awaitable[DisbursementRecorded]],
) -> DisbursementRecorded:
    """Run a command once per scoped key: a retry gets the first answer, a reused key with another body 409."""
    if key is None:
        return await run(command_context(caller, None))
    store: IdempotencyStore = request.app.state.idempotency
    scope = scope_of(caller.bureau, request.method, request.url.path, key)
    fingerprint = fingerprint_of(payload.model_dump(mode="json"))
    found = await store.find(scope)
    if found is None:
        answer = await run(command_context(caller, scope))
        recorded = await store.record(RecordedAnswer(scope, fingerprint, 201, jsonable_encoder(answer)))
        if recorded.fingerprint != fingerprint:
            raise HTTPException(status.HTTP_409_CONFLICT, KEY_REUSED)
        return answer
    if found.fingerprint != fingerprint:
        raise HTTPException(status.HTTP_409_CONFLICT, KEY_REUSED)
    return DisbursementRecorded.model_validate({**found.body, "replayed": True})
