"""Kafka entry point: other bureaus' systems submit cases on intake.requests.v1."""

from __future__ import annotations

import uuid

from faststream.kafka import KafkaBroker

from services.intake.application.open_case import IdempotencyKeyReused, OpenCase, open_case
from shared.auth.keys import BureauDirectory
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.envelope import Actor
from shared.contracts.intake import IntakeRequestV1
from shared.contracts.topics import INTAKE_REQUESTS
from shared.eventstore.recorder import EventRecorder
from shared.messaging.consumer import PoisonMessage, ReliableSubscriber

REQUEST_NAMESPACE = uuid.UUID("0f1e5b8a-3a52-4bb8-8f0e-6c4e7d2f9a10")


def subscribe_intake_requests(
    broker: KafkaBroker,
    *,
    recorder: EventRecorder,
    bureaus: BureauDirectory,
    group: str,
    fetch_max_wait_ms: int,
) -> ReliableSubscriber[IntakeRequestV1]:
    """Open a case for each valid request; a request delivered twice opens one case."""

    async def handle(request: IntakeRequestV1) -> bool:
        if not await bureaus.exists(request.bureau):
            raise PoisonMessage(f"unknown bureau {request.bureau!r}")
        command = OpenCase(
            bureau=request.bureau,
            request=OpenCaseRequest.model_validate(
                request.model_dump(include=set(OpenCaseRequest.model_fields))
            ),
            source="kafka",
            request_ref=request.request_id,
            actor=Actor(kind="integration", id=request.submitted_by or "kafka", bureau=request.bureau),
            correlation_id=uuid.uuid5(REQUEST_NAMESPACE, f"{request.bureau}:{request.request_id}"),
        )
        try:
            opened = await open_case(command, recorder=recorder)
        except IdempotencyKeyReused as exc:
            raise PoisonMessage(f"request_id {exc}") from exc
        return not opened.replayed

    return ReliableSubscriber(
        broker=broker,
        topic=INTAKE_REQUESTS,
        group=group,
        model=IntakeRequestV1,
        handle=handle,
        fetch_max_wait_ms=fetch_max_wait_ms,
        description="Another bureau's system asks to open a case. request_id makes it idempotent.",
    )
