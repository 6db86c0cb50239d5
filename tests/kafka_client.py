"""A librdkafka (confluent-kafka) client: how another bureau's system talks to ours over Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition


def produce(bootstrap: str, topic: str, values: list[bytes], key: bytes | None = None) -> None:
    """Produce raw values and wait until the broker acknowledged all of them."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors: list[Any] = []
    for value in values:
        producer.produce(topic, value=value, key=key, on_delivery=lambda err, _m: err and errors.append(err))
    producer.flush(30)
    assert not errors, errors


def intake_request(body: dict[str, Any], bureau: str = "finance", request_id: str | None = None) -> bytes:
    """Return an intake.requests.v1 message for a case body."""
    return json.dumps({"request_id": request_id or str(uuid.uuid4()), "bureau": bureau, **body}).encode()


def read_topic(bootstrap: str, topic: str, until: int, timeout: float = 20.0) -> list[Any]:
    """Read a topic from the start until `until` records or timeout; return the messages."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    # Assign every partition from the beginning: a reader needs no group membership.
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < until and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                found.append(message)
    finally:
        consumer.close()
    return found


async def aproduce(bootstrap: str, topic: str, values: list[bytes], key: bytes | None = None) -> None:
    """produce() off the event loop."""
    await asyncio.to_thread(produce, bootstrap, topic, values, key)


async def aread_topic(bootstrap: str, topic: str, until: int, timeout: float = 20.0) -> list[Any]:
    """read_topic() off the event loop."""
    return await asyncio.to_thread(read_topic, bootstrap, topic, until, timeout)
