"""A record whose header *name* is not UTF-8, on a real Tansu: aiokafka fails reading it inside the poll,
before faststream or our parser sees it. It lands in the DLQ named by topic, partition and offset with the
reason; every other record (other partitions too, drained by the same poll) is applied once, and the consumer
goes on, both for the batch and the one-by-one subscriber."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.record.util import calc_crc32c
from confluent_kafka import Producer
from faststream.kafka import KafkaBroker

from shared.config import ConnectionSettings
from shared.contracts.topics import dlq
from shared.messaging import unreadable_records
from shared.messaging.consumer import ConsumerStats
from shared.messaging.dead_letters import dead_letter
from shared.messaging.kafka import ensure_topics
from shared.messaging.unreadable_records import REASON
from tests.conftest import Servers
from tests.integration.test_hostile_kafka_records import PARTITIONS, Consuming, _item, _produce, subscribe
from tests.kafka_client import aread_topic
from tests.support import eventually

pytestmark = pytest.mark.integration
MARK = b"QQQQ"  # the header name, made not UTF-8 after the record batch is built


async def _produce_bad_header_name(bootstrap: str, topic: str, partition: int, n: int) -> None:
    """Produce one record whose header name starts with byte 0xff: no Kafka client lets one build that."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        batch = producer.create_batch()
        batch.append(
            timestamp=None, key=b"bad", value=json.dumps({"n": n}).encode(), headers=[("QQQQ", b"v")]
        )
        buf = bytearray(batch._build())
        buf[buf.find(MARK)] = 0xFF
        struct.pack_into(">I", buf, 17, calc_crc32c(bytes(buf[21:])))  # the batch CRC covers what follows it
        batch._buffer = bytes(buf)
        await (await producer.send_batch(batch, topic, partition=partition))
    finally:
        await producer.stop()


@pytest.fixture
async def topic(infra: Servers) -> str:
    name = f"hostile.names.{uuid.uuid4().hex[:8]}"
    settings = ConnectionSettings(KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap, KAFKA_PARTITIONS=PARTITIONS)
    await ensure_topics(settings, [name, dlq(name)])
    return name


Start = Callable[[str], Awaitable[tuple[Consuming, Any]]]


@pytest.fixture(params=["batch", "one-by-one"])
async def start(request: pytest.FixtureRequest, infra: Servers) -> AsyncIterator[Start]:
    brokers: list[KafkaBroker] = []

    async def starting(topic: str) -> tuple[Consuming, Any]:
        consuming = Consuming()
        broker = KafkaBroker(infra.bootstrap)
        subscriber = subscribe(request.param, broker, topic, consuming)
        await broker.start()
        brokers.append(broker)
        return consuming, subscriber

    yield starting
    for broker in brokers:
        await broker.stop()


async def test_a_header_name_that_is_not_utf8_is_dead_lettered_by_its_offset_and_every_other_record_applies(
    infra: Servers, topic: str, start: Start
) -> None:
    # All there before the consumer starts: its first poll drains partition 0 before it meets the bad record.
    await asyncio.to_thread(_produce, infra.bootstrap, topic, [_item(n) for n in range(1, 7)])
    await _produce_bad_header_name(infra.bootstrap, topic, partition=1, n=100)  # offset 2 (after 1 and 5)
    await asyncio.to_thread(_produce, infra.bootstrap, topic, [_item(n) for n in range(7, 13)])

    consuming, subscriber = await start(topic)

    await eventually(lambda: _applied(consuming, 12), 30, "the good records applied")
    # The consumer goes on: a second such record, on another partition while it runs, goes the same way.
    await _produce_bad_header_name(infra.bootstrap, topic, partition=3, n=200)
    await asyncio.to_thread(_produce, infra.bootstrap, topic, [_item(n) for n in range(13, 21)])
    await eventually(lambda: _applied(consuming, 20), 30, "the records after the bad ones")
    letters = await aread_topic(infra.bootstrap, dlq(topic), until=3, timeout=4)

    assert sorted(consuming.applied) == list(range(1, 21))  # each good record once, none lost
    assert consuming.stats.dead_lettered == 2
    assert len(letters) == 2, [dict(m.headers() or []) for m in letters]  # once each, not once per poll
    found = sorted(letters, key=lambda m: dict(m.headers())["dlq-source-partition"])
    first = {k: v.decode() for k, v in found[0].headers()}
    assert first["dlq-reason"] == REASON
    assert (first["dlq-source-topic"], first["dlq-source-partition"]) == (topic, "1")
    assert first["dlq-source-offset"] == "2"
    assert first["dlq-consumer-group"] == f"g-{topic}" and first["dlq-failed-at"]
    assert json.loads(found[0].value()) == {"topic": topic, "partition": 1, "offset": 2, "reason": REASON}
    second = {k: v.decode() for k, v in found[1].headers()}
    assert (second["dlq-source-partition"], second["dlq-source-offset"]) == ("3", "3")  # after 3, 7, 11
    # No crash-and-restart loop: the consume task that met the bad records is the one still running.
    assert subscriber.subscriber.tasks and not any(t.done() for t in subscriber.subscriber.tasks)


async def _applied(consuming: Consuming, n: int) -> bool:
    return len(consuming.applied) >= n


async def test_the_dead_letter_of_an_unreadable_record_is_retried_through_an_outage_and_found_without_a_hint(
    infra: Servers, topic: str, start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    async def dead_letter_after_an_outage(*args: Any) -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) <= 2:
            raise KafkaConnectionError("the DLQ's broker is away")
        await dead_letter(*args)

    monkeypatch.setattr(unreadable_records, "dead_letter", dead_letter_after_an_outage)
    # Without aiokafka's frames to name the partition, every one is read alone: the readable ones come back.
    monkeypatch.setattr(unreadable_records, "_failing_place", lambda _exc: None)
    await asyncio.to_thread(_produce, infra.bootstrap, topic, [_item(n) for n in range(1, 7)])
    await _produce_bad_header_name(infra.bootstrap, topic, partition=1, n=100)
    await asyncio.to_thread(_produce, infra.bootstrap, topic, [_item(n) for n in range(7, 13)])

    consuming, _ = await start(topic)

    await eventually(lambda: _applied(consuming, 12), 30, "the good records applied")
    letters = await aread_topic(infra.bootstrap, dlq(topic), until=2, timeout=4)
    assert sorted(consuming.applied) == list(range(1, 13))
    assert len(attempts) == 3 and len(letters) == 1  # retried, never skipped, published once
    assert dict(letters[0].headers())["dlq-source-offset"] == b"2"
    assert consuming.stats.dead_lettered == 1


class _ReadableConsumer:
    """A consumer (as much of one as unreadable_records uses) whose records all read: the error is gone."""

    def __init__(self, records: dict[TopicPartition, int]) -> None:
        self.records, self.at = records, dict.fromkeys(records, 0)
        self._subscription = SimpleNamespace(subscription=SimpleNamespace(assignment=self))
        self.tps = set(records)

    def state_value(self, tp: TopicPartition) -> SimpleNamespace:
        return SimpleNamespace(has_valid_position=True, position=self.at[tp])

    def assignment(self) -> set[TopicPartition]:
        return set(self.records)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.at[tp] = offset

    async def getmany(self, tp: TopicPartition, *, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        if self.at[tp] >= self.records[tp]:
            return {}
        record = SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=self.at[tp])
        self.at[tp] += 1
        return {tp: [record]}


async def test_when_no_partition_fails_alone_every_one_is_put_back_and_nothing_is_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(unreadable_records, "RETRY_DELAY_S", 0)
    monkeypatch.setattr(unreadable_records, "PROBE_TIMEOUT_MS", 0)
    consumer = _ReadableConsumer({TopicPartition("t", 0): 3, TopicPartition("t", 1): 2})
    stats = ConsumerStats()
    unreadable = unreadable_records.UnreadableRecords(KafkaBroker("127.0.0.1:1"), "g", stats)

    got = await unreadable.after_batch_error(
        consumer,  # type: ignore[arg-type]
        dict(consumer.at),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        500,
    )

    assert got == () and stats.dead_lettered == 0
    assert consumer.at == {TopicPartition("t", 0): 0, TopicPartition("t", 1): 0}  # nothing read is skipped


async def test_the_offset_named_is_the_unreadable_records_own_after_a_transactions_control_record(
    infra: Servers, topic: str, start: Start
) -> None:
    def produce_in_a_transaction() -> None:
        producer = Producer({"bootstrap.servers": infra.bootstrap, "transactional.id": f"tx-{topic}"})
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.produce(topic, value=json.dumps({"n": 1}).encode(), partition=1)
        producer.commit_transaction(30)  # its commit marker takes offset 1

    await asyncio.to_thread(produce_in_a_transaction)
    await _produce_bad_header_name(infra.bootstrap, topic, partition=1, n=100)  # offset 2
    await asyncio.to_thread(_produce, infra.bootstrap, topic, [_item(5)])

    consuming, _ = await start(topic)

    await eventually(lambda: _applied(consuming, 2), 30, "the good records applied")
    letters = await aread_topic(infra.bootstrap, dlq(topic), until=2, timeout=4)
    assert sorted(consuming.applied) == [1, 5]
    assert [dict(m.headers())["dlq-source-offset"] for m in letters] == [b"2"]
