"""HTTP intake to projection-visible latency at a fixed rate, against a raw produce-consume-insert trip."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.devstack.stack import Stack
from shared.eventstore.mongo import connect
from tests.support import case_body

RATE_PER_S = 20


def percentiles(samples: list[float]) -> dict[str, float]:
    """Return p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


async def watch_inserts(collection: Any, seen: dict[str, float], ready: asyncio.Event) -> None:
    """Record when each document id is first inserted into a collection (a change stream)."""
    async with await collection.watch([{"$match": {"operationType": "insert"}}]) as s:
        ready.set()
        async for change in s:
            seen.setdefault(str(change["documentKey"]["_id"]), time.perf_counter())


async def at_fixed_rate(n: int, send: Any, rate: float = RATE_PER_S) -> None:
    """Call send(i) n times at `rate` per second, without waiting for each to finish."""
    tasks = []
    start = time.perf_counter()
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)


async def settle(seen: dict[str, float], sent: dict[str, float], timeout: float = 30) -> list[float]:
    deadline = time.monotonic() + timeout
    while len([k for k in sent if k in seen]) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return [seen[k] - t for k, t in sent.items() if k in seen]


async def intake_to_projection(stack: Stack, n: int) -> dict[str, Any]:
    client = connect(stack.config.mongo_uri)
    seen: dict[str, float] = {}
    ready = asyncio.Event()
    watcher = asyncio.create_task(watch_inserts(client[stack.config.database]["case_view"], seen, ready))
    await ready.wait()
    sent: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {stack.credentials['finance']}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as http:
        for i in range(10):  # warm up
            await http.post("/api/v1/cases", json=case_body(900_000 + i))

        async def send(i: int) -> None:
            began = time.perf_counter()
            answer = await http.post("/api/v1/cases", json=case_body(i))
            sent[answer.json()["case_id"]] = began

        await at_fixed_rate(n, send)
    samples = await settle(seen, sent)
    watcher.cancel()
    await client.close()
    return {**percentiles(samples), "visible": len(samples), "sent": n}


async def raw_round_trip(stack: Stack, n: int) -> dict[str, Any]:
    bootstrap, topic = stack.config.bootstrap, f"bench.raw.{uuid.uuid4().hex[:8]}"
    client = connect(stack.config.mongo_uri)
    collection = client["bench_raw"]["docs"]
    seen: dict[str, float] = {}
    ready = asyncio.Event()
    watcher = asyncio.create_task(watch_inserts(collection, seen, ready))
    await ready.wait()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{topic}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=stack.connection_settings().kafka_fetch_max_wait_ms,
    )
    await producer.start()
    await producer.send_and_wait(topic, b"warm-up")
    await consumer.start()

    async def consume() -> None:
        async for record in consumer:
            if record.value != b"warm-up":
                await collection.insert_one({"_id": record.value.decode()})
            await consumer.commit()

    consuming = asyncio.create_task(consume())
    sent: dict[str, float] = {}

    async def send(i: int) -> None:
        key = uuid.uuid4().hex
        sent[key] = time.perf_counter()
        await producer.send_and_wait(topic, key.encode(), key=key.encode())

    await asyncio.sleep(3)  # let the consumer join its group before measuring
    await at_fixed_rate(n, send)
    samples = await settle(seen, sent)
    for task in (consuming, watcher):
        task.cancel()
    await consumer.stop()
    await producer.stop()
    await client.drop_database("bench_raw")
    await client.close()
    return {**percentiles(samples), "visible": len(samples), "sent": n}


async def bench_latency(stack: Stack, n: int) -> dict[str, Any]:
    """Measure both at RATE_PER_S and report the ratio of medians."""
    raw = await raw_round_trip(stack, n)
    intake = await intake_to_projection(stack, n)
    return {
        "rate_per_s": RATE_PER_S,
        "raw_produce_consume_insert": raw,
        "http_intake_to_projection": intake,
        "ratio_p50": round(intake["p50_ms"] / raw["p50_ms"], 2),
        "targets": "p50 < 50 ms, p99 < 250 ms on the embedded default",
    }
