"""HTTP intake to case-visible latency: at 20/s, sustained with lag sampled, and over a sweep of rates.

Each figure stands beside a raw produce -> consume -> insert trip through the same broker and database at the
same rate, in the same run. Visibility is seen by a change stream on the view started before sending.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from types import TracebackType
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.lags import lag_report, quiet, sample_lags
from bench.processes import Readings, cpu_between, sample_cpu, stack_processes
from shared.devstack.stack import Stack
from shared.eventstore.mongo import connect
from tests.support import case_body

RATE_PER_S = 20
SUSTAINED_S = 300
SWEEP_RATES = (10, 20, 30, 40, 60, 80)
SWEEP_S = 30
RAW_S = 10  # the raw trip at each sweep rate: it does not saturate, so a short run gives its percentiles
P99_LIMIT_MS = 1000.0
SATURATED_P99_MS = 5000.0  # past this a higher rate only builds a longer queue: the sweep stops
# SecantusDB wakes a change stream at once for inserts, replaces and bulk ReplaceOne (bench probe, 2026-11-27:
# about 2 ms at the median either way); the short await bounds the wait should a wake-up come late. It costs
# the server about 5% of a core while idle (a getMore every 10 ms), nothing under load (batches come back full).
AWAIT_MS = 10


def percentiles(samples: list[float]) -> dict[str, float]:
    """Return p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


def spread(samples: list[float]) -> dict[str, float | None]:
    """Return p50 and p99 in milliseconds, None for both when nothing was seen (a run that saw nothing reports it)."""
    return {"p50_ms": None, "p99_ms": None} if not samples else {**percentiles(samples)}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """Return numerator / denominator rounded, or None when either is missing."""
    return round(numerator / denominator, 2) if numerator is not None and denominator else None


class ViewWatch:
    """When each document first shows in a collection, and when it first shows with a concierge.

    A change stream on inserts, replaces and updates, opened before anything is sent: the projections now write
    in batches without processed-message markers, so the change itself is the moment a reader could see it.
    """

    def __init__(self, collection: Any) -> None:
        self.seen: dict[str, float] = {}
        self.concierge: dict[str, float] = {}
        self._collection = collection
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ViewWatch:
        self._task = asyncio.create_task(self._watch())
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():  # the stream failed to open: say why instead of waiting forever
            ready.cancel()
            self._task.result()
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._task:
            self._task.cancel()

    async def _watch(self) -> None:
        match = {"$match": {"operationType": {"$in": ["insert", "replace", "update"]}}}
        async with await self._collection.watch(
            [match], full_document="updateLookup", max_await_time_ms=AWAIT_MS
        ) as stream:
            self._ready.set()
            async for change in stream:
                now, key = time.perf_counter(), str(change["documentKey"]["_id"])
                self.seen.setdefault(key, now)
                if (change.get("fullDocument") or {}).get("concierge") is not None:
                    self.concierge.setdefault(key, now)


async def at_fixed_rate(n: int, send: Any, rate: float = RATE_PER_S) -> None:
    """Call send(i) n times at `rate` per second, without waiting for each to finish."""
    tasks = []
    start = time.perf_counter()
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)


async def settle(seen: dict[str, float], sent: dict[str, float], timeout: float = 30) -> list[float]:
    """Wait until every sent key was seen (or the timeout); return the seen-minus-sent times."""
    deadline = time.monotonic() + timeout
    while len([k for k in sent if k in seen]) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return [seen[k] - t for k, t in sent.items() if k in seen]


class Intake:
    """Opens cases through the gateway at a fixed rate and notes when each was sent."""

    def __init__(self, stack: Stack, http: httpx.AsyncClient) -> None:
        self.stack, self.http = stack, http
        self.sent: dict[str, float] = {}
        self.failed = 0
        self._n = 0

    async def run(self, n: int, rate: float) -> dict[str, float]:
        """Send n cases at rate; return this run's sends (case id -> send time)."""
        mine: dict[str, float] = {}

        async def send(_: int) -> None:
            self._n += 1
            began = time.perf_counter()
            answer = await self.http.post("/api/v1/cases", json=case_body(self._n))
            if answer.status_code >= 300:
                self.failed += 1
                return
            mine[answer.json()["case_id"]] = began

        await at_fixed_rate(n, send, rate)
        self.sent.update(mine)
        return mine


def _client(stack: Stack) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {stack.credentials['finance']}"}
    # Enough connections that a slow answer at 80/s never waits for a free one in this client.
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    return httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=60, limits=limits)


def _visible(samples: list[float], sent: int, failed: int = 0) -> dict[str, Any]:
    return {**spread(samples), "visible": len(samples), "sent": sent, "http_failed": failed}


async def intake_to_projection(stack: Stack, n: int, rate: float = RATE_PER_S) -> dict[str, Any]:
    """HTTP intake -> case visible for n cases at rate."""
    client = connect(stack.config.mongo_uri)
    try:
        async with ViewWatch(client[stack.config.database]["case_view"]) as watch, _client(stack) as http:
            intake = Intake(stack, http)
            await intake.run(10, rate)  # warm up
            sent = await intake.run(n, rate)
            samples = await settle(watch.seen, sent, timeout=max(30.0, n / rate))
            return _visible(samples, n, intake.failed)
    finally:
        await client.close()


async def raw_round_trip(stack: Stack, n: int, rate: float = RATE_PER_S) -> dict[str, Any]:
    """Raw produce -> consume -> insert_one through the same broker and database at rate."""
    bootstrap, topic = stack.config.bootstrap, f"bench.raw.{uuid.uuid4().hex[:8]}"
    client = connect(stack.config.mongo_uri)
    collection = client[f"bench_raw_{uuid.uuid4().hex[:6]}"]["docs"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{topic}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=stack.connection_settings().kafka_fetch_max_wait_ms,
    )

    async def consume() -> None:
        async for record in consumer:
            if record.value != b"warm-up":
                await collection.insert_one({"_id": record.value.decode()})
            await consumer.commit()

    sent: dict[str, float] = {}

    async def send(_: int) -> None:
        key = uuid.uuid4().hex
        sent[key] = time.perf_counter()
        await producer.send_and_wait(topic, key.encode(), key=key.encode())

    async with ViewWatch(collection) as watch:
        await producer.start()
        await producer.send_and_wait(topic, b"warm-up")
        await consumer.start()
        consuming = asyncio.create_task(consume())
        try:
            await asyncio.sleep(3)  # let the consumer join its group before measuring
            await at_fixed_rate(n, send, rate)
            samples = await settle(watch.seen, sent)
        finally:
            consuming.cancel()
            await consumer.stop()
            await producer.stop()
            await client.drop_database(collection.database.name)
            await client.close()
    return _visible(samples, n)


async def sustained(stack: Stack, seconds: float, rate: float = RATE_PER_S) -> dict[str, Any]:
    """Open cases at rate for `seconds` with every lag sampled each second; percentiles overall and by window.

    Each window also reports the CPU each process of the stack used while its cases were sent: what grows
    from the first window to the last is where a run slows down.
    """
    window = 60.0 if seconds >= 180 else seconds / 3  # first and last minute; thirds of a short run
    client = connect(stack.config.mongo_uri)
    samples: list[tuple[float, dict[str, float]]] = []
    cpu: Readings = []
    try:
        async with ViewWatch(client[stack.config.database]["case_view"]) as watch, _client(stack) as http:
            intake = Intake(stack, http)
            await intake.run(10, rate)  # warm up
            samplers = [
                asyncio.create_task(sample_lags(stack, samples)),
                asyncio.create_task(sample_cpu(stack_processes(stack), cpu)),
            ]
            began = time.perf_counter()
            sent = await intake.run(int(seconds * rate), rate)
            ended = time.perf_counter()
            done = await settle(watch.seen, sent, timeout=60)
            for sampler in samplers:
                sampler.cancel()
            by_window = [
                _window(watch.seen, sent, cpu, began + start * window, window, start * window)
                for start in range(int(seconds // window))
            ]
    finally:
        await client.close()
    lag = lag_report(samples, began, ended, window)
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "window_s": round(window),
        "http_intake_to_case_visible": _visible(done, int(seconds * rate), intake.failed),
        "by_window": by_window,
        "lag": lag,
        "lag_max": max((v["max"] for v in lag.values()), default=0.0),
        "lag_bounded": all(v["bounded"] for v in lag.values()),
        "lag_samples": len(samples),
    }


def _window(
    seen: dict[str, float], sent: dict[str, float], cpu: Readings, lo: float, length: float, offset: float
) -> dict[str, Any]:
    part = {k: t for k, t in sent.items() if lo <= t < lo + length}
    within = [seen[k] - t for k, t in part.items() if k in seen]
    return {
        "from_s": round(offset),
        **_visible(within, len(part)),
        "cpu_percent": cpu_between(cpu, lo, lo + length),
    }


def meets_limit(result: dict[str, Any]) -> bool:
    """A rate passes when every case became visible and its p99 stayed under the limit."""
    return result["visible"] == result["sent"] and (result["p99_ms"] or 1e12) < P99_LIMIT_MS


async def sweep(stack: Stack, rates: list[float], seconds: float = SWEEP_S) -> dict[str, Any]:
    """p50/p99 of intake -> case visible at each rate (raw trip beside), lowest first; stop when saturated."""
    rows: list[dict[str, Any]] = []
    for rate in sorted(rates):
        began = time.monotonic()
        left = await quiet(stack)  # the previous rate's backlog must not load this one
        drained = {"drain_wait_s": round(time.monotonic() - began, 1), "lag_left_at_start": left}
        raw = await raw_round_trip(stack, max(1, int(min(seconds, RAW_S) * rate)), rate)
        intake = await intake_to_projection(stack, max(1, int(seconds * rate)), rate)
        rows.append({"rate_per_s": rate, "http_intake_to_case_visible": intake, "raw": raw, **drained})
        print(f"latency sweep: {rate}/s p50 {intake['p50_ms']} p99 {intake['p99_ms']} ms", file=sys.stderr)
        if intake["visible"] < intake["sent"] or (intake["p99_ms"] or 0) > SATURATED_P99_MS:
            break
    passing = [r["rate_per_s"] for r in rows if meets_limit(r["http_intake_to_case_visible"])]
    return {
        "seconds_per_rate": seconds,
        "rates": rows,
        "not_run": [r for r in sorted(rates) if r > rows[-1]["rate_per_s"]] if rows else [],
        "highest_rate_p99_under_1s": max(passing, default=None),
    }


async def bench_latency(
    stack: Stack,
    n: int,
    seconds: float = SUSTAINED_S,
    rates: list[float] | None = None,
    sweep_s: float = SWEEP_S,
) -> dict[str, Any]:
    """At RATE_PER_S beside the raw trip; then sustained for `seconds` (0: skip); then the sweep (empty: skip)."""
    raw = await raw_round_trip(stack, n)
    intake = await intake_to_projection(stack, n)
    out: dict[str, Any] = {
        "rate_per_s": RATE_PER_S,
        "raw_produce_consume_insert": raw,
        "http_intake_to_projection": intake,
        "ratio_p50": ratio(intake["p50_ms"], raw["p50_ms"]),
        "ratio_p99": ratio(intake["p99_ms"], raw["p99_ms"]),
        "targets": "p50 < 50 ms, p99 < 250 ms at 20/s, sustained 5 min with bounded lag; the highest rate with p99 < 1 s",
    }
    if seconds > 0:
        await quiet(stack)
        out["sustained"] = {**await sustained(stack, seconds), "raw_at_same_rate": raw}
    if rates is None:
        rates = list(SWEEP_RATES)
    if rates:
        out["sweep"] = await sweep(stack, rates, sweep_s)
    return out


def _row(label: str, at: dict[str, Any], raw: dict[str, Any] | None = None) -> str:
    beside = f"{raw['p50_ms']} / {raw['p99_ms']}" if raw else ""
    return f"| {label} | {at['p50_ms']} | {at['p99_ms']} | {at['visible']}/{at['sent']} | {beside} |"


def table(result: dict[str, Any]) -> str:
    """Return the latency report as Markdown tables (each figure beside the raw trip of the same run)."""
    raw = result["raw_produce_consume_insert"]
    lines = [
        "| intake -> case visible | p50 ms | p99 ms | visible/sent | raw trip p50 / p99 ms |",
        "|---|---:|---:|---:|---:|",
        _row(f"at {result['rate_per_s']}/s", result["http_intake_to_projection"], raw),
    ]
    if held := result.get("sustained"):
        label = f"sustained {held['seconds']} s at {held['rate_per_s']}/s"
        lines.append(_row(label, held["http_intake_to_case_visible"], raw))
        lines += [_row(f"- sent from {w['from_s']} s", w) for w in held["by_window"]]
    if swept := result.get("sweep"):
        lines += [
            _row(f"sweep {r['rate_per_s']}/s", r["http_intake_to_case_visible"], r["raw"])
            for r in swept["rates"]
        ]
        best = swept["highest_rate_p99_under_1s"]
        lines += [
            "",
            f"Highest rate with p99 under 1 s: {f'{best:g}/s' if best else 'none of the rates run'}.",
        ]
    if held:
        lines += _cpu_table(held["by_window"])
        lines += [
            "",
            f"| lag ({held['window_s']} s windows) | max | first window max | last window max | bounded |",
        ]
        lines.append("|---|---:|---:|---:|---|")
        for name, v in held["lag"].items():
            lines.append(
                f"| {name} | {v['max']:g} | {v['first_window_max']:g} | {v['last_window_max']:g} | "
                f"{'yes' if v['bounded'] else 'NO'} |"
            )
    return "\n".join(lines)


def _cpu_table(windows: list[dict[str, Any]]) -> list[str]:
    """CPU by process (percent of one core) in each window of the sustained run, the busiest first."""
    if not windows or not windows[0].get("cpu_percent"):
        return []
    names = list(windows[0]["cpu_percent"])
    lines = [
        "",
        "| CPU, % of one core | " + " | ".join(f"from {w['from_s']} s" for w in windows) + " |",
        "|---|" + "---:|" * len(windows),
    ]
    for name in names:
        lines.append(
            f"| {name} | " + " | ".join(f"{w['cpu_percent'].get(name, 0):g}" for w in windows) + " |"
        )
    return lines
