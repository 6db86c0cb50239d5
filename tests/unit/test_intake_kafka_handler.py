"""The intake subscriber on faststream's in-memory broker: signed requests open cases; unsigned, forged and
other-bureau ones, like bad messages, are dead-lettered with the reason and open nothing."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.intake.entrypoints.kafka import subscribe_intake_requests
from shared.auth.integration_keys import InMemoryIntegrationKeyDirectory, IntegrationKey
from shared.auth.signing import sign_message
from shared.contracts.topics import INTAKE_REQUESTS, dlq
from shared.eventstore.memory import InMemoryRecorder
from shared.messaging.pacing import FetchWait
from tests.fakes import FakeBureaus
from tests.support import case_body
from tests.unit.test_signing_key_directory import raw_b64


def request(n: int, **extra: object) -> bytes:
    return json.dumps({"request_id": f"r{n}", "bureau": "finance", **case_body(n), **extra}).encode()


class Harness:
    """A subscriber with its recorder, key directory and the dead letters it produced."""

    def __init__(self, *, require_signed: bool = True) -> None:
        self.broker = KafkaBroker("in-memory")
        self.recorder = InMemoryRecorder()
        self.keys = InMemoryIntegrationKeyDirectory()
        self.subscriber = subscribe_intake_requests(
            self.broker,
            recorder=self.recorder,
            bureaus=FakeBureaus("finance", "innovation"),
            group="intake",
            fetch_wait=FetchWait(10),
            keys=self.keys,
            require_signed=require_signed,
        )
        self.letters: list[tuple[bytes, str]] = []

        @self.broker.subscriber(dlq(INTAKE_REQUESTS), group_id="test")
        async def capture(body: object, message: KafkaMessage) -> None:
            self.letters.append((message.body, message.headers["dlq-reason"]))

    async def key(self, bureau: str = "finance") -> tuple[Ed25519PrivateKey, IntegrationKey]:
        private = Ed25519PrivateKey.generate()
        return private, await self.keys.register(bureau, f"{bureau}-oa", raw_b64(private))


def signed(private: Ed25519PrivateKey, key: IntegrationKey, value: bytes) -> dict[str, str]:
    """Headers for the in-memory broker, which takes them as text."""
    return {name: v.decode() for name, v in sign_message(private, key.key_id, value)}


async def test_opens_cases_once_and_dead_letters_what_cannot_be_handled() -> None:
    h = Harness()
    private, key = await h.key()

    async with TestKafkaBroker(h.broker) as test_broker:
        for value in (request(1), request(1)):  # the second is a redelivery
            await test_broker.publish(value, INTAKE_REQUESTS, headers=signed(private, key, value))
        await test_broker.publish(b"{not json", INTAKE_REQUESTS)
        nowhere = request(2, bureau="nowhere")
        await test_broker.publish(nowhere, INTAKE_REQUESTS, headers=signed(private, key, nowhere))
        lottery = request(3, category="lottery")
        await test_broker.publish(lottery, INTAKE_REQUESTS, headers=signed(private, key, lottery))

    assert len(await h.recorder.read_all()) == 1
    assert (h.subscriber.stats.handled, h.subscriber.stats.duplicates, h.subscriber.stats.dead_lettered) == (
        1,
        1,
        3,
    )
    reasons = [reason for _, reason in h.letters]
    assert "invalid IntakeRequestV1" in reasons[0]
    # The key is finance's, the message claims another bureau: refused before the bureau is even looked up.
    assert "belongs to bureau 'finance', the message claims bureau 'nowhere'" in reasons[1]
    assert "category" in reasons[2]
    assert h.letters[0][0] == b"{not json"


async def test_signed_request_opens_a_case_whose_actor_is_the_integration() -> None:
    h = Harness()
    private, key = await h.key()
    value = request(4, submitted_by="财政一体化系统")

    async with TestKafkaBroker(h.broker) as test_broker:
        await test_broker.publish(value, INTAKE_REQUESTS, headers=signed(private, key, value))

    [event] = await h.recorder.read_all()
    assert event.actor.model_dump(exclude_none=True) == {
        "kind": "integration",
        "id": key.key_id,
        "bureau": "finance",
        "key_id": key.key_id,
        "name": "finance-oa",
    }


async def test_unsigned_forged_altered_revoked_and_other_bureau_requests_open_nothing() -> None:
    h = Harness()
    private, key = await h.key()
    other_private, other_key = await h.key("innovation")
    revoked_private, revoked_key = await h.key()
    await h.keys.revoke("finance", revoked_key.key_id)
    altered = request(12)

    async with TestKafkaBroker(h.broker) as test_broker:
        await test_broker.publish(request(10), INTAKE_REQUESTS)
        forged = request(11)
        await test_broker.publish(
            forged, INTAKE_REQUESTS, headers=signed(Ed25519PrivateKey.generate(), key, forged)
        )
        await test_broker.publish(
            altered.replace(b'"r12"', b'"r13"'), INTAKE_REQUESTS, headers=signed(private, key, altered)
        )
        stale = request(14)
        await test_broker.publish(stale, INTAKE_REQUESTS, headers=signed(revoked_private, revoked_key, stale))
        foreign = request(15)  # claims finance, signed with innovation's key
        await test_broker.publish(foreign, INTAKE_REQUESTS, headers=signed(other_private, other_key, foreign))
        good = request(16)
        await test_broker.publish(good, INTAKE_REQUESTS, headers=signed(private, key, good))

    assert len(await h.recorder.read_all()) == 1  # only the last, valid one
    reasons = [reason for _, reason in h.letters]
    assert reasons[0].startswith("unsigned message")
    assert reasons[1].startswith("bad signature") and reasons[2].startswith("bad signature")
    assert "was revoked at" in reasons[3]
    assert "belongs to bureau 'innovation', the message claims bureau 'finance'" in reasons[4]
    assert h.letters[0][0] == request(10)  # the original bytes are kept


async def test_unsigned_request_is_believed_when_signatures_are_not_required() -> None:
    h = Harness(require_signed=False)
    _, key = await h.key()
    forged = request(21)

    async with TestKafkaBroker(h.broker) as test_broker:
        await test_broker.publish(request(20, submitted_by="legacy-system"), INTAKE_REQUESTS)
        await test_broker.publish(
            forged, INTAKE_REQUESTS, headers=signed(Ed25519PrivateKey.generate(), key, forged)
        )

    [event] = await h.recorder.read_all()
    assert (event.actor.kind, event.actor.id) == ("integration", "legacy-system")
    assert h.letters[0][1].startswith("bad signature")  # a signed one is still checked
