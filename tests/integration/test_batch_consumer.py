"""The batch consumer on a real Tansu: a batch with a poison record applies the others once and dead-letters it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from shared.config import ConnectionSettings
from shared.contracts.topics import dlq
from shared.messaging.batches import BatchSubscriber
from shared.messaging.consumer import PoisonMessage, RetryPolicy
from shared.messaging.kafka import ensure_topics
from shared.messaging.pacing import FetchWait
from tests.conftest import Servers
from tests.kafka_client import aproduce, aread_topic
from tests.support import eventually

pytestmark = pytest.mark.integration


class Item(BaseModel):
    n: int


class Ledger:
    """The effect under test: what was applied, and how many batches the handler saw."""

    def __init__(self, poison: set[int], broken: set[int]) -> None:
        self.applied: list[int] = []
        self.batches: list[list[int]] = []
        self._poison, self._broken = poison, broken

    async def handle(self, items: list[Item]) -> int:
        numbers = [i.n for i in items]
        self.batches.append(numbers)
        if bad := self._poison.intersection(numbers):
            raise PoisonMessage(f"item {min(bad)} breaks a rule")
        if broken := self._broken.intersection(numbers):
            raise ValueError(f"item {min(broken)} cannot be applied")
        self.applied += numbers  # all or nothing, as a bulk write guarded by version would be
        return len(items)


@pytest.fixture
async def topic(infra: Servers) -> str:
    name = f"batch.test.{uuid.uuid4().hex[:8]}"
    await ensure_topics(ConnectionSettings(KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap), [name, dlq(name)])
    return name


@pytest.fixture
async def consuming(infra: Servers, topic: str) -> AsyncIterator[tuple[Ledger, BatchSubscriber[Item]]]:
    ledger = Ledger(poison={3}, broken={6})
    broker = KafkaBroker(infra.bootstrap)
    subscriber = BatchSubscriber(
        broker=broker,
        topic=topic,
        group=f"g-{topic}",
        model=Item,
        handle=ledger.handle,
        fetch_wait=FetchWait(20),
        retry=RetryPolicy(max_attempts=2, first_delay_s=0.01),
    )
    await broker.start()
    yield ledger, subscriber
    await broker.stop()


async def test_a_batch_with_poison_records_applies_the_others_once_and_dead_letters_the_poison_ones(
    infra: Servers, topic: str, consuming: tuple[Ledger, BatchSubscriber[Item]]
) -> None:
    ledger, subscriber = consuming
    values = [json.dumps({"n": n}).encode() for n in range(1, 9)]
    values.insert(4, b"{not json")  # invalid: dead-lettered before the handler sees it
    await asyncio.sleep(2)  # let the consumer join its group, so the records come in one poll
    await aproduce(infra.bootstrap, topic, values, key=b"one-partition")

    await eventually(lambda: _at_least(len(ledger.applied), 6), 30, "the good records applied")
    letters = await aread_topic(infra.bootstrap, dlq(topic), until=3, timeout=20)

    assert sorted(ledger.applied) == [1, 2, 4, 5, 7, 8]  # each good record once
    assert any(len(batch) > 1 for batch in ledger.batches), (
        ledger.batches
    )  # it really was consumed in batches
    reasons = {letter.value(): dict(letter.headers())["dlq-reason"].decode() for letter in letters}
    assert set(reasons) == {b"{not json", b'{"n": 3}', b'{"n": 6}'}
    assert "invalid Item" in reasons[b"{not json"]
    assert "item 3 breaks a rule" in reasons[b'{"n": 3}']
    assert "ValueError: item 6 cannot be applied" in reasons[b'{"n": 6}']
    assert subscriber.stats.handled == 6 and subscriber.stats.dead_lettered == 3


async def _at_least(value: int, n: int) -> bool:
    return value >= n


async def test_a_consumer_polls_slowly_while_idle_and_quickly_once_records_come(
    infra: Servers, topic: str
) -> None:
    broker = KafkaBroker(infra.bootstrap)
    seen: list[int] = []

    async def handle(items: list[Item]) -> int:
        seen.extend(i.n for i in items)
        return len(items)

    subscriber = BatchSubscriber(
        broker=broker,
        topic=topic,
        group=f"g-{topic}",
        model=Item,
        handle=handle,
        fetch_wait=FetchWait(busy_ms=10, idle_ms=150, idle_after_s=1.0),
    )
    await broker.start()
    try:
        await asyncio.sleep(1)
        assert subscriber.pacer.current_ms() == 150  # nothing came yet: idle
        await aproduce(infra.bootstrap, topic, [b'{"n": 1}'])
        await eventually(lambda: _at_least(len(seen), 1), 20, "the record consumed")
        assert subscriber.pacer.current_ms() == 10
        await asyncio.sleep(1.5)
        assert subscriber.pacer.current_ms() == 150
    finally:
        await broker.stop()
