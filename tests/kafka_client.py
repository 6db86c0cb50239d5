"""A librdkafka (confluent-kafka) client: how another bureau's system talks to ours over Kafka."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth.signing import sign_message


@dataclass(frozen=True)
class IntakeSigner:
    """A bureau integration's registered Ed25519 key: signs what it produces, as the bureau's system does."""

    private_key: Ed25519PrivateKey
    key_id: str
    bureau: str

    def headers(self, value: bytes) -> list[tuple[str, bytes]]:
        """Return the signature headers of one message value."""
        return sign_message(self.private_key, self.key_id, value)


async def register_signer(admin: httpx.AsyncClient, integration: str = "测试对接系统") -> IntakeSigner:
    """Register a fresh key through the API with a bureau admin's client; return its signer."""
    private_key = Ed25519PrivateKey.generate()
    public_key = base64.b64encode(private_key.public_key().public_bytes_raw()).decode()
    answer = await admin.post(
        "/api/v1/integrations/keys", json={"integration": integration, "public_key": public_key}
    )
    assert answer.status_code == 201, answer.text
    return IntakeSigner(private_key, answer.json()["key_id"], answer.json()["bureau"])


Headers = list[tuple[str, bytes]]


def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    key: bytes | None = None,
    signer: IntakeSigner | None = None,
) -> None:
    """Produce raw values (signed by signer, if given) and wait until the broker acknowledged all of them."""
    produce_records(bootstrap, topic, [(v, signer.headers(v) if signer else None) for v in values], key)


def produce_records(
    bootstrap: str, topic: str, records: list[tuple[bytes, Headers | None]], key: bytes | None = None
) -> None:
    """Produce values, each with its own headers (forged ones too), in order; wait for every ack."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors: list[Any] = []

    def delivered(err: Any, _message: Any) -> None:
        if err is not None:
            errors.append(err)

    for value, headers in records:
        given: list[tuple[str, str | bytes | None]] | None = list(headers) if headers is not None else None
        producer.produce(topic, value=value, key=key, headers=given, on_delivery=delivered)
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


async def aproduce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    key: bytes | None = None,
    signer: IntakeSigner | None = None,
) -> None:
    """produce() off the event loop."""
    await asyncio.to_thread(produce, bootstrap, topic, values, key, signer)


async def aproduce_records(
    bootstrap: str, topic: str, records: list[tuple[bytes, Headers | None]], key: bytes | None = None
) -> None:
    """produce_records() off the event loop."""
    await asyncio.to_thread(produce_records, bootstrap, topic, records, key)


async def aread_topic(bootstrap: str, topic: str, until: int, timeout: float = 20.0) -> list[Any]:
    """read_topic() off the event loop."""
    return await asyncio.to_thread(read_topic, bootstrap, topic, until, timeout)
