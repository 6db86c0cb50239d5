"""Event-store append against raw insert_one into the same database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from shared.contracts.envelope import Actor
from shared.eventstore.mongo import MongoRecorder, connect, ensure_indexes
from shared.eventstore.recorder import NewEvent, Recording

PAYLOAD = {"note": "x" * 300}
ACTOR = Actor(kind="service", id="bench")


def recording(stream: str, expected: int) -> Recording:
    return Recording(stream, "case", expected, "finance", ACTOR, uuid.uuid4().hex, uuid.uuid4())


async def rate(n: int, op: Callable[[int], Awaitable[Any]], concurrency: int = 1) -> float:
    """Return operations per second of n calls op(worker), `concurrency` workers at a time."""
    per_worker = n // concurrency

    async def worker(w: int) -> None:
        for _ in range(per_worker):
            await op(w)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return per_worker * concurrency / (time.perf_counter() - start)


async def bench_appends(mongo_uri: str, n: int) -> dict[str, Any]:
    """Compare appends (new streams, existing streams, 16 concurrent streams) with raw inserts."""
    client = connect(mongo_uri)
    db = client["bench_appends"]
    await client.drop_database(db.name)
    await ensure_indexes(db)
    recorder = MongoRecorder(client, db)
    raw = db["raw"]
    await raw.create_index("stream_id")

    def raw_doc(i: int) -> dict[str, Any]:
        return {"stream_id": uuid.uuid4().hex, "event_type": "Benchmarked", "data": PAYLOAD, "i": i}

    async def append_new(i: int) -> None:
        await recorder.append(recording(uuid.uuid4().hex, 0), [NewEvent("Benchmarked", 1, PAYLOAD)])

    versions = [0] * 16

    async def append_existing(stream: int) -> None:
        # One writer per stream: each knows its stream's version, as a command handler would.
        await recorder.append(
            recording(f"s{stream}", versions[stream]), [NewEvent("Benchmarked", 1, PAYLOAD)]
        )
        versions[stream] += 1

    await rate(100, lambda i: raw.insert_one(raw_doc(i)))  # warm up connections and caches
    result = {
        "raw_insert_one_per_s": await rate(n, lambda i: raw.insert_one(raw_doc(i))),
        "append_new_stream_per_s": await rate(n, append_new),
        "append_existing_stream_per_s": await rate(n, lambda _: append_existing(0)),
        "raw_insert_one_16_concurrent_per_s": await rate(n, lambda i: raw.insert_one(raw_doc(i)), 16),
        "append_16_concurrent_streams_per_s": await rate(n, append_existing, 16),
    }
    result["ratio_sequential_new_stream"] = result["append_new_stream_per_s"] / result["raw_insert_one_per_s"]
    result["ratio_sequential_existing_stream"] = (
        result["append_existing_stream_per_s"] / result["raw_insert_one_per_s"]
    )
    result["ratio_16_concurrent"] = (
        result["append_16_concurrent_streams_per_s"] / result["raw_insert_one_16_concurrent_per_s"]
    )
    await client.drop_database(db.name)
    await client.close()
    return {k: round(v, 3) for k, v in result.items()}
