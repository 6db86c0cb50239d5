"""Kafka entry points: finance systems' reports (disbursements.requests.v1) and the read-model consumer."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.disbursement.adapters.bank_references import BankReferences
from services.disbursement.application import commands
from services.disbursement.application.commands import Context, NotFound, RequestReused
from services.disbursement.domain.rules import Refused
from services.disbursement.entrypoints.state import KnownBureaus
from services.disbursement.projections.store import ReadModelWriter
from shared.auth.integration_keys import IntegrationKeys
from shared.auth.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    SIGNING_DESCRIPTION,
    SignatureRejected,
    verify_message,
)
from shared.contracts.disbursement import DisbursementReportV1, Stage, StageReportV1
from shared.contracts.envelope import Actor, EventEnvelope
from shared.contracts.topics import DISBURSEMENT_EVENTS, DISBURSEMENT_REQUESTS
from shared.idempotency import fingerprint_of
from shared.messaging.consumer import Deduplicator, PoisonMessage, ReliableSubscriber
from shared.messaging.pacing import FetchWait

REQUEST_NAMESPACE = uuid.UUID("5d0c7f3e-2b1a-4c8e-9f6d-3a7b1e0c4d21")
DESCRIPTION = (
    "Another bureau's finance system reports a stage or a payment of a disbursement. request_id makes it "
    "idempotent (the same request_id with another report is dead-lettered). Reports that a rule refuses, "
    "for an unknown disbursement or bureau, go to the DLQ with the reason. " + SIGNING_DESCRIPTION
)

# The message being handled: a signature is checked over the exact bytes received and their headers, which
# the runtime does not hand to the handler, so the subscriber below passes them this way.
_received: ContextVar[KafkaMessage] = ContextVar("received_report")


class _SignedSubscriber(ReliableSubscriber[DisbursementReportV1]):
    """The consumer runtime, with the message in hand while its handler (and every retry) runs."""

    async def _handle_with_retries(self, item: DisbursementReportV1, message: KafkaMessage) -> None:
        token = _received.set(message)
        try:
            await super()._handle_with_retries(item, message)
        finally:
            _received.reset(token)


def _raw(message: KafkaMessage) -> tuple[bytes, Any]:
    record: Any = message.raw_message
    return bytes(record.value or b""), list(record.headers or [])


def subscribe_reports(
    broker: KafkaBroker,
    *,
    recorder: Any,
    bureaus: KnownBureaus,
    group: str,
    fetch_wait: FetchWait,
    keys: IntegrationKeys | None = None,
    require_signed: bool = True,
    references: BankReferences | None = None,
) -> ReliableSubscriber[DisbursementReportV1]:
    """Apply each authenticated report once: the same events as the HTTP routes record."""

    async def sender_of(report: DisbursementReportV1) -> Actor:
        body, headers = _raw(_received.get())
        signed = any(name.lower() in (KEY_ID_HEADER, SIGNATURE_HEADER) for name, _ in headers)
        if not signed and not require_signed:
            return Actor(kind="integration", id=report.reported_by, bureau=report.bureau)
        if keys is None:
            raise RuntimeError("disbursement subscriber built without integration keys")
        try:
            sender = await verify_message(keys, body=body, headers=headers, claimed_bureau=report.bureau)
        except SignatureRejected as exc:
            raise PoisonMessage(exc.reason) from exc
        return sender.actor()

    async def handle(report: DisbursementReportV1) -> bool:
        actor = await sender_of(report)
        if not await bureaus.exists(report.bureau):
            raise PoisonMessage(f"unknown bureau {report.bureau!r}")
        context = Context(
            bureau=report.bureau,
            actor=actor,
            command_id=f"disbursement:kafka:{report.bureau}:{report.request_id}",
            correlation_id=uuid.uuid5(REQUEST_NAMESPACE, f"{report.bureau}:{report.request_id}"),
            reported_by=report.reported_by,
            request_ref=report.request_id,
            request_hash=fingerprint_of(report.model_dump(mode="json", exclude={"request_id"})),
            now=datetime.now(UTC),
        )
        inner = report.report
        try:
            if isinstance(inner, StageReportV1):
                approver = (inner.approver or report.reported_by) if inner.stage is Stage.APPROVED else None
                outcome = await commands.report_stage(
                    report.disbursement_id, inner, context, recorder=recorder, approver=approver
                )
            else:
                if references is None:
                    raise RuntimeError("disbursement subscriber built without bank reference claims")
                outcome = await commands.record_payment(
                    report.disbursement_id, inner, context, recorder=recorder, references=references
                )
        except Refused as exc:
            raise PoisonMessage(f"refused: {exc}") from exc
        except NotFound as exc:
            raise PoisonMessage(
                f"unknown disbursement {report.disbursement_id} of bureau {report.bureau}"
            ) from exc
        except RequestReused as exc:
            raise PoisonMessage(f"request_id {exc}") from exc
        return not outcome.replayed

    return _SignedSubscriber(
        broker=broker,
        topic=DISBURSEMENT_REQUESTS,
        group=group,
        model=DisbursementReportV1,
        handle=handle,
        fetch_wait=fetch_wait,
        description=DESCRIPTION,
    )


def subscribe_read_models(
    broker: KafkaBroker, *, writer: ReadModelWriter, dedupe: Deduplicator, group: str, fetch_wait: FetchWait
) -> ReliableSubscriber[EventEnvelope]:
    """Fold each disbursement and arrears event into the read models, once per event id."""

    async def handle(envelope: EventEnvelope) -> bool:
        return await dedupe.once(str(envelope.event_id), lambda session: _apply(writer, envelope, session))

    return ReliableSubscriber(
        broker=broker,
        topic=DISBURSEMENT_EVENTS,
        group=group,
        model=EventEnvelope,
        handle=handle,
        fetch_wait=fetch_wait,
        description="Every disbursement, arrears and settings event (key = stream id), relayed at least once.",
    )


async def _apply(writer: ReadModelWriter, envelope: EventEnvelope, session: Any) -> None:
    await writer.apply(envelope, session)
