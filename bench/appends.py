"""Event-store append against raw insert_one into the same database."""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from shared.contracts.envelope import Actor
from shared.eventstore.mongo import EVENTS, HEAD_ID, META, MongoRecorder, connect, ensure_indexes
from shared.eventstore.recorder import NewEvent, Recording
from shared.eventstore.sequencer import Sequencer

PAYLOAD = {"note": "x" * 300}
ACTOR = Actor(kind="service", id="bench")


def recording(stream: str, expected: int) -> Recording:
    return Recording(stream, "case", expected, "finance", ACTOR, uuid.uuid4().hex, uuid.uuid4())


async def _timed(n: int, op: Callable[[int], Awaitable[Any]], concurrency: int) -> float:
    per_worker = n // concurrency

    async def worker(w: int) -> None:
        for _ in range(per_worker):
            await op(w)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return time.perf_counter() - start


async def rates(
    n: int, ops: dict[str, Callable[[int], Awaitable[Any]]], concurrency: int = 1, rounds: int = 10
) -> dict[str, float]:
    """Return operations per second of n calls of each op(worker), `concurrency` workers at a time.

    The ops take turns in blocks of n / rounds, so a noisy moment of the machine hits them alike.
    """
    spent = dict.fromkeys(ops, 0.0)
    for _ in range(rounds):
        for name, op in ops.items():
            spent[name] += await _timed(n // rounds, op, concurrency)
    return {name: (n // rounds // concurrency) * concurrency * rounds / s for name, s in spent.items()}


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

    async def insert_raw(i: int) -> None:
        await raw.insert_one(raw_doc(i))

    async def append_new(i: int) -> None:
        await recorder.append(recording(uuid.uuid4().hex, 0), [NewEvent("Benchmarked", 1, PAYLOAD)])

    versions = [0] * 16

    async def append_existing(stream: int) -> None:
        # One writer per stream: each knows its stream's version, as a command handler would.
        await recorder.append(
            recording(f"s{stream}", versions[stream]), [NewEvent("Benchmarked", 1, PAYLOAD)]
        )
        versions[stream] += 1

    await _timed(100, insert_raw, 1)  # warm up connections and caches
    sequential = await rates(
        n, {"raw": insert_raw, "new": append_new, "existing": lambda _: append_existing(0)}
    )
    concurrent = await rates(n, {"raw": insert_raw, "existing": append_existing}, concurrency=16)
    result = {
        "raw_insert_one_per_s": sequential["raw"],
        "append_new_stream_per_s": sequential["new"],
        "append_existing_stream_per_s": sequential["existing"],
        "raw_insert_one_16_concurrent_per_s": concurrent["raw"],
        "append_16_concurrent_streams_per_s": concurrent["existing"],
        "ratio_sequential_new_stream": sequential["new"] / sequential["raw"],
        "ratio_sequential_existing_stream": sequential["existing"] / sequential["raw"],
        "ratio_16_concurrent": concurrent["existing"] / concurrent["raw"],
    }
    await client.drop_database(db.name)
    await client.close()
    return {k: round(v, 3) for k, v in result.items()}


STREAM_LENGTH = 10  # seeded streams hold ten events each, like a worked case


def _seed_stream(number: int) -> str:
    return str(uuid.UUID(int=number << 64))


def _seeded(template: dict[str, Any], ordinal: int, position: int) -> dict[str, Any]:
    """Return the n-th seeded event as a sequenced document (streams are blocks of ten)."""
    stream, version = divmod(ordinal, STREAM_LENGTH)
    return {
        **template,
        "_id": str(uuid.UUID(int=position)),
        "stream_id": _seed_stream(stream),
        "version": version + 1,
        "command_id": uuid.UUID(int=position).hex,
        "position": position,
    }


async def _seed(db: Any, template: dict[str, Any], n: int) -> None:
    """Bulk-load n sequenced events (only the measured appends go through the store's code)."""
    for first in range(1, n + 1, 5000):
        chunk = range(first, min(first + 5000, n + 1))
        await db[EVENTS].insert_many([_seeded(template, p - 1, p) for p in chunk])
        if first % 100_000 == 1 and first > 1:
            print(f"  {db.name}: {first - 1:,} events", file=sys.stderr, flush=True)
    await db[META].update_one({"_id": HEAD_ID}, {"$set": {"position": n}})


@dataclass
class _Store:
    """One measured event store: its recorder, its sequencer, and its untouched seeded streams."""

    recorder: MongoRecorder
    sequencer: Sequencer
    streams: list[int]
    append_ms: list[float] = field(default_factory=list)
    sequence_ms: list[float] = field(default_factory=list)

    async def append_once(self, existing: bool) -> None:
        """Append one event (to a seeded stream or a new one), then sequence it; record both times."""
        target = (
            recording(_seed_stream(self.streams.pop()), STREAM_LENGTH)
            if existing
            else recording(uuid.uuid4().hex, 0)
        )
        began = time.perf_counter()
        await self.recorder.append(target, [NewEvent("Benchmarked", 1, PAYLOAD)])
        appended = time.perf_counter()
        assert await self.sequencer.sequence_once() == 1
        self.append_ms.append((appended - began) * 1000)
        self.sequence_ms.append((time.perf_counter() - appended) * 1000)

    def summary(self) -> dict[str, float]:
        return {
            "append_p50_ms": round(statistics.median(self.append_ms), 2),
            "append_p99_ms": round(statistics.quantiles(self.append_ms, n=100)[98], 2),
            "sequence_p50_ms": round(statistics.median(self.sequence_ms), 2),
        }


async def _store(client: Any, name: str, size: int, samples: int) -> _Store:
    db = client[name]
    await client.drop_database(name)
    await ensure_indexes(db)
    recorder = MongoRecorder(client, db)
    await recorder.append(recording("template", 0), [NewEvent("Benchmarked", 1, PAYLOAD)])
    template = await db[EVENTS].find_one_and_delete({"stream_id": "template"}, {"pending": 0})
    assert template is not None
    began = time.perf_counter()
    await _seed(db, template, size)
    print(f"seeded {size:,} events in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    streams = random.sample(range(size // STREAM_LENGTH), samples)
    return _Store(recorder, Sequencer(db), streams)


async def bench_append_scale(mongo_uri: str, small: int, large: int, samples: int = 1000) -> dict[str, Any]:
    """Compare append latency in a store of `small` events with one of `large`, on the same server.

    The two stores are measured turn about, one append each, so both see the same machine noise.
    """
    client = connect(mongo_uri)
    stores = {
        "small": await _store(client, "bench_scale_small", small, samples),
        "large": await _store(client, "bench_scale_large", large, samples),
    }
    for i in range(samples):
        for store in stores.values():
            await store.append_once(existing=bool(i % 2))
    result: dict[str, Any] = {
        label: {"events_in_store": size, **store.summary()}
        for (label, store), size in zip(stores.items(), (small, large), strict=True)
    }
    for key in ("append_p50_ms", "append_p99_ms", "sequence_p50_ms"):
        result[f"ratio_{key}"] = round(result["large"][key] / result["small"][key], 3)
    for name in ("bench_scale_small", "bench_scale_large"):
        await client.drop_database(name)
    await client.close()
    return result
