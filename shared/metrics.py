"""Prometheus metrics of a service process: HTTP, MongoDB commands, Kafka records, handlers, lag, DLQ.

Each service is its own process, so the metrics live in one registry per process, made on first use (never at
import). `GET /metrics` serves them in the Prometheus text format. Names and labels follow the Prometheus
conventions: base units (seconds), `_total` for counters, low-cardinality labels (route templates, never ids).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pymongo import monitoring
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Metrics:
    """Every metric a service exposes."""

    registry: CollectorRegistry
    http_requests: Counter
    http_latency: Histogram
    mongo_commands: Counter
    mongo_failures: Counter
    mongo_latency: Histogram
    kafka_consumed: Counter
    kafka_produced: Counter
    handler_latency: Histogram
    dead_letters: Counter
    consumer_lag: Gauge
    relay_lag: Gauge
    relay_broker_resets: Counter
    relay_wakeups: Counter
    eventstore_rejected_documents: Counter


def new_metrics() -> Metrics:
    """Return a fresh set of metrics on its own registry (tests use their own)."""
    r = CollectorRegistry()
    return Metrics(
        registry=r,
        http_requests=Counter(
            "http_requests_total", "HTTP requests answered", ["method", "route", "status"], registry=r
        ),
        http_latency=Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        ),
        mongo_commands=Counter(
            "mongodb_commands_total", "MongoDB commands sent", ["command", "collection"], registry=r
        ),
        mongo_failures=Counter(
            "mongodb_command_failures_total", "MongoDB commands that failed", ["command"], registry=r
        ),
        mongo_latency=Histogram(
            "mongodb_command_duration_seconds",
            "MongoDB command latency",
            ["command", "collection"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        ),
        kafka_consumed=Counter(
            "kafka_records_consumed_total", "Kafka records handled", ["topic", "group"], registry=r
        ),
        kafka_produced=Counter(
            "kafka_records_produced_total", "Kafka records produced", ["topic"], registry=r
        ),
        handler_latency=Histogram(
            "kafka_handler_duration_seconds",
            "Time to handle one record",
            ["topic", "group"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        ),
        dead_letters=Counter(
            "kafka_dead_letters_total", "Records sent to a dead-letter topic", ["topic", "group"], registry=r
        ),
        consumer_lag=Gauge(
            "kafka_consumer_lag",
            "Records in the partition after the last one handled",
            ["topic", "partition", "group"],
            registry=r,
        ),
        relay_lag=Gauge(
            "relay_lag_events",
            "Events in the store not yet relayed (head minus relayed position)",
            registry=r,
        ),
        relay_broker_resets=Counter(
            "relay_broker_resets_total",
            "Times the broker had lost records it acknowledged and every event was published again from the start",
            registry=r,
        ),
        relay_wakeups=Counter(
            "relay_wakeups_total",
            "The relay's change-stream answers: with inserts, or empty (another write woke it)",
            ["answer"],
            registry=r,
        ),
        eventstore_rejected_documents=Counter(
            "eventstore_rejected_documents_total",
            "Documents the sequencer set aside unnumbered in events_rejected: not readable as an event",
            registry=r,
        ),
    )


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    """Return this process's metrics (made on first use)."""
    return new_metrics()


def metrics_router(source: Metrics | None = None) -> APIRouter:
    """Return a router with GET /metrics in the Prometheus text format (no auth: scraped from the ops network)."""
    router = APIRouter()

    @router.get("/metrics", tags=["health"], summary="Prometheus metrics (no auth)", include_in_schema=False)
    async def serve_metrics() -> Response:
        return Response(generate_latest((source or metrics()).registry), media_type=CONTENT_TYPE_LATEST)

    return router


class HttpMetrics:
    """ASGI middleware: count and time every request by method, route template and status."""

    def __init__(self, app: ASGIApp, source: Metrics | None = None) -> None:
        self.app, self._source = app, source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            m = self._source or metrics()
            route = scope.get("metrics_route") or getattr(scope.get("route"), "path", None) or "unmatched"
            m.http_requests.labels(scope["method"], route, str(status)).inc()
            m.http_latency.labels(scope["method"], route).observe(time.perf_counter() - started)


_GENERATION = re.compile(r"__g\d+$")


def _collection(event: monitoring.CommandStartedEvent) -> str:
    value = event.command.get(event.command_name)
    if event.command_name == "getMore":
        value = event.command.get("collection")
    # A read model rebuilt into a new generation (case_view__g2) is still the same read model to watch.
    return _GENERATION.sub("", value) if isinstance(value, str) else "-"


class MongoCommandMetrics(monitoring.CommandListener):
    """A pymongo command listener: commands by name and collection, their latency and failures."""

    def __init__(self, source: Metrics | None = None) -> None:
        self._source = source
        # The answer does not name the collection: remember it from the start, by the request it answers.
        self._collections: dict[tuple[int, Any], str] = {}

    def _m(self) -> Metrics:
        return self._source or metrics()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Count a command as it is sent."""
        collection = _collection(event)
        self._collections[(event.request_id, event.connection_id)] = collection
        self._m().mongo_commands.labels(event.command_name, collection).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Time a command that answered."""
        self._m().mongo_latency.labels(event.command_name, self._taken(event)).observe(
            event.duration_micros / 1e6
        )

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Count and time a command that failed."""
        self._m().mongo_failures.labels(event.command_name).inc()
        self._m().mongo_latency.labels(event.command_name, self._taken(event)).observe(
            event.duration_micros / 1e6
        )

    def _taken(self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent) -> str:
        return self._collections.pop((event.request_id, event.connection_id), "-")


def record_consumed(
    topic: str, group: str, partition: int, offset: int, highwater: int | None, seconds: float
) -> None:
    """Record one handled Kafka record: count, handler time, and the partition's lag after it."""
    m = metrics()
    m.kafka_consumed.labels(topic, group).inc()
    m.handler_latency.labels(topic, group).observe(seconds)
    if highwater is not None:
        m.consumer_lag.labels(topic, str(partition), group).set(max(highwater - offset - 1, 0))


def samples(source: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Return a metric's samples by their labels (for tests and the benchmark)."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in source.registry.collect():
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def parse_text(text: str) -> dict[str, float]:
    """Sum each metric's samples from a /metrics answer (name -> total), for tests and the benchmark."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def labelled(text: str, name: str) -> dict[str, float]:
    """Return one metric's samples from a /metrics answer by their label text."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            out[key[len(name) :]] = float(value)
    return out
