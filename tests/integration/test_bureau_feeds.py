"""Each bureau's feed holds only its events, in order per stream, and a reader that restarts misses nothing:
the copyable example consumers (examples/, no import of this project) run against a stack with two bureaus."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared.devstack.stack import Stack
from tests.api import Api
from tests.conftest import FEED_LONG_POLLS_PER_BUREAU
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "contracts" / "schemas"


def _run(args: list[str]) -> list[dict]:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def kafka_reader(stack: Stack, bureau: str, group: str) -> list[dict]:
    args = [
        "examples/bureau_consumer.py",
        "--bootstrap",
        stack.config.bootstrap,
        "--bureau",
        bureau,
        "--schemas",
        str(SCHEMAS),
        "--group",
        group,
        "--idle-seconds",
        "4",
        # The embedded Tansu holds a group join for the whole rebalance timeout: keep it short here.
        "--max-poll-interval-ms",
        "6000",
    ]
    return _run(args)


def http_reader(stack: Stack, key: str, cursor: Path) -> list[dict]:
    args = [
        "examples/bureau_http_feed.py",
        "--url",
        stack.config.url("gateway"),
        "--key",
        key,
        "--schemas",
        str(SCHEMAS),
        "--cursor-file",
        str(cursor),
        "--idle-seconds",
        "3",
        "--wait",
        "1",
    ]
    return _run(args)


def _records(events: list[dict]) -> set[tuple[int, int]]:
    return {(e["partition"], e["offset"]) for e in events}


def _in_order_per_stream(events: list[dict]) -> bool:
    # At least once: a republished event (a relay replay) comes again with its event_id; a reader dedupes by it.
    last: dict[str, int] = {}
    seen: set[str] = set()
    for e in events:
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        if e["version"] <= last.get(e["stream_id"], 0):
            return False
        last[e["stream_id"]] = e["version"]
    return True


async def _open(api: Api, client_name: str, n: int, base: int) -> list[str]:
    client = getattr(api, client_name)
    return [
        (await client.post("/api/v1/cases", json=case_body(base + i))).json()["case_id"] for i in range(n)
    ]


async def test_each_bureau_reads_only_its_events_on_kafka_and_resumes_after_a_restart(
    stack: Stack, api: Api
) -> None:
    finance = await _open(api, "finance", 3, 8100)
    innovation = await _open(api, "innovation", 2, 8200)
    group = f"finance-feedtest-{uuid.uuid4().hex[:6]}"

    async def all_there() -> bool:
        got = {
            e["stream_id"] for e in kafka_reader(stack, "finance", f"finance-probe-{uuid.uuid4().hex[:6]}")
        }
        return set(finance) <= got

    await eventually(all_there, 90, "the finance cases on the finance feed")
    first = kafka_reader(stack, "finance", group)
    streams = {e["stream_id"] for e in first}
    assert set(finance) <= streams and not set(innovation) & streams
    assert _in_order_per_stream(first)
    stack.services["relay"].kill()  # a case opened while the relay is down reaches the feed once it is back
    later = await _open(api, "finance", 1, 8110)
    stack.start_service("relay")

    after_restart: list[dict] = []

    async def resumed() -> bool:  # each run is a restart of the reader in the same group
        after_restart.extend(kafka_reader(stack, "finance", group))
        return any(e["stream_id"] == later[0] for e in after_restart)

    await eventually(resumed, 90, "the restarted reader gets the new case")
    # The group resumes after the last record it committed: no record is read twice. (An event may still come
    # again as a new record, published again by the relay after a failed send or a crash: at least once, and
    # readers drop it by event_id.)
    again = _records(after_restart) & _records(first)
    assert not again, f"the restarted reader read {len(again)} records again (partition, offset): {again}"
    other = kafka_reader(stack, "innovation", f"innovation-feedtest-{uuid.uuid4().hex[:6]}")
    assert set(innovation) <= {e["stream_id"] for e in other} and not set(finance) & {
        e["stream_id"] for e in other
    }


async def test_each_bureau_reads_only_its_events_over_http_and_resumes_from_its_cursor(
    stack: Stack, api: Api, tmp_path: Path
) -> None:
    finance = await _open(api, "finance", 2, 8300)
    innovation = await _open(api, "innovation", 1, 8400)
    cursor = tmp_path / "finance.cursor"

    async def visible() -> bool:
        answers = [(await api.finance.get(f"/api/v1/cases/{c}")).status_code for c in finance]
        return all(code == 200 for code in answers)

    await eventually(visible, 60, "the cases visible")
    first = http_reader(stack, stack.credentials["finance"], cursor)
    streams = {e["stream_id"] for e in first}
    assert set(finance) <= streams and not set(innovation) & streams and _in_order_per_stream(first)
    positions = [e["position"] for e in first]
    assert positions == sorted(positions)
    later = await _open(api, "finance", 1, 8310)

    async def resumed() -> bool:
        page = (await api.finance.get(f"/api/v1/feed?after={int(cursor.read_text())}")).json()
        return any(e["stream_id"] == later[0] for e in page["events"])

    await eventually(resumed, 60, "the new case after the saved cursor")
    again = http_reader(stack, stack.credentials["finance"], cursor)
    assert {e["stream_id"] for e in again} >= {later[0]} and not {e["event_id"] for e in again} & {
        e["event_id"] for e in first
    }
    other = http_reader(stack, stack.credentials["innovation"], tmp_path / "innovation.cursor")
    assert not set(finance) & {e["stream_id"] for e in other}


async def test_a_bureau_holds_at_most_its_long_polls_and_another_bureau_still_polls(api: Api) -> None:
    head = (await api.finance.get("/api/v1/feed", params={"after": 2**62})).json()["head"]
    poll = {"after": head, "wait": 6}
    held = [
        asyncio.create_task(api.finance.get("/api/v1/feed", params=poll))
        for _ in range(FEED_LONG_POLLS_PER_BUREAU)
    ]
    await asyncio.sleep(1)  # the polls reach the case query service and wait there
    refused = await api.finance.get(
        "/api/v1/feed", params=poll
    )  # the same key: under the gateway's 4 per key
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] and "/ your bureau already has" in refused.json()["detail"]
    innovation = await api.innovation.get("/api/v1/feed", params={"after": head, "wait": 0.5})
    assert innovation.status_code == 200
    answers = await asyncio.gather(*held)
    assert [a.status_code for a in answers] == [200] * FEED_LONG_POLLS_PER_BUREAU
    assert (
        await api.finance.get("/api/v1/feed", params={**poll, "wait": 0.5})
    ).status_code == 200  # seats back


def test_the_example_consumer_waits_for_a_bureau_topic_that_does_not_exist_yet(stack: Stack) -> None:
    # A new bureau's topic appears with its first event (and again after the embedded broker restarted empty).
    assert kafka_reader(stack, f"nobody{uuid.uuid4().hex[:6]}", f"nobody-{uuid.uuid4().hex[:6]}") == []
