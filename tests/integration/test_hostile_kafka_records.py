"""Hostile records on a real Tansu: a header value that is not UTF-8, and a record too large to dead-letter as
it came. Each lands in the DLQ with a readable reason; every other record of the poll (other partitions too)
is applied once, and the consumer goes on, both for the batch and the one-by-one subscriber."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import Producer
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from shared.config import ConnectionSettings
from shared.contracts.topics import dlq
from shared.messaging.batches import BatchSubscriber
from shared.messaging.consumer import ConsumerStats, ReliableSubscriber, RetryPolicy
from shared.messaging.dead_letters import VALUE_PREFIX
from shared.messaging.kafka import ensure_topics
from shared.messaging.pacing import FetchWait
from tests.conftest import Servers
from tests.kafka_client import aread_topic
from tests.support import eventually

pytestmark = pytest.mark.integration
PARTITIONS = 4
# Just over aiokafka's max_request_size (1 MiB), which Tansu accepts: its DLQ publish used to fail forever.
HUGE = b'{"pad":"' + b"A" * 1_048_600 + b'"}'
BAD_HEADER = ("trace", b"\xff\xfe\x00")


class Item(BaseModel):
    n: int


@dataclass
class Consuming:
    """A running subscriber of either kind and what it applied."""

    applied: list[int] = field(default_factory=list)
    stats: ConsumerStats = field(default_factory=ConsumerStats)


@dataclass(frozen=True)
class Rec:
    value: bytes
    partition: int
    key: bytes | None = None
    headers: list[tuple[str, bytes]] | None = None


def _produce(bootstrap: str, topic: str, records: list[Rec]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.max.bytes": 5_000_000})
    errors: list[Any] = []
    for r in records:
        producer.produce(
            topic,
            value=r.value,
            key=r.key,
            partition=r.partition,
            headers=r.headers,
            on_delivery=lambda err, _m: errors.append(err) if err else None,
        )
    producer.flush(30)
    assert not errors, errors


def _item(n: int) -> Rec:
    return Rec(json.dumps({"n": n}).encode(), partition=n % PARTITIONS, key=f"k{n}".encode())


@pytest.fixture
async def topic(infra: Servers) -> str:
    name = f"hostile.test.{uuid.uuid4().hex[:8]}"
    settings = ConnectionSettings(KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap, KAFKA_PARTITIONS=PARTITIONS)
    await ensure_topics(settings, [name, dlq(name)])
    return name


Start = Callable[[str], Awaitable[Consuming]]


def subscribe(kind: str, broker: KafkaBroker, topic: str, consuming: Consuming) -> Any:
    """Subscribe a batch or a one-by-one consumer of Items on the topic, applying them into `consuming`."""
    common: dict[str, Any] = {
        "broker": broker,
        "topic": topic,
        "group": f"g-{topic}",
        "model": Item,
        "fetch_wait": FetchWait(20),
        "retry": RetryPolicy(max_attempts=2, first_delay_s=0.01),
    }
    subscriber: Any
    if kind == "batch":

        async def handle_batch(items: list[Item]) -> int:
            consuming.applied.extend(i.n for i in items)
            return len(items)

        subscriber = BatchSubscriber(handle=handle_batch, **common)
    else:

        async def handle_one(item: Item) -> bool:
            consuming.applied.append(item.n)
            return True

        subscriber = ReliableSubscriber(handle=handle_one, **common)
    consuming.stats = subscriber.stats
    return subscriber


@pytest.fixture(params=["batch", "one-by-one"])
async def start(request: pytest.FixtureRequest, infra: Servers) -> AsyncIterator[Start]:
    brokers: list[KafkaBroker] = []

    async def starting(topic: str) -> Consuming:
        consuming = Consuming()
        broker = KafkaBroker(infra.bootstrap)
        subscribe(request.param, broker, topic, consuming)
        await broker.start()
        brokers.append(broker)
        await asyncio.sleep(2)  # joined its group: the records below come in one poll
        return consuming

    yield starting
    for broker in brokers:
        await broker.stop()


async def _applied(consuming: Consuming, n: int) -> bool:
    return len(consuming.applied) >= n


async def _hostile_among_good_ones(infra: Servers, topic: str, consuming: Consuming, hostile: Rec) -> Any:
    """Produce 12 good records on every partition, the hostile one in the middle; return its DLQ record."""
    await asyncio.to_thread(
        _produce,
        infra.bootstrap,
        topic,
        [_item(n) for n in range(1, 7)] + [hostile] + [_item(n) for n in range(7, 13)],
    )
    await eventually(lambda: _applied(consuming, 12), 30, "the good records applied")
    letters = await aread_topic(infra.bootstrap, dlq(topic), until=2, timeout=4)
    assert len(letters) == 1, [dict(m.headers() or []) for m in letters]  # once, not once per redelivery
    # The consumer goes on: later records on every partition are applied too.
    await asyncio.to_thread(_produce, infra.bootstrap, topic, [_item(n) for n in range(13, 17)])
    await eventually(lambda: _applied(consuming, 16), 30, "the records after the hostile one")
    assert sorted(consuming.applied) == list(range(1, 17))  # each good record once
    assert consuming.stats.dead_lettered == 1
    return letters[0]


async def test_a_header_that_is_not_utf8_dead_letters_that_record_with_its_bytes_and_applies_the_rest(
    infra: Servers, topic: str, start: Start
) -> None:
    consuming = await start(topic)
    hostile = Rec(b'{"n": 100}', partition=1, key=b"\xff-key", headers=[("event_id", b"e-1"), BAD_HEADER])

    letter = await _hostile_among_good_ones(infra, topic, consuming, hostile)

    headers = {k: v.decode() for k, v in letter.headers()}
    assert headers["dlq-reason"] == "header 'trace' is not UTF-8"
    assert (letter.value(), letter.key()) == (hostile.value, hostile.key)  # the original bytes
    assert base64.b64decode(headers["trace"]) == BAD_HEADER[1]  # kept exactly, as base64
    assert json.loads(headers["dlq-base64-headers"]) == ["trace"]
    assert headers["event_id"] == "e-1"
    assert (headers["dlq-source-partition"], headers["dlq-source-topic"]) == ("1", topic)


async def test_a_record_too_large_to_dead_letter_goes_there_cut_with_its_size_and_digest_and_the_rest_apply(
    infra: Servers, topic: str, start: Start
) -> None:
    consuming = await start(topic)
    hostile = Rec(HUGE, partition=1, key=b"big", headers=[("adv-probe", b"oversize")])

    letter = await _hostile_among_good_ones(infra, topic, consuming, hostile)

    headers = {k: v.decode() for k, v in letter.headers()}
    assert headers["dlq-reason"].startswith("invalid Item")
    assert headers["dlq-truncated"] == "value"
    assert headers["dlq-original-size"] == str(len(HUGE))
    assert headers["dlq-original-sha256"] == hashlib.sha256(HUGE).hexdigest()
    assert letter.value() == HUGE[:VALUE_PREFIX] and letter.key() == b"big"
    assert headers["adv-probe"] == "oversize"


async def test_a_record_naming_a_key_twice_is_dead_lettered_naming_it_and_the_rest_apply(
    infra: Servers, topic: str, start: Start
) -> None:
    # Parsers differ on which copy they keep: a sender's tool may have meant the first, Python keeps the last.
    consuming = await start(topic)
    hostile = Rec(b'{"n": 1, "n": 999}', partition=2, key=b"twice")

    letter = await _hostile_among_good_ones(infra, topic, consuming, hostile)

    reason = dict(letter.headers())["dlq-reason"].decode()
    assert reason.startswith("invalid Item") and "the key 'n' appears more than once" in reason
    assert 999 not in consuming.applied
