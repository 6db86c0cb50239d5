"""Failures a real deployment meets: two consumers in a group, killed services, a broker that restarts empty.

These tests share one stack of their own, in file order; each leaves the stack running whole.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts.topics import INTAKE_REQUESTS
from shared.devstack.processes import free_port
from shared.devstack.stack import Stack
from shared.eventstore.mongo import connect
from tests.api import Api
from tests.conftest import stack_config
from tests.kafka_client import aproduce, intake_request, register_signer
from tests.support import case_body, credit_code, eventually, relay_broker_resets

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(stack_config(tmp_path_factory.mktemp("resilience"))).start()
    yield s
    s.stop()


@pytest.fixture
async def api(own_stack: Stack) -> AsyncIterator[Api]:
    async with Api.connect(own_stack) as clients:
        yield clients


@pytest.fixture
async def db(own_stack: Stack) -> AsyncIterator[AsyncDatabase]:
    client = connect(own_stack.config.mongo_uri)
    yield client[own_stack.config.database]
    await client.close()


async def health(url: str) -> dict:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"{url}/healthz")
        return dict(answer.json()) if answer.status_code == 200 else {}


async def total_cases(api: Api, code: str) -> int:
    answer = await api.finance.get("/api/v1/cases", params={"enterprise": code, "limit": 1})
    return int(answer.json()["total"])


async def test_two_projection_instances_share_the_partitions_without_doubling(
    own_stack: Stack, api: Api, db: AsyncDatabase
) -> None:
    second_port = free_port()
    own_stack.start_service("casequery", instance="-2", port=second_port)
    urls = [own_stack.config.url("casequery"), f"http://127.0.0.1:{second_port}"]

    async def split() -> list[set[str]] | None:
        parts = [set((await health(u)).get("assigned_partitions", [])) for u in urls]
        return parts if all(parts) and not parts[0] & parts[1] and len(parts[0] | parts[1]) >= 2 else None

    await eventually(split, 90, "both instances to hold partitions")

    code = credit_code(401)
    ids = [
        (await api.finance.post("/api/v1/cases", json=case_body(401, title=f"问题{i}"))).json()["case_id"]
        for i in range(40)
    ]
    await eventually(lambda: _equals(total_cases(api, code), 40), 90, "40 cases projected")

    handled = [(await health(u))["consumer"]["handled"] for u in urls]
    assert all(h > 0 for h in handled), handled
    # Each event folded once into one view: 40 views, each at its stream's version, none doubled in the list.
    assert sum(handled) >= 40, handled
    views = [d async for d in db.case_view.find({"_id": {"$in": ids}})]
    assert sorted(v["_id"] for v in views) == sorted(ids)
    assert {v["version"] for v in views} == {1}
    listed = (await api.finance.get("/api/v1/cases", params={"enterprise": code, "limit": 100})).json()
    assert sorted(c["case_id"] for c in listed["items"]) == sorted(ids)
    own_stack.services.pop("casequery-2").stop()


async def test_killed_services_resume_without_losing_or_doubling(
    own_stack: Stack, api: Api, db: AsyncDatabase
) -> None:
    code, run, count = credit_code(402), uuid.uuid4().hex, 300
    requests = [intake_request(case_body(402), request_id=f"{run}-{i}") for i in range(count)]
    signer = await register_signer(api.finance)
    await aproduce(own_stack.config.bootstrap, INTAKE_REQUESTS, requests, signer=signer)

    await eventually(
        lambda: _at_least(db.events.count_documents({"data.request_ref": {"$regex": f"^{run}"}}), 30),
        30,
        "intake to be part-way through",
    )
    own_stack.services["intake"].kill()  # SIGKILL mid-batch: no graceful commit
    await eventually(
        lambda: _at_least(total_cases(api, code), 1), 30, "the projection to be part-way through"
    )
    own_stack.services["casequery"].kill()
    own_stack.start_service("intake")
    own_stack.start_service("casequery")

    await eventually(lambda: _equals(total_cases(api, code), count), 60, f"all {count} cases projected")
    recorded = await db.events.count_documents({"data.request_ref": {"$regex": f"^{run}"}})
    assert recorded == count  # every request opened exactly one case
    assert await total_cases(api, code) == count


async def test_relay_killed_midway_resumes_from_its_saved_progress(
    own_stack: Stack, api: Api, db: AsyncDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, count = credit_code(404), 300
    monkeypatch.setenv("RELAY_BATCH_SIZE", "5")  # many small batches, so the kill lands between two of them
    # A killed relay keeps its publisher and sequencer leases until they expire: keep that wait short.
    monkeypatch.setenv("RELAY_LEASE_SECONDS", "3")
    own_stack.services["relay"].stop()
    await asyncio.gather(*(_open_case(api, case_body(404)) for _ in range(count)))
    start = await _checkpoint(db)

    own_stack.start_service("relay")
    await eventually(lambda: _past(db, start), 30, "the relay to be part-way through")
    own_stack.services["relay"].kill()
    midway = await _checkpoint(db)
    own_stack.start_service("relay")

    await eventually(lambda: _equals(total_cases(api, code), count), 120, f"all {count} cases projected")
    assert start < midway < start + count


async def test_events_reach_the_projection_after_the_broker_restarts_empty(
    own_stack: Stack, api: Api, db: AsyncDatabase
) -> None:
    code = credit_code(403)
    own_stack.services["casequery"].stop()  # published events wait unconsumed in the broker ...
    before = [
        (await api.finance.post("/api/v1/cases", json=case_body(403))).json()["case_id"] for _ in range(10)
    ]
    await eventually(lambda: _relayed(db, before), 90, "the relay to publish them")

    own_stack.kafka.kill() if own_stack.kafka else None  # ... and are lost with it
    during = [
        (await api.finance.post("/api/v1/cases", json=case_body(403))).json()["case_id"] for _ in range(5)
    ]
    own_stack.restart_kafka()
    own_stack.start_service("casequery")
    after = [
        (await api.finance.post("/api/v1/cases", json=case_body(403))).json()["case_id"] for _ in range(5)
    ]

    await eventually(lambda: _equals(total_cases(api, code), 20), 90, "all 20 cases after the broker restart")
    listed = (await api.finance.get("/api/v1/cases", params={"enterprise": code, "limit": 50})).json()[
        "items"
    ]
    assert {c["case_id"] for c in listed} == set(before + during + after)
    assert await relay_broker_resets(own_stack) >= 1  # ops see on /metrics that everything went out again


async def _open_case(api: Api, body: dict) -> str:
    """Open a case through the gateway, waiting as its rate limit asks (429 + Retry-After)."""
    while True:
        answer = await api.finance.post("/api/v1/cases", json=body)
        if answer.status_code != 429:
            assert answer.status_code == 201, answer.text
            return str(answer.json()["case_id"])
        await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))


async def _checkpoint(db: AsyncDatabase) -> int:
    doc = await db.relay_checkpoints.find_one({"_id": "kafka"})
    return int(doc["position"]) if doc else 0


async def _past(db: AsyncDatabase, position: int) -> bool:
    return await _checkpoint(db) > position


async def _relayed(db: AsyncDatabase, case_ids: list[str]) -> bool:
    checkpoint = await db.relay_checkpoints.find_one({"_id": "kafka"})
    top = await db.events.find_one({"stream_id": {"$in": case_ids}}, sort=[("position", -1)])
    return bool(checkpoint and top and top.get("position") and checkpoint["position"] >= top["position"])


async def _equals(value: object, expected: int) -> bool:
    return await value == expected  # type: ignore[misc]


async def _at_least(value: object, expected: int) -> bool:
    return await value >= expected  # type: ignore[misc,operator]
