"""Use case: open a case from an enterprise's problem, once per request."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from services.intake.domain.case import case_id_for, contact_subject
from services.intake.domain.case import open_case as decide_open_case
from shared.contracts.cases import OpenCaseRequest, SealedContact
from shared.contracts.envelope import Actor
from shared.contracts.events import CaseOpened, event_type_of
from shared.contracts.text import read_stored
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


class Sealer(Protocol):
    """Port: seals personal data under its subject's key (shared.crypto.vault.Vault)."""

    async def seal(self, subject: str, fields: Mapping[str, Any]) -> dict[str, str]:
        """Return the fields encrypted under the subject's key."""
        ...


async def open_case(
    command: OpenCase, *, recorder: EventRecorder, sealer: Sealer | None = None
) -> OpenedCase:
    """Record CaseOpened for the command, or return the case an identical earlier command opened."""
    command_id = command.command_id()
    case_id = case_id_for(command_id)
    contact = None
    if command.request.contact is not None:
        if sealer is None:
            raise RuntimeError("intake was built without a vault: it cannot keep an enterprise's contact")
        subject = contact_subject(command.bureau, command.request)
        contact = SealedContact(
            **await sealer.seal(subject, command.request.contact.model_dump(exclude_none=True))
        )
    event = decide_open_case(
        case_id,
        command.request,
        source=command.source,
        request_ref=command.request_ref or "",
        contact=contact,
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
        earlier = read_stored(CaseOpened, result.events[0].data)
        if earlier.request_hash != event.request_hash:
            raise IdempotencyKeyReused(
                f"{command.request_ref!r} was already used for a different request (case {earlier.case_id})"
            )
    return OpenedCase(case_id, replayed=result.duplicate)
