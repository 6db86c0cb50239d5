"""The embedded broker's CPU at a constant load while its topic fills: what makes a long run slow down.

Tansu keeps every record in memory and, to answer a fetch that returns records, lists every batch the partition
has ever stored before reading from the fetched offset (its `dynostore` fetch; a fetch at the head lists
nothing). Here five consumer groups follow a four-partition topic as the services follow `case.events.v1`
(a 10 ms fetch wait, a commit after each batch) while keyed records arrive at a steady rate; the broker's CPU is
read in every window, then with the same fetchers idle at the head of the full topic. Only the broker runs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.processes import cpu_seconds
from shared.devstack.stack import Stack

GROUPS, PARTITIONS, RATE_PER_S, WINDOWS, WINDOW_S, IDLE_S = 5, 4, 40.0, 5, 30.0, 15.0
RECORD = b"x" * 1200  # about an event envelope's size
FETCH_WAIT_MS = 10  # the services' fetch wait while records flow (KAFKA_FETCH_MAX_WAIT_MS)


async def _follow(consumer: AIOKafkaConsumer) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=100)
        if any(batches.values()):
            await consumer.commit()


async def _share(pid: int, seconds: float, during: Callable[[float], Awaitable[None]] | None = None) -> float:
    """Return the broker's share of one core (percent) over `seconds`, while `during` runs if given."""
    before, began = cpu_seconds(pid), time.perf_counter()
    if during is None:
        await asyncio.sleep(seconds)
    else:
        await during(began + seconds)
    return round((cpu_seconds(pid) - before) / (time.perf_counter() - began) * 100, 1)


async def bench_broker(stack: Stack, windows: int = WINDOWS, window_s: float = WINDOW_S) -> dict[str, Any]:
    """Tansu's CPU per window at a constant produce and fetch load, and idle at the head of the full topic."""
    assert stack.kafka is not None and stack.kafka.proc is not None
    pid, bootstrap = stack.kafka.proc.pid, stack.config.bootstrap
    topic = f"bench.broker.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    consumers = [
        AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"{topic}.g{i}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_WAIT_MS,
        )
        for i in range(GROUPS)
    ]
    sent = 0

    async def produce_until(deadline: float) -> None:
        nonlocal sent
        while time.perf_counter() < deadline:
            await producer.send(topic, RECORD, key=str(sent).encode())
            sent += 1
            await asyncio.sleep(1 / RATE_PER_S)

    await producer.start()
    for consumer in consumers:
        await consumer.start()
    followers = [asyncio.create_task(_follow(c)) for c in consumers]
    rows: list[dict[str, Any]] = []
    try:
        for _ in range(windows):
            share = await _share(pid, window_s, produce_until)
            rows.append({"records_held_at_end": sent, "tansu_cpu_percent": share})
        await producer.flush()
        await asyncio.sleep(2)  # the fetchers catch up to the head
        idle = await _share(pid, IDLE_S)
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        for consumer in consumers:
            await consumer.stop()
        await producer.stop()
    first, last = rows[0]["tansu_cpu_percent"], rows[-1]["tansu_cpu_percent"]
    return {
        "groups": GROUPS,
        "partitions": PARTITIONS,
        "rate_per_s": RATE_PER_S,
        "window_s": window_s,
        "windows": rows,
        "last_over_first": round(last / first, 2) if first else None,
        "idle_at_head_of_full_topic_cpu_percent": idle,
    }


def table(result: dict[str, Any]) -> str:
    """Return the broker report as a Markdown table."""
    lines = [
        f"Tansu, {result['groups']} groups following a {result['partitions']}-partition topic, "
        f"{result['rate_per_s']:g} records/s, {result['window_s']:g} s windows:",
        "",
        "| records held at the window's end | Tansu CPU, % of one core |",
        "|---:|---:|",
    ]
    lines += [f"| {w['records_held_at_end']} | {w['tansu_cpu_percent']} |" for w in result["windows"]]
    lines += [
        "",
        f"Last window ÷ first: {result['last_over_first']}. The same fetchers idle at the head of the full "
        f"topic: {result['idle_at_head_of_full_topic_cpu_percent']}%.",
    ]
    return "\n".join(lines)
