"""Two assignment processes in one consumer group, over one event store: no decision on a stale board.

Each process caches boards. A release handled by the process that did not make the assignment, or an
HTTP decision on the process that did not see the latest roster change, must still see the store.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.contracts.topics import CASE_EVENTS
from shared.devstack.processes import free_port
from shared.devstack.stack import Stack
from tests.support import case_body, credit_code, eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SECOND = "assignment-2"


@pytest.fixture
def second_instance(stack: Stack) -> Iterator[str]:
    """A second assignment process in the same consumer group; stopped afterwards."""
    port = free_port()
    stack.start_service("assignment", instance="-2", port=port)
    yield f"http://127.0.0.1:{port}"
    stack.services.pop(SECOND).stop()


@pytest.fixture
async def admin_key(stack_db: AsyncDatabase) -> str:
    bureau_id = f"i{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    return await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "two instances test")


@pytest.fixture
async def clients(
    stack: Stack, second_instance: str, admin_key: str
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Clients of the gateway (the first instance) and of the second instance directly."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with (
        httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as gateway,
        httpx.AsyncClient(base_url=second_instance, headers=headers, timeout=30) as second,
    ):
        yield [gateway, second]


async def add_staff(client: httpx.AsyncClient, name: str) -> str:
    answer = await client.post(
        "/api/v1/staff", json={"name": name, "post": "section_chief", "section": "预算科"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["detail"]["staff_id"])


async def concierge_of(client: httpx.AsyncClient, case_id: str) -> str:
    async def probe() -> str | None:
        view = await client.get(f"/api/v1/cases/{case_id}")
        return (view.json().get("concierge") or {}).get("staff_id") if view.status_code == 200 else None

    return await eventually(probe, 60, f"a concierge on {case_id}")


async def test_an_http_decision_on_the_second_instance_sees_staff_the_first_one_added(
    clients: list[httpx.AsyncClient],
) -> None:
    gateway, second = clients
    await add_staff(gateway, "王科长")
    case_id = (await gateway.post("/api/v1/cases", json=case_body(971))).json()["case_id"]
    await concierge_of(gateway, case_id)
    assert (await second.get("/api/v1/assignments/queue")).status_code == 200  # the second caches the board
    newcomer = await add_staff(gateway, "李科长")  # decided by the first instance

    moved = await second.post(
        "/api/v1/assignments/reassignments",
        json={"credit_code": credit_code(971), "to_staff_id": newcomer, "reason": "利益冲突"},
    )

    assert moved.status_code == 201, moved.text


async def test_releases_handled_by_either_instance_serve_every_waiting_enterprise(
    clients: list[httpx.AsyncClient], stack: Stack, second_instance: str
) -> None:
    gateway, _ = clients

    async def both_consume() -> bool:
        parts = []
        for url in (stack.config.url("assignment"), second_instance):
            async with httpx.AsyncClient(timeout=5) as http:
                health = (await http.get(f"{url}/healthz")).json()
            [case_events] = [c for c in health["subscribers"] if c["topic"] == CASE_EVENTS]
            parts.append(set(case_events["assigned_partitions"]))
        return all(parts) and not parts[0] & parts[1]

    await eventually(both_consume, 90, "both instances holding case-event partitions")
    await add_staff(gateway, "赵科长")
    cases = [
        (await gateway.post("/api/v1/cases", json=case_body(980 + n))).json()["case_id"] for n in range(6)
    ]

    # One concierge, six enterprises: each release hands the concierge to the next waiting one, and the
    # release is decided by whichever instance holds that case's partition.
    done: set[str] = set()
    for _ in cases:
        served = await eventually(
            lambda: _assigned_unresolved(gateway, cases, done), 60, "a served, open case"
        )
        for step, body in (
            ("clarification", {"summary": "x", "sections": ["国库科"]}),
            ("resolution", {"summary": "好", "settlement_intent": False}),
        ):
            answer = await gateway.post(f"/api/v1/cases/{served}/{step}", json=body)
            assert answer.status_code == 201, answer.text
        done.add(served)

    async def queue_empty_and_released() -> bool:
        waiting = (await gateway.get("/api/v1/assignments/queue")).json()
        serving = [c for c in (await gateway.get("/api/v1/concierges")).json() if c["current_enterprises"]]
        return not waiting and not serving

    await eventually(queue_empty_and_released, 60, "every enterprise served and the concierge released")


async def _assigned_unresolved(client: httpx.AsyncClient, cases: list[str], done: set[str]) -> str | None:
    for case_id in [c for c in cases if c not in done]:
        view = await client.get(f"/api/v1/cases/{case_id}")
        if view.status_code == 200 and view.json().get("concierge"):
            return case_id
    return None
