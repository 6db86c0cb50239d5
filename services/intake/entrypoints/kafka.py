"""Kafka entry point: other bureaus' systems submit cases on intake.requests.v1, signed (shared.auth.signing)."""

from __future__ import annotations

import uuid
from typing import Protocol

from faststream.kafka import KafkaBroker

from services.intake.application.open_case import IdempotencyKeyReused, OpenCase, Sealer, open_case
from shared.auth.integration_keys import IntegrationKeys
from shared.auth.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    SIGNING_DESCRIPTION,
    SignatureRejected,
    verify_message,
)
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.envelope import Actor
from shared.contracts.intake import IntakeRequestV1
from shared.contracts.topics import INTAKE_REQUESTS
from shared.eventstore.recorder import EventRecorder
from shared.messaging.consumer import PoisonMessage, ReliableSubscriber, received
from shared.messaging.pacing import FetchWait

REQUEST_NAMESPACE = uuid.UUID("0f1e5b8a-3a52-4bb8-8f0e-6c4e7d2f9a10")
DESCRIPTION = (
    "Another bureau's system asks to open a case. request_id makes it idempotent. " + SIGNING_DESCRIPTION
)


class Bureaus(Protocol):
    """Port: the registered bureaus (BureauDirectory, or a fake)."""

    async def exists(self, bureau_id: str) -> bool:
        """Tell whether a bureau is registered."""
        ...


def subscribe_intake_requests(
    broker: KafkaBroker,
    *,
    recorder: EventRecorder,
    bureaus: Bureaus,
    group: str,
    fetch_wait: FetchWait,
    keys: IntegrationKeys | None = None,
    require_signed: bool = True,
    sealer: Sealer | None = None,
) -> ReliableSubscriber[IntakeRequestV1]:
    """Open a case for each valid, authenticated request; a request delivered twice opens one case.

    With require_signed off, an unsigned request is believed as before (a migration aid); a signed one is
    still verified. keys is None only where the subscriber is declared for its schema (services/published.py).
    """

    async def sender_of(request: IntakeRequestV1) -> Actor:
        message = received()  # the exact bytes and headers: a signature covers what came, not a re-encoding
        body, headers = message.value, message.headers
        signed = any(name.lower() in (KEY_ID_HEADER, SIGNATURE_HEADER) for name, _ in headers)
        if not signed and not require_signed:
            return Actor(kind="integration", id=request.submitted_by or "kafka", bureau=request.bureau)
        if keys is None:
            raise RuntimeError("intake subscriber built without integration keys")
        try:
            sender = await verify_message(keys, body=body, headers=headers, claimed_bureau=request.bureau)
        except SignatureRejected as exc:
            raise PoisonMessage(exc.reason) from exc
        return sender.actor()

    async def handle(request: IntakeRequestV1) -> bool:
        actor = await sender_of(request)
        if not await bureaus.exists(request.bureau):
            raise PoisonMessage(f"unknown bureau {request.bureau!r}")
        command = OpenCase(
            bureau=request.bureau,
            request=OpenCaseRequest.model_validate(
                request.model_dump(include=set(OpenCaseRequest.model_fields))
            ),
            source="kafka",
            request_ref=request.request_id,
            actor=actor,
            correlation_id=uuid.uuid5(REQUEST_NAMESPACE, f"{request.bureau}:{request.request_id}"),
        )
        try:
            opened = await open_case(command, recorder=recorder, sealer=sealer)
        except IdempotencyKeyReused as exc:
            raise PoisonMessage(f"request_id {exc}") from exc
        return not opened.replayed

    return ReliableSubscriber(
        broker=broker,
        topic=INTAKE_REQUESTS,
        group=group,
        model=IntakeRequestV1,
        handle=handle,
        fetch_wait=fetch_wait,
        description=DESCRIPTION,
    )
