"""The intake subscriber on faststream's in-memory broker: cases opened, bad messages dead-lettered."""

import json

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.intake.entrypoints.kafka import subscribe_intake_requests
from shared.contracts.topics import INTAKE_REQUESTS, dlq
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeBureaus
from tests.support import case_body


def request(n: int, **extra: object) -> bytes:
    return json.dumps({"request_id": f"r{n}", "bureau": "finance", **case_body(n), **extra}).encode()


async def test_opens_cases_once_and_dead_letters_what_cannot_be_handled() -> None:
    broker = KafkaBroker("in-memory")
    recorder = InMemoryRecorder()
    subscriber = subscribe_intake_requests(
        broker, recorder=recorder, bureaus=FakeBureaus("finance"), group="intake", fetch_max_wait_ms=10
    )
    letters: list[tuple[bytes, str]] = []

    @broker.subscriber(dlq(INTAKE_REQUESTS), group_id="test")
    async def capture(body: object, message: KafkaMessage) -> None:
        letters.append((message.body, message.headers["dlq-reason"]))

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(request(1), INTAKE_REQUESTS)
        await test_broker.publish(request(1), INTAKE_REQUESTS)  # redelivered
        await test_broker.publish(b"{not json", INTAKE_REQUESTS)
        await test_broker.publish(request(2, bureau="nowhere"), INTAKE_REQUESTS)
        await test_broker.publish(request(3, category="lottery"), INTAKE_REQUESTS)

    assert len(await recorder.read_all()) == 1
    assert (subscriber.stats.handled, subscriber.stats.duplicates, subscriber.stats.dead_lettered) == (
        1,
        1,
        3,
    )
    reasons = [reason for _, reason in letters]
    assert "invalid IntakeRequestV1" in reasons[0] and "unknown bureau 'nowhere'" in reasons[1]
    assert "category" in reasons[2]
    assert letters[0][0] == b"{not json"
