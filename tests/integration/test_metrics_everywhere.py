"""Every service's /metrics, read from outside on the real stack: one case through the gateway moves the counters."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.contracts.topics import ASSIGNMENT_EVENTS, CASE_EVENTS
from shared.devstack.stack import SERVICES, Stack
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration

Labels = frozenset[tuple[str, str]]
Scrape = dict[str, dict[tuple[str, Labels], float]]  # service -> (sample name, labels) -> value
NAME = re.compile(r"^[a-z_:][a-z0-9_:]*$")


def parse(text: str) -> dict[tuple[str, Labels], float]:
    """Parse a /metrics answer (the official parser: it raises on invalid text) into samples by name and labels."""
    out: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


async def scrape(stack: Stack) -> tuple[Scrape, dict[str, str]]:
    """Read /metrics of every service at its own address; return the parsed samples and the raw texts."""
    parsed: Scrape = {}
    texts: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for spec in SERVICES:
            answer = await http.get(f"{stack.config.url(spec.name)}/metrics")
            assert answer.status_code == 200, (spec.name, answer.text)
            assert answer.headers["content-type"].startswith("text/plain"), spec.name
            texts[spec.name] = answer.text
            parsed[spec.name] = parse(answer.text)
    return parsed, texts


def total(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float:
    """Sum the samples of one name whose labels include the given ones."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def moved(before: Scrape, after: Scrape, service: str, name: str, **labels: str) -> float:
    """How much a metric's matching samples grew on one service between two scrapes."""
    return total(after[service], name, **labels) - total(before[service], name, **labels)


@pytest.fixture
async def bureau(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh bureau with a management-post person on its roster, so that a new case gets a concierge."""
    bureau_id = f"m{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="指标局", name_en="Metrics bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "metrics test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        added = await client.post(
            "/api/v1/staff", json={"name": "李科长", "post": "section_chief", "section": "预算科"}
        )
        assert added.status_code == 201, added.text
        yield client


async def settled(stack: Stack) -> Scrape:
    """Scrape once the relay has published everything stored (relay_lag_events back to 0)."""

    async def relay_caught_up() -> Scrape | None:
        parsed, _ = await scrape(stack)
        return parsed if parsed["relay"].get(("relay_lag_events", frozenset()), -1) == 0 else None

    return await eventually(relay_caught_up, 30, "relay_lag_events back to 0")


async def open_case_with_concierge(client: httpx.AsyncClient) -> str:
    """Open a case through the gateway and wait until the case view shows it with its concierge."""
    opened = await client.post("/api/v1/cases", json=case_body(7301))
    assert opened.status_code == 201, opened.text
    case_id = str(opened.json()["case_id"])

    async def with_concierge() -> Any:
        view = await client.get(f"/api/v1/cases/{case_id}")
        return view.json() if view.status_code == 200 and view.json().get("concierge") else None

    await eventually(with_concierge, 60, f"case {case_id} with its concierge in the case view")
    return case_id


async def test_one_case_moves_the_counters_of_every_service_it_passes(
    stack: Stack, bureau: httpx.AsyncClient
) -> None:
    before = await settled(stack)
    case_id = await open_case_with_concierge(bureau)

    async def consumers_done() -> Scrape | None:
        # The case view shows the concierge before notification and the other groups may have handled it.
        after = await settled(stack)
        done = moved(before, after, "notification", "kafka_records_consumed_total", topic=CASE_EVENTS) >= 2
        return after if done else None

    after = await eventually(consumers_done, 30, "notification to consume the case's events")

    # The gateway counts the POST on its route-table entry (never the case id) with its status, and times it.
    assert moved(before, after, "gateway", "http_requests_total", method="POST", route="/api/v1/cases") == 1
    assert (
        moved(
            before,
            after,
            "gateway",
            "http_requests_total",
            method="POST",
            route="/api/v1/cases",
            status="201",
        )
        == 1
    )
    assert (
        moved(
            before,
            after,
            "gateway",
            "http_request_duration_seconds_count",
            method="POST",
            route="/api/v1/cases",
        )
        == 1
    )
    # Intake answered the forwarded request on its own route and recorded the event.
    assert moved(before, after, "intake", "http_requests_total", method="POST", status="201") == 1
    assert (
        moved(before, after, "intake", "mongodb_commands_total", command="insert", collection="events") >= 1
    )
    assert moved(before, after, "intake", "mongodb_command_duration_seconds_count", command="insert") >= 1
    # The relay published the case's events (opened, then its concierge) and caught up.
    assert moved(before, after, "relay", "kafka_records_produced_total", topic=CASE_EVENTS) >= 2
    assert moved(before, after, "relay", "kafka_records_produced_total", topic=ASSIGNMENT_EVENTS) >= 1
    assert after["relay"][("relay_lag_events", frozenset())] == 0
    # The relay was woken by the change stream for the new events (at least the opening, then the decision).
    assert moved(before, after, "relay", "relay_wakeups_total", answer="inserts") >= 1
    # The case view consumed them, wrote case_view, and timed each handling.
    consumed = moved(
        before, after, "casequery", "kafka_records_consumed_total", topic=CASE_EVENTS, group="case-view"
    )
    assert consumed >= 2
    assert (
        moved(
            before,
            after,
            "casequery",
            "kafka_handler_duration_seconds_count",
            topic=CASE_EVENTS,
            group="case-view",
        )
        == consumed
    )
    assert moved(before, after, "casequery", "mongodb_commands_total", collection="case_view") >= 2
    # Assignment consumed the opening and recorded its decision in the event store.
    assert moved(before, after, "assignment", "kafka_records_consumed_total", topic=CASE_EVENTS) >= 1
    assert (
        moved(before, after, "assignment", "mongodb_commands_total", command="insert", collection="events")
        >= 1
    )
    assert moved(before, after, "notification", "kafka_records_consumed_total", topic=CASE_EVENTS) >= 2
    # Nothing went to a dead-letter topic on the way.
    for spec in SERVICES:
        assert moved(before, after, spec.name, "kafka_dead_letters_total") == 0, spec.name
    # Labels stay bounded: no service labels a sample with the case's id.
    for service, samples in after.items():
        assert not [ls for _, ls in samples if any(case_id in v for _, v in ls)], service


async def test_every_service_serves_valid_prometheus_text_with_conventional_names(stack: Stack) -> None:
    _, texts = await scrape(stack)
    assert set(texts) == {s.name for s in SERVICES}
    for service, text in texts.items():
        families = list(text_string_to_metric_families(text))
        names = {f.name for f in families}
        # The shared set, in every process: http, MongoDB, Kafka and relay families, whether used or not.
        assert {"http_requests", "mongodb_commands", "kafka_records_consumed", "relay_lag_events"} <= names
        for family in families:
            assert NAME.match(family.name), (service, family.name)
            if family.type == "counter":
                assert all(s.name.endswith("_total") for s in family.samples), (service, family.name)
            elif family.type == "histogram":
                assert family.name.endswith("_seconds"), (service, family.name)
            elif family.type == "gauge":
                assert not family.name.endswith("_total"), (service, family.name)
