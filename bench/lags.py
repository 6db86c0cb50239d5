"""The pipeline's lags while a benchmark runs: the relay's and every consumer's, as the services report them."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.devstack.stack import SERVICES, Stack

LAG_SMALL = 50  # events or records: a lag that stays under this is bounded whatever it started at


async def lags(stack: Stack, http: httpx.AsyncClient) -> dict[str, float]:
    """Read the relay's lag and every consumer's lag (by service, group, topic and partition) from /metrics."""
    answers = await asyncio.gather(*(http.get(f"{stack.config.url(s.name)}/metrics") for s in SERVICES))
    out: dict[str, float] = {}
    for spec, answer in zip(SERVICES, answers, strict=True):
        for family in text_string_to_metric_families(answer.text):
            for s in family.samples:
                if (
                    s.name == "relay_lag_events" and spec.name == "relay"
                ):  # every registry has it; one sets it
                    out[f"{spec.name} relay_lag_events"] = s.value
                elif s.name == "kafka_consumer_lag":
                    label = f"{s.labels['group']} {s.labels['topic']}[{s.labels['partition']}]"
                    out[f"{spec.name} {label}"] = s.value
    return out


async def sample_lags(stack: Stack, into: list[tuple[float, dict[str, float]]], every: float = 1.0) -> None:
    """Append (time, lags) every `every` seconds until cancelled; a slow scrape skips ticks, never bunches them."""
    async with httpx.AsyncClient(timeout=10) as http:
        start = time.perf_counter()
        while True:
            into.append((time.perf_counter(), await lags(stack, http)))
            behind = (time.perf_counter() - start) % every
            await asyncio.sleep(every - behind)


def lag_is_bounded(first_max: float, last_max: float) -> bool:
    """A lag is bounded when its last window's maximum is at most twice its first's, or stays small anyway."""
    return last_max <= max(2 * first_max, LAG_SMALL)


def lag_report(
    samples: list[tuple[float, dict[str, float]]], began: float, ended: float, window: float
) -> dict[str, Any]:
    """Each lag's maximum over the run and whether it stayed bounded (first window against last window)."""
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for at, values in samples:
        for name, value in values.items():
            series[name].append((at, value))
    out: dict[str, Any] = {}
    for name, points in sorted(series.items()):
        during = [v for at, v in points if began <= at <= ended] or [0.0]
        first = max([v for at, v in points if began <= at < began + window] or [0.0])
        last = max([v for at, v in points if ended - window <= at <= ended] or [0.0])
        out[name] = {
            "max": max(v for _, v in points),
            "max_while_sending": max(during),
            "first_window_max": first,
            "last_window_max": last,
            "bounded": lag_is_bounded(first, last),
        }
    return out


async def quiet(stack: Stack, timeout: float = 120) -> float:
    """Wait until the relay and every consumer report no lag (or the timeout); return the lag left."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as http:
        while (left := sum((await lags(stack, http)).values())) > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
    return left
