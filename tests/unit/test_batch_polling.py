"""A batch consumer hands over records as soon as they are fetched, never after a sleep following an empty poll."""

from __future__ import annotations

import time

from faststream.kafka import KafkaBroker

from shared.contracts.envelope import EventEnvelope
from shared.messaging.batches import BatchSubscriber, poll_without_idle_sleep
from shared.messaging.pacing import FetchWait


class FakeConsumer:
    """Answers each getmany with the next prepared answer ({partition: [records]}), at once."""

    def __init__(self, *answers: dict[str, list[str]]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        self.asked.append((timeout_ms, max_records))
        return self.answers.pop(0)


def _batch_subscriber() -> object:
    broker = KafkaBroker("127.0.0.1:1")  # never connected: only the subscriber's poll is used
    return broker.subscriber("t", group_id="g", batch=True, batch_timeout_ms=200, max_records=50)


async def _timed_poll(subscriber: object, consumer: FakeConsumer) -> tuple[tuple, float]:
    began = time.perf_counter()
    got = await subscriber.get_msg(consumer)  # type: ignore[attr-defined]
    return got, time.perf_counter() - began


async def test_an_empty_poll_returns_at_once_and_the_next_one_hands_over_every_partitions_records():
    subscriber = _batch_subscriber()
    poll_without_idle_sleep(subscriber, 200, 50)
    consumer = FakeConsumer({}, {"p0": ["a", "b"], "p1": ["c"]})

    empty, took = await _timed_poll(subscriber, consumer)
    assert empty == () and took < 0.1  # the broker's wait is the only one: no sleep on top of it
    records, _ = await _timed_poll(subscriber, consumer)
    assert records == ("a", "b", "c")
    assert consumer.asked == [(200, 50), (200, 50)]


async def test_faststreams_own_batch_poll_sleeps_after_an_empty_poll_which_is_why_it_is_replaced():
    # If this fails after an upgrade, faststream stopped sleeping there and poll_without_idle_sleep can go.
    empty, took = await _timed_poll(_batch_subscriber(), FakeConsumer({}))
    assert empty == () and took >= 0.2


async def test_every_batch_subscriber_of_the_project_polls_without_the_sleep():
    async def handle(_: list[EventEnvelope]) -> int:
        return 0

    batches = BatchSubscriber(
        broker=KafkaBroker("127.0.0.1:1"),
        topic="t",
        group="g",
        model=EventEnvelope,
        handle=handle,
        fetch_wait=FetchWait(10, 100),
    )
    empty, took = await _timed_poll(batches.subscriber, FakeConsumer({}))
    assert empty == () and took < 0.05
