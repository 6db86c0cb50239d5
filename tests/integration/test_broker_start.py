"""A service's consumer groups join together at start (real Tansu): four groups start about as fast as one."""

from __future__ import annotations

import time
import uuid

import pytest

from shared.config import ConnectionSettings
from shared.messaging.batches import BatchSubscriber
from shared.messaging.kafka import ensure_topics, make_broker
from shared.messaging.pacing import FetchWait
from tests.conftest import Servers

pytestmark = pytest.mark.integration


async def _seconds_to_start(settings: ConnectionSettings, groups: int) -> float:
    topics = [f"start.test.{uuid.uuid4().hex[:8]}" for _ in range(groups)]
    await ensure_topics(settings, topics)
    broker = make_broker(settings, "start-test")

    async def handle(items: list[dict]) -> int:
        return len(items)

    subscribers = [
        BatchSubscriber(
            broker=broker, topic=t, group=f"g-{t}", model=dict, handle=handle, fetch_wait=FetchWait(20)
        )
        for t in topics
    ]
    began = time.monotonic()
    await broker.start()
    try:
        seconds = time.monotonic() - began
        assert all(s.subscriber.consumer.assignment() for s in subscribers)  # every group admitted it
        return seconds
    finally:
        await broker.stop()


async def test_a_service_of_four_consumer_groups_starts_about_as_fast_as_one_of_one(infra: Servers) -> None:
    # A broker answers a new group only after waiting for more members (Tansu: 5 s); one after another, four
    # groups took four waits and a service such as notification 21 s to serve its health check.
    settings = ConnectionSettings(KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap)
    one = await _seconds_to_start(settings, 1)
    four = await _seconds_to_start(settings, 4)
    assert four < 1.5 * one, f"four groups took {four:.1f} s to start, one took {one:.1f} s"
