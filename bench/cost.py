"""Cost per case: MongoDB commands and Kafka records per case opened, read from every service's own /metrics.

Two loads, one after the other on the same stack: cases opened at a fixed rate for one enterprise that
already has a concierge (a returning enterprise: the case joins its concierge), then as many cases each for a
new enterprise, with a free management-post person on the roster for each (the decision picks one, the
concierge is introduced). Each runs until every case and its concierge are visible; the idle rate of the same
run (heartbeats, ticks, health polls) is measured first and subtracted. Visibility is polled on the database
directly, not through the API: polling through the gateway would itself add casequery commands to what is
counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.assignment import own_bureau
from bench.lags import quiet
from bench.latency import at_fixed_rate
from bench.processes import cpu_use, read_cpu, stack_processes
from shared.devstack.stack import SERVICES, Stack
from shared.eventstore.mongo import connect
from tests.support import case_body

CASES, RATE_PER_S, IDLE_S = 40, 4.0, 20.0
BUREAU = "cost"
ENTERPRISE = 7_700  # every case of the first load is for this enterprise: it keeps its warm-up concierge
NEW_ENTERPRISES = 8_000  # the second load's enterprises are numbered from here, one per case
LOADS = ("returning_enterprise", "new_enterprises")
OPCOUNTERS = ("insert", "query", "update", "delete", "getmore", "command")

# What is counted, by service: ("mongo", command, collection), ("produced", topic, ""),
# ("consumed", topic, group), ("wakeups", answer, ""): the relay's change-stream answers, inserts or empty.
Key = tuple[str, str, str, str]
Counts = dict[Key, float]
K = TypeVar("K")


def counts_of(service: str, text: str) -> Counts:
    """Read the cost counters out of one service's /metrics answer."""
    out: Counts = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "mongodb_commands_total":
                out[(service, "mongo", s.labels["command"], s.labels["collection"])] += s.value
            elif s.name == "kafka_records_produced_total":
                out[(service, "produced", s.labels["topic"], "")] += s.value
            elif s.name == "kafka_records_consumed_total":
                out[(service, "consumed", s.labels["topic"], s.labels["group"])] += s.value
            elif s.name == "relay_wakeups_total":
                out[(service, "wakeups", s.labels["answer"], "")] += s.value
    return dict(out)


async def scrape(stack: Stack) -> Counts:
    """Read the cost counters of every service."""
    async with httpx.AsyncClient(timeout=10) as http:
        answers = await asyncio.gather(*(http.get(f"{stack.config.url(s.name)}/metrics") for s in SERVICES))
    out: Counts = {}
    for spec, answer in zip(SERVICES, answers, strict=True):
        answer.raise_for_status()
        out.update(counts_of(spec.name, answer.text))
    return out


def grown(before: dict[K, float], after: dict[K, float]) -> dict[K, float]:
    """Return what each counter grew by between two readings (counters only grow while a process lives)."""
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}


def per_case(
    busy: dict[K, float], seconds: float, idle: dict[K, float], idle_seconds: float, n: int
) -> dict[K, float]:
    """Return each counter's growth per case with the idle rate over the same time subtracted."""
    keys = set(busy) | set(idle)
    return {
        k: (busy.get(k, 0.0) - idle.get(k, 0.0) * seconds / idle_seconds) / n
        for k in keys
        if busy.get(k, 0.0) or idle.get(k, 0.0)
    }


async def opcounters(client: Any) -> dict[str, float]:
    """Read the database server's own operation counters: the count issue 13 made from outside."""
    counters = (await client.admin.command("serverStatus")).get("opcounters", {})
    return {kind: float(counters.get(kind, 0)) for kind in OPCOUNTERS}


def server_per_case(
    idle: dict[str, float], idle_s: float, busy: dict[str, float], busy_s: float, n: int, polls: int
) -> dict[str, float]:
    """Return the server's operations per case by kind: the idle rate and the bench's own reads taken off.

    Each window ends with one serverStatus (a command); the busy one also holds the bench's visibility polls.
    """
    idle = {**idle, "command": idle.get("command", 0.0) - 1}
    busy = {**busy, "query": busy.get("query", 0.0) - polls, "command": busy.get("command", 0.0) - 1}
    per = per_case(busy, busy_s, idle, idle_s, n)
    return {"total": round(sum(per.values()), 2), **{k: round(per.get(k, 0.0), 2) for k in OPCOUNTERS}}


async def _all_visible(db: Any, ids: list[str], timeout: float = 180) -> dict[str, float]:
    """Wait until every case and its concierge are in the case view; return when, and the polls made."""
    deadline = time.monotonic() + timeout
    case_seen: float | None = None
    polls = 0
    while time.monotonic() < deadline:
        views = [v async for v in db.case_view.find({"_id": {"$in": ids}}, {"concierge": 1})]
        polls += 1
        if case_seen is None and len(views) == len(ids):
            case_seen = time.monotonic()
        if len(views) == len(ids) and all(v.get("concierge") for v in views):
            now = time.monotonic()
            return {"case_visible": case_seen or now, "concierge_visible": now, "polls": polls}
        await asyncio.sleep(0.2)
    raise TimeoutError(f"not every case and concierge visible within {timeout}s")


async def _enterprise_with_concierge(http: httpx.AsyncClient, db: Any) -> None:
    """Put a management-post person on the roster and give the enterprise its concierge (one warm-up case)."""
    added = await http.post(
        "/api/v1/staff", json={"name": "成本科长", "post": "section_chief", "section": "预算科"}
    )
    added.raise_for_status()
    warm = await http.post("/api/v1/cases", json=case_body(ENTERPRISE))
    warm.raise_for_status()
    await _all_visible(db, [warm.json()["case_id"]], timeout=120)


async def _free_concierges(http: httpx.AsyncClient, n: int) -> None:
    """Put n more management-post people on the roster, so that each new enterprise gets one at once."""
    for i in range(n):
        added = await http.post(
            "/api/v1/staff", json={"name": f"成本专员{i}", "post": "section_chief", "section": "预算科"}
        )
        added.raise_for_status()


async def bench_cost(
    stack: Stack, n: int = CASES, rate: float = RATE_PER_S, idle_s: float = IDLE_S
) -> dict[str, Any]:
    """Open n cases at `rate` for a returning enterprise, then n for new ones; return each load's cost."""
    await own_bureau(stack, BUREAU)
    returning = await _one_load(stack, n, rate, idle_s, lambda i: ENTERPRISE, _enterprise_with_concierge)
    new = await _one_load(
        stack, n, rate, idle_s, lambda i: NEW_ENTERPRISES + i, lambda http, _db: _free_concierges(http, n)
    )
    return {"returning_enterprise": returning, "new_enterprises": new}


async def _one_load(
    stack: Stack,
    n: int,
    rate: float,
    idle_s: float,
    enterprise_of: Callable[[int], int],
    prepare: Callable[[httpx.AsyncClient, Any], Awaitable[None]],
) -> dict[str, Any]:
    """Prepare, measure the idle rate, open n cases at `rate` (case i: enterprise_of(i)); return the cost."""
    client = connect(stack.config.mongo_uri)
    db = client[stack.config.database]
    headers = {"Authorization": f"Bearer {stack.credentials[BUREAU]}"}
    try:
        async with httpx.AsyncClient(
            base_url=stack.config.url("gateway"), headers=headers, timeout=60
        ) as http:
            await prepare(http, db)
            await quiet(stack)
            await asyncio.sleep(2)  # trailing reactions (notification ticks) of what was prepared

            pids = stack_processes(stack)
            cpu_before, ops_before = read_cpu(pids), await opcounters(client)
            before, began = await scrape(stack), time.monotonic()
            await asyncio.sleep(idle_s)
            idle, idle_seconds = grown(before, await scrape(stack)), time.monotonic() - began
            idle_cpu = cpu_use(cpu_before, read_cpu(pids), idle_seconds)
            idle_ops = grown(ops_before, await opcounters(client))

            ids: list[str] = []

            async def send(i: int) -> None:
                answer = await http.post("/api/v1/cases", json=case_body(enterprise_of(i)))
                answer.raise_for_status()
                ids.append(answer.json()["case_id"])

            ops_before = await opcounters(client)
            before, began = await scrape(stack), time.monotonic()
            await at_fixed_rate(n, send, rate)
            seen = await _all_visible(db, ids)
            at_concierge = await scrape(stack)
            busy_ops = grown(ops_before, await opcounters(client))
            lag_left = await quiet(stack)
            settled, settled_at = await scrape(stack), time.monotonic()
    finally:
        await client.close()
    visible = per_case(grown(before, at_concierge), seen["concierge_visible"] - began, idle, idle_seconds, n)
    whole = per_case(grown(before, settled), settled_at - began, idle, idle_seconds, n)
    return {
        **summary(n, rate, idle_seconds, seen["concierge_visible"] - began, visible, whole),
        "lag_left": lag_left,
        # The same from outside, as issue 13 first counted it: the server's opcounters, to concierge visible.
        "server_opcounters_per_case": server_per_case(
            idle_ops, idle_seconds, busy_ops, seen["concierge_visible"] - began, n, int(seen["polls"])
        ),
        # Idle, the stack still costs this (percent of one core, per process): consumers' fetches and timers.
        "idle_cpu_percent": {"total": round(sum(idle_cpu.values()), 1), **idle_cpu},
    }


def _total(counts: Counts, kind: str) -> float:
    return round(sum(v for k, v in counts.items() if k[1] == kind), 2)


def summary(
    n: int, rate: float, idle_s: float, busy_s: float, visible: Counts, whole: Counts
) -> dict[str, Any]:
    """Return the report: totals per case, then each counter per case (until concierge visible, and settled)."""
    rows = [
        {
            "service": k[0],
            "kind": k[1],
            "name": k[2],
            "label": k[3],
            "per_case_to_concierge_visible": round(visible.get(k, 0.0), 2),
            "per_case_settled": round(whole.get(k, 0.0), 2),
        }
        for k in sorted(set(visible) | set(whole))
        if abs(visible.get(k, 0.0)) >= 0.005 or abs(whole.get(k, 0.0)) >= 0.005
    ]
    return {
        "cases": n,
        "rate_per_s": rate,
        "idle_window_s": round(idle_s, 1),
        "opened_to_all_concierges_visible_s": round(busy_s, 1),
        "mongodb_commands_per_case": {
            "to_concierge_visible": _total(visible, "mongo"),
            "settled": _total(whole, "mongo"),
        },
        "kafka_records_produced_per_case": {
            "to_concierge_visible": _total(visible, "produced"),
            "settled": _total(whole, "produced"),
        },
        "kafka_records_consumed_per_case": {
            "to_concierge_visible": _total(visible, "consumed"),
            "settled": _total(whole, "consumed"),
        },
        "relay_empty_wakeups_per_case": round(visible.get(("relay", "wakeups", "empty", ""), 0.0), 2),
        "by_service": {
            service: _total({k: v for k, v in visible.items() if k[0] == service}, "mongo")
            for service in {k[0] for k in visible}
        },
        "rows": rows,
    }


WHO = {
    "returning_enterprise": "for one enterprise with a concierge",
    "new_enterprises": "each for a new enterprise, a free concierge on the roster for each",
}


def table(results: dict[str, Any]) -> str:
    """Return the report of both loads as Markdown tables (per case, idle subtracted)."""
    return "\n\n".join(_load_table(results[load], WHO[load]) for load in LOADS if load in results)


def _load_table(result: dict[str, Any], who: str) -> str:
    lines = [
        f"Cost per case: {result['cases']} cases at {result['rate_per_s']}/s {who}; "
        f"idle rate over {result['idle_window_s']} s subtracted; all concierges visible after "
        f"{result['opened_to_all_concierges_visible_s']} s.",
        "",
        "| per case | to concierge visible | settled (all consumers done) |",
        "|---|---:|---:|",
    ]
    for title, key in (
        ("MongoDB commands", "mongodb_commands_per_case"),
        ("Kafka records produced", "kafka_records_produced_per_case"),
        ("Kafka records consumed", "kafka_records_consumed_per_case"),
    ):
        lines.append(f"| {title} | {result[key]['to_concierge_visible']} | {result[key]['settled']} |")
    if ops := result.get("server_opcounters_per_case"):
        kinds = ", ".join(f"{kind} {ops[kind]}" for kind in OPCOUNTERS)
        told = (
            f"The database server's own opcounters, per case to concierge visible: {ops['total']} ({kinds})."
        )
        lines += ["", told]
    if empty := result.get("relay_empty_wakeups_per_case"):
        lines += [
            "",
            f"Of the relay's change-stream getMores, {empty} per case came back empty: the embedded "
            "SecantusDB answers a waiting change stream on any write to the server; MongoDB waits for a "
            "matching one.",
        ]
    if idle_cpu := result.get("idle_cpu_percent"):
        shares = ", ".join(f"{name} {share}%" for name, share in idle_cpu.items() if name != "total")
        lines += ["", f"Idle, the stack used {idle_cpu['total']}% of one core ({shares})."]
    lines += ["", "| MongoDB commands per case, by service | to concierge visible |", "|---|---:|"]
    for service, count in sorted(result["by_service"].items(), key=lambda item: -item[1]):
        lines.append(f"| {service} | {count} |")
    lines += [
        "",
        "| service | kind | command / topic | collection / group | to concierge visible | settled |",
    ]
    lines.append("|---|---|---|---|---:|---:|")
    for row in sorted(result["rows"], key=lambda r: (r["kind"], r["service"], -r["per_case_settled"])):
        lines.append(
            f"| {row['service']} | {row['kind']} | {row['name']} | {row['label'] or '-'} | "
            f"{row['per_case_to_concierge_visible']} | {row['per_case_settled']} |"
        )
    return "\n".join(lines)
