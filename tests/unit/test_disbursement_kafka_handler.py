"""Finance systems' reports on faststream's in-memory broker: the same events as HTTP, a repeat applied once,
refusals, unknown disbursements, reused request ids and unsigned reports dead-lettered with the reason."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.disbursement.adapters.bank_references import MemoryBankReferences
from services.disbursement.application.commands import Context, open_disbursement
from services.disbursement.entrypoints.kafka import subscribe_reports
from shared.auth.integration_keys import InMemoryIntegrationKeyDirectory, IntegrationKey
from shared.auth.signing import sign_message
from shared.contracts.disbursement import OpenDisbursementRequest
from shared.contracts.envelope import Actor
from shared.contracts.topics import DISBURSEMENT_REQUESTS, dlq
from shared.eventstore.memory import InMemoryRecorder
from shared.messaging.pacing import FetchWait
from tests.fakes import FakeBureaus
from tests.support import credit_code
from tests.unit.test_signing_key_directory import raw_b64

PAYMENT = {
    "kind": "payment",
    "amount": "60.00",
    "credited_at": "2026-11-20T10:00:00+08:00",
    "bank_reference": "B1",
}


def message(disbursement_id: str, report: dict[str, Any], request_id: str, bureau: str = "finance") -> bytes:
    return json.dumps(
        {
            "request_id": request_id,
            "bureau": bureau,
            "disbursement_id": disbursement_id,
            "reported_by": "国库集中支付系统",
            "report": report,
        }
    ).encode()


def signed(private: Ed25519PrivateKey, key: IntegrationKey, value: bytes) -> dict[str, str]:
    return {name: v.decode() for name, v in sign_message(private, key.key_id, value)}


@dataclass
class Reports:
    """The report consumer on an in-memory broker, a registered signing key, and the dead letters' reasons."""

    broker: KafkaBroker
    recorder: InMemoryRecorder
    subscriber: Any
    private: Ed25519PrivateKey
    key: IntegrationKey
    letters: list[str] = field(default_factory=list)

    def parts(self) -> tuple[KafkaBroker, InMemoryRecorder, list[str], Ed25519PrivateKey, IntegrationKey]:
        """The broker, the store, the dead letters' reasons, the signing key and its registration."""
        return self.broker, self.recorder, self.letters, self.private, self.key


async def reports_consumer() -> Reports:
    """Subscribe the report consumer for bureau finance, with its DLQ captured and a signing key registered."""
    broker, recorder, keys = KafkaBroker("in-memory"), InMemoryRecorder(), InMemoryIntegrationKeyDirectory()
    subscriber = subscribe_reports(
        broker,
        recorder=recorder,
        bureaus=FakeBureaus("finance"),
        group="d",
        fetch_wait=FetchWait(10),
        keys=keys,
        references=MemoryBankReferences(),
    )
    private = Ed25519PrivateKey.generate()
    reports = Reports(
        broker,
        recorder,
        subscriber,
        private,
        await keys.register("finance", "finance-treasury", raw_b64(private)),
    )

    @broker.subscriber(dlq(DISBURSEMENT_REQUESTS), group_id="test")
    async def capture(body: object, msg: KafkaMessage) -> None:
        reports.letters.append(msg.headers["dlq-reason"])

    return reports


async def open_one(recorder: InMemoryRecorder, n: int = 1) -> str:
    """Open a 100.00-yuan disbursement for enterprise n; return its id."""
    context = Context(
        bureau="finance",
        actor=Actor(kind="integration", id="k", bureau="finance"),
        command_id=f"open-{n}",
        correlation_id=uuid.uuid4(),
        now=datetime.now(UTC),
    )
    request = OpenDisbursementRequest.model_validate(
        {
            "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": credit_code(n)},
            "source": "市财政局",
            "fund_type": "subsidy",
            "allocated": "100.00",
        }
    )
    return (await open_disbursement(request, context, recorder=recorder)).id


async def test_reports_apply_once_and_what_can_never_apply_is_dead_lettered_with_the_reason() -> None:
    reports = await reports_consumer()
    broker, recorder, subscriber, letters = (
        reports.broker,
        reports.recorder,
        reports.subscriber,
        reports.letters,
    )
    private, key = reports.private, reports.key
    disbursement_id = await open_one(recorder)
    payment = message(disbursement_id, PAYMENT, "r1")
    overpayment = message(disbursement_id, {**PAYMENT, "amount": "50.00", "bank_reference": "B2"}, "r2")
    reused = message(disbursement_id, {**PAYMENT, "bank_reference": "B3"}, "r1")
    unknown = message("no-such-disbursement", PAYMENT, "r3")
    unsigned = message(disbursement_id, {**PAYMENT, "amount": "1.00", "bank_reference": "B4"}, "r4")

    async with TestKafkaBroker(broker) as test_broker:
        for value in (payment, payment, overpayment, reused, unknown):
            await test_broker.publish(value, DISBURSEMENT_REQUESTS, headers=signed(private, key, value))
        await test_broker.publish(unsigned, DISBURSEMENT_REQUESTS)

    events = await recorder.read_stream(f"disbursement-{disbursement_id}")
    assert [e.event_type for e in events] == ["DisbursementOpened", "DisbursementPaymentCredited"]
    assert events[1].actor.key_id == key.key_id and events[1].data["request_ref"] == "r1"
    assert (subscriber.stats.handled, subscriber.stats.duplicates, subscriber.stats.dead_lettered) == (
        1,
        1,
        4,
    )
    assert "CreditedNeverExceedsAllocated" in letters[0]
    assert "already used for a different report" in letters[1]
    assert "unknown disbursement" in letters[2]
    assert "unsigned message" in letters[3]


async def test_a_request_id_reused_for_another_disbursement_is_dead_lettered() -> None:
    reports = await reports_consumer()
    broker, recorder, letters, private, key = reports.parts()
    ids = [await open_one(recorder, n) for n in (1, 2)]
    first, second = (message(i, PAYMENT, "same-id") for i in ids)

    async with TestKafkaBroker(broker) as test_broker:
        for value in (first, second):
            await test_broker.publish(value, DISBURSEMENT_REQUESTS, headers=signed(private, key, value))

    assert len(await recorder.read_stream(f"disbursement-{ids[1]}")) == 1
    assert len(letters) == 1 and "already used" in letters[0]
