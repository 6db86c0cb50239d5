"""Use case: open a case from an enterprise's problem, once per request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from services.intake.domain.case import case_id_for
from services.intake.domain.case import open_case as decide_open_case
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.envelope import Actor
from shared.contracts.events import CaseOpened, event_type_of
from shared.eventstore.recorder import EventRecorder, NewEvent, Recording


class OpenCase(BaseModel):
    """Command: open a case for a bureau. request_ref makes it idempotent (Idempotency-Key or request_id)."""

    model_config = ConfigDict(frozen=True)

    bureau: str
    request: OpenCaseRequest
    source: Literal["http", "kafka"]
    request_ref: str | None
    actor: Actor
    correlation_id: UUID
    causation_id: UUID | None = None

    def command_id(self) -> str:
        """Return the id under which this command is recorded once."""
        ref = self.request_ref or uuid.uuid4().hex
        return f"intake:{self.bureau}:{self.source}:{ref}"


class IdempotencyKeyReused(Exception):
    """The same idempotency key (or request_id) came with a different request."""


@dataclass(frozen=True)
class OpenedCase:
    """The answer: the case id, and whether this was a replay of an earlier request."""

    case_id: str
    replayed: bool


async def open_case(command: OpenCase, *, recorder: EventRecorder) -> OpenedCase:
    """Record CaseOpened for the command, or return the case an identical earlier command opened."""
    command_id = command.command_id()
    case_id = case_id_for(command_id)
    event = decide_open_case(
        case_id, command.request, source=command.source, request_ref=command.request_ref or ""
    )
    event_type, schema_version = event_type_of(event)
    recording = Recording(
        stream_id=case_id,
        stream_type="case",
        expected_version=0,
        bureau=command.bureau,
        actor=command.actor,
        command_id=command_id,
        correlation_id=command.correlation_id,
        causation_id=command.causation_id,
    )
    result = await recorder.append(
        recording, [NewEvent(event_type, schema_version, event.model_dump(mode="json"))]
    )
    if result.duplicate:
        earlier = CaseOpened.model_validate(result.events[0].data)
        if earlier.request_hash != event.request_hash:
            raise IdempotencyKeyReused(
                f"{command.request_ref!r} was already used for a different request (case {earlier.case_id})"
            )
    return OpenedCase(case_id, replayed=result.duplicate)
