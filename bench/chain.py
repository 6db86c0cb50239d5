"""The hash chain's cost: append-to-visible with and without it, and `make verify` against a raw scan.

`python -m bench.chain` starts its own embedded SecantusDB (as `make bench` does) and prints JSON. The
baseline sequencer is the one from before the chain (numbers positions only, reads only ids), kept here so
both run in the same process against the same server, taking turns so a noisy moment hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from bench.rebuild import RssSampler, case_opened
from shared.audit.walk import verify_chain
from shared.contracts.envelope import Actor
from shared.devstack.processes import free_port
from shared.devstack.stack import SERVICES, Stack, StackConfig
from shared.eventstore.chain import GENESIS, document_fields, event_hash
from shared.eventstore.mongo import EVENTS, HEAD_ID, META, MongoChain, MongoRecorder, connect, ensure_indexes
from shared.eventstore.recorder import NewEvent, Recording, to_millis
from shared.eventstore.sequencer import Sequencer

ACTOR = Actor(kind="service", id="bench")
DATA = case_opened(1)["data"]  # a real CaseOpened payload (about 1 KB)


class UnchainedSequencer(Sequencer):
    """The sequencer as it was before the chain: positions only. The benchmark's baseline, nothing else."""

    async def _sequence_batch(self) -> int:
        await self._hold_lease()
        if self.head is None:
            self.head, _ = await self._recover_head()
        head = self.head
        cursor = (
            self._events.find({"pending": {"$exists": True}}, {"stream_id": 1, "version": 1})
            .sort("pending", ASCENDING)
            .limit(self._batch_size)
        )
        docs = [d async for d in cursor]
        batch = await self._in_stream_order(docs, complete=len(docs) < self._batch_size)
        if not batch:
            return 0
        updates = [
            UpdateOne(
                {"_id": doc["_id"], "pending": {"$exists": True}},
                {"$set": {"position": head + i}, "$unset": {"pending": ""}},
            )
            for i, doc in enumerate(batch, start=1)
        ]
        await self._events.bulk_write(updates, ordered=True)
        await self._move_head(head, head + len(batch), None)
        self.head = head + len(batch)
        return len(batch)


def _recording(stream: str) -> Recording:
    return Recording(stream, "case", 0, "finance", ACTOR, uuid.uuid4().hex, uuid.uuid4())


async def _fresh(client: Any, name: str) -> AsyncDatabase:
    db = client[name]
    await client.drop_database(name)
    await ensure_indexes(db)
    return db


async def _append_to_visible(db: AsyncDatabase, sequencer: Sequencer, n: int) -> list[float]:
    """Return seconds from append until visible in the global order (sequenced, head moved), per event."""
    recorder = MongoRecorder(db.client, db)
    spent = []
    for _ in range(n):
        began = time.perf_counter()
        await recorder.append(_recording(uuid.uuid4().hex), [NewEvent("CaseOpened", 1, DATA)])
        while not await sequencer.sequence_once():
            pass
        spent.append(time.perf_counter() - began)
    return spent


async def _sequence_backlog(db: AsyncDatabase, sequencer: Sequencer, n: int) -> float:
    """Insert n pending events at once and return the seconds the sequencer takes to number them all."""
    docs = []
    for p in range(n):
        doc = case_opened(p + 1)
        del doc["position"]
        doc["pending"] = doc["recorded_at"]
        docs.append(doc)
    for start in range(0, n, 2000):
        await db[EVENTS].insert_many(docs[start : start + 2000])
    began = time.perf_counter()
    while await sequencer.sequence_once():
        pass
    return time.perf_counter() - began


def _ms(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q) - 1] * 1000, 2)


async def bench_chain_cost(mongo_uri: str, appends: int, backlog: int, rounds: int = 5) -> dict[str, Any]:
    """Append-to-visible and backlog sequencing, chained against unchained, in alternating rounds."""
    client = connect(mongo_uri)
    chained_db, plain_db = await _fresh(client, "bench_chain_on"), await _fresh(client, "bench_chain_off")
    chained, plain = Sequencer(chained_db), UnchainedSequencer(plain_db)
    lat: dict[str, list[float]] = {"chained": [], "unchained": []}
    backlog_s = {"chained": 0.0, "unchained": 0.0}
    for _ in range(rounds):
        lat["unchained"] += await _append_to_visible(plain_db, plain, appends // rounds)
        lat["chained"] += await _append_to_visible(chained_db, chained, appends // rounds)
        backlog_s["unchained"] += await _sequence_backlog(plain_db, plain, backlog // rounds)
        backlog_s["chained"] += await _sequence_backlog(chained_db, chained, backlog // rounds)
    report = await verify_chain(MongoChain(chained_db))
    assert report.intact, report.summary()
    for name in ("bench_chain_on", "bench_chain_off"):
        await client.drop_database(name)
    await client.close()
    mean = {k: statistics.fmean(v) for k, v in lat.items()}
    per_s = {k: (backlog // rounds) * rounds / s for k, s in backlog_s.items()}
    return {
        "appends": len(lat["chained"]),
        "append_to_visible_ms": {
            k: {"mean": round(mean[k] * 1000, 2), "p50": _ms(v, 50), "p99": _ms(v, 99)}
            for k, v in lat.items()
        },
        # Medians: on a shared machine one stall of the server swings a mean of a few hundred samples.
        "append_to_visible_ratio_chained_vs_unchained": round(
            statistics.median(lat["unchained"]) / statistics.median(lat["chained"]), 3
        ),
        "append_to_visible_mean_ratio": round(mean["unchained"] / mean["chained"], 3),
        "backlog_events": (backlog // rounds) * rounds,
        "sequencer_backlog_events_per_s": {k: round(v) for k, v in per_s.items()},
        "sequencer_backlog_ratio_chained_vs_unchained": round(per_s["chained"] / per_s["unchained"], 3),
        "note": "ratios: 1.0 = the chain costs nothing; 0.8 = chained runs at 80% of the unchained speed",
    }


async def _seed_chain(db: AsyncDatabase, n: int) -> None:
    """Store n chained events as the sequencer would have (its hashing functions, written in bulk)."""
    previous = GENESIS
    for start in range(1, n + 1, 2000):
        docs = []
        for position in range(start, min(start + 2000, n + 1)):
            doc = case_opened(position)
            # Hash what will be read back: BSON keeps milliseconds (the sequencer hashes stored documents).
            doc.update(occurred_at=to_millis(doc["occurred_at"]), recorded_at=to_millis(doc["recorded_at"]))
            digest = event_hash(previous, document_fields(doc))
            doc.update(hash=digest, prev_hash=previous)
            docs.append(doc)
            previous = digest
        await db[EVENTS].insert_many(docs)
    await db[META].update_one(
        {"_id": HEAD_ID}, {"$set": {"position": n, "hash": previous, "chain_start": 1}}, upsert=True
    )


async def bench_verify(mongo_uri: str, n: int, batch_size: int = 2000) -> dict[str, Any]:
    """Store n chained events, then time a raw scan (one cursor, and the walk's windows) against the walk."""
    client = connect(mongo_uri)
    db = await _fresh(client, "bench_verify")
    await _seed_chain(db, n)

    began = time.perf_counter()
    scanned = 0
    async for _ in db[EVENTS].find({"position": {"$gt": 0}}, batch_size=5000).sort("position", 1):
        scanned += 1
    raw_cursor_s = time.perf_counter() - began

    began = time.perf_counter()
    windowed = sum([1 async for _ in MongoChain(db, batch_size).chained_events(0, n)])
    raw_windows_s = time.perf_counter() - began

    sampler = RssSampler()
    sampler.start()
    report = await verify_chain(MongoChain(db, batch_size))
    sampler.stop()
    await client.drop_database(db.name)
    await client.close()
    assert scanned == windowed == n and report.intact and report.events == n, report.summary()
    return {
        "events": n,
        "raw_scan_events_per_s": round(n / raw_cursor_s),
        "raw_windowed_read_events_per_s": round(n / raw_windows_s),
        "verify_events_per_s": round(report.events_per_second),
        "verify_ratio_vs_raw_scan": round(raw_cursor_s / report.seconds, 3),
        "verify_ratio_vs_raw_windowed_read": round(raw_windows_s / report.seconds, 3),
        "verify_rss_growth_mb": round(sampler.growth / 2**20, 1),
        "verdict": report.summary(),
    }


async def bench_chain(
    mongo_uri: str, appends: int = 300, backlog: int = 2000, events: int = 100_000, window: int = 2000
) -> dict[str, Any]:
    """Both measurements, for `make bench`."""
    return {
        "cost": await bench_chain_cost(mongo_uri, appends, backlog),
        "verify": await bench_verify(mongo_uri, events, window),
    }


def main() -> None:
    """Run on an embedded SecantusDB of its own and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=300, help="append-to-visible samples per sequencer")
    parser.add_argument("--backlog", type=int, default=2000, help="pending events sequenced per sequencer")
    parser.add_argument(
        "--events", type=int, default=100_000, help="events in the store for the verify speed"
    )
    parser.add_argument("--window", type=int, default=2000, help="positions per read window of the walk")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        config = StackConfig(
            var_dir=Path(tmp),
            kafka_port=free_port(),
            mongo_port=free_port(),
            ports={s.name: free_port() for s in SERVICES},
            log_level="WARNING",
        )
        stack = Stack(config)
        try:
            stack.start_servers()
            results = asyncio.run(
                bench_chain(config.mongo_uri, args.appends, args.backlog, args.events, args.window)
            )
        finally:
            stack.stop()
    print(json.dumps({"chain": results}, indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
