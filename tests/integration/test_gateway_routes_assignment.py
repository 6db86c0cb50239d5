"""README's assignment routes through the gateway, as a user sees them: leadership's fallback approvals, chasing
and cancelling coordination tasks, and a page of the case list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.test_people_gateway import person, signed_in
from tests.support import case_body, credit_code, eventually

pytestmark = pytest.mark.integration
APPROVALS = "/api/v1/assignments/approvals"
CLARIFY = {"summary": "补贴未到账", "sections": ["国库科"]}


async def add_staff(client: httpx.AsyncClient, name: str, post: str, section: str = "预算科") -> str:
    answer = await client.post("/api/v1/staff", json={"name": name, "post": post, "section": section})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["detail"]["staff_id"])


async def open_case(client: httpx.AsyncClient, n: int) -> str:
    answer = await client.post("/api/v1/cases", json=case_body(n))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["case_id"])


async def concierge_of(client: httpx.AsyncClient, case_id: str, staff_id: str | None = None) -> str:
    """Wait until the case has a concierge (the given one, when named); return their staff id."""

    async def probe() -> str | None:
        found = ((await client.get(f"/api/v1/cases/{case_id}")).json().get("concierge") or {}).get("staff_id")
        return found if found and staff_id in (None, found) else None

    return await eventually(probe, 60, f"{staff_id or 'a concierge'} on {case_id}")


async def waiting(client: httpx.AsyncClient, n: int) -> None:
    async def probe() -> bool:
        queue = (await client.get("/api/v1/assignments/queue")).json()
        return credit_code(n) in [w["credit_code"] for w in queue]

    await eventually(probe, 60, f"enterprise {n} waiting for a concierge")


async def approved_by(client: httpx.AsyncClient, case_id: str, leader: str) -> None:
    """Wait until the case's assignment is the fallback that leader approved."""

    async def probe() -> bool:
        decision = (await client.get(f"/api/v1/cases/{case_id}")).json().get("assignment") or {}
        approver = (decision.get("approved_by") or {}).get("staff_id")
        return (decision.get("kind"), approver) == ("fallback_assigned", leader)

    await eventually(probe, 60, f"{case_id}'s assignment: a fallback approved by {leader}")


async def busy_director_and_a_waiting_enterprise(admin: httpx.AsyncClient, n: int) -> tuple[str, str, str]:
    """The director serves one enterprise, an experienced staff member is on the roster, enterprise n waits."""
    director = await person(admin, "周建国", "director", f"zhou{n}")
    await concierge_of(admin, await open_case(admin, n - 1), director)
    backbone = await add_staff(admin, "钱骨干", "experienced_staff")
    case_id = await open_case(admin, n)
    await waiting(admin, n)
    return director, backbone, case_id


async def test_approvals_the_signed_in_director_approves_a_fallback_and_the_waiting_enterprise_is_served(
    admin: httpx.AsyncClient,
) -> None:
    director, backbone, case_id = await busy_director_and_a_waiting_enterprise(admin, 5102)
    leader = await signed_in(admin, f"zhou{5102}")
    body = {"credit_code": credit_code(5102), "staff_id": backbone, "note": "局班子会议同意"}

    naming_someone_else = await admin.post(APPROVALS, json=body | {"approved_by": backbone}, headers=leader)
    assert naming_someone_else.status_code == 422, naming_someone_else.text
    assert naming_someone_else.json()["detail"][0]["loc"] == ["body", "approved_by"]

    approved = await admin.post(APPROVALS, json=body, headers=leader)

    assert approved.status_code == 201, approved.text
    assert approved.json()["recorded"] == ["FallbackApproved", "ConciergeAssigned"]
    assert approved.json()["detail"]["approval_id"]
    await concierge_of(admin, case_id, backbone)
    await approved_by(admin, case_id, director)
    assert credit_code(5102) not in [
        w["credit_code"] for w in (await admin.get("/api/v1/assignments/queue")).json()
    ]


async def test_approvals_a_bureau_admin_key_must_name_the_approving_leader_and_a_clerk_is_refused(
    admin: httpx.AsyncClient,
) -> None:
    director, backbone, case_id = await busy_director_and_a_waiting_enterprise(admin, 5104)
    await person(admin, "赵经办", "clerk", "zhao5104")  # not leadership (a management post would serve)
    clerk = await signed_in(admin, "zhao5104")
    body = {"credit_code": credit_code(5104), "staff_id": backbone, "note": "同意"}

    refused = await admin.post(APPROVALS, json=body, headers=clerk)
    assert refused.status_code == 403, refused.text
    unnamed = await admin.post(APPROVALS, json=body)
    assert unnamed.status_code == 422 and unnamed.json()["detail"][0]["loc"] == ["body", "approved_by"]
    stranger = await admin.post(APPROVALS, json=body | {"approved_by": "nobody-here"})
    assert stranger.status_code == 422 and stranger.json()["detail"][0]["loc"] == ["body", "approved_by"]
    assert credit_code(5104) in [
        w["credit_code"] for w in (await admin.get("/api/v1/assignments/queue")).json()
    ]

    approved = await admin.post(APPROVALS, json=body | {"approved_by": director})

    assert approved.status_code == 201, approved.text
    assert approved.json()["recorded"] == ["FallbackApproved", "ConciergeAssigned"]
    await concierge_of(admin, case_id, backbone)
    await approved_by(admin, case_id, director)


async def task_of(client: httpx.AsyncClient, case_id: str, task_id: str, **expected: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        tasks = (await client.get(f"/api/v1/cases/{case_id}")).json().get("tasks") or []
        task = next((t for t in tasks if t["task_id"] == task_id), None)
        return task if task and all(task.get(k) == v for k, v in expected.items()) else None

    return await eventually(probe, 60, f"task {task_id} of {case_id} showing {expected}")


async def test_tasks_a_chase_is_counted_on_the_task_and_a_cancelled_task_with_its_reason_lets_the_case_resolve(
    admin: httpx.AsyncClient,
) -> None:
    await add_staff(admin, "甲科长", "section_chief")
    case_id = await open_case(admin, 5106)
    await concierge_of(admin, case_id)
    assert (await admin.post(f"/api/v1/cases/{case_id}/clarification", json=CLARIFY)).status_code == 201
    task = {"section": "国库科", "description": "核实拨付进度", "working_days": 3}
    opened = await admin.post(f"/api/v1/cases/{case_id}/tasks", json=task)
    assert opened.status_code == 201, opened.text
    task_id = opened.json()["detail"]["task_id"]
    url = f"/api/v1/cases/{case_id}/tasks/{task_id}"

    for _ in range(2):
        chased = await admin.post(f"{url}/chase", json={"note": "请尽快反馈"})
        assert chased.status_code == 201, chased.text
        assert chased.json()["recorded"] == ["CoordinationTaskChased"]
    await task_of(admin, case_id, task_id, chased=2, state="open")
    blocked = await admin.post(
        f"/api/v1/cases/{case_id}/resolution", json={"summary": "已到账", "settlement_intent": True}
    )
    assert blocked.status_code == 409 and task_id in blocked.json()["detail"]

    assert (await admin.post(f"{url}/cancel", json={})).status_code == 422
    cancelled = await admin.post(f"{url}/cancel", json={"reason": "企业已自行办理"})

    assert cancelled.status_code == 201, cancelled.text
    assert cancelled.json()["recorded"] == ["CoordinationTaskCancelled"]
    await task_of(admin, case_id, task_id, state="cancelled", outcome="企业已自行办理")
    for step in ("chase", "cancel"):
        again = await admin.post(
            f"{url}/{step}", json={"note": "再催"} if step == "chase" else {"reason": "再取消"}
        )
        assert again.status_code == 409, (step, again.text)
    resolved = await admin.post(
        f"/api/v1/cases/{case_id}/resolution", json={"summary": "已到账", "settlement_intent": True}
    )
    assert resolved.status_code == 201, resolved.text


async def test_tasks_the_chief_of_the_tasks_section_may_chase_it_but_only_the_concierge_cancels_it(
    admin: httpx.AsyncClient,
) -> None:
    await add_staff(admin, "甲科长", "section_chief")
    case_id = await open_case(admin, 5108)
    concierge = await concierge_of(admin, case_id)
    chief_id = await person(admin, "李国库", "section_chief", "li5108")  # chief of 国库科, not the concierge
    assert concierge != chief_id
    chief = await signed_in(admin, "li5108")
    assert (await admin.post(f"/api/v1/cases/{case_id}/clarification", json=CLARIFY)).status_code == 201
    opened = await admin.post(
        f"/api/v1/cases/{case_id}/tasks", json={"section": "国库科", "description": "核实", "working_days": 2}
    )
    url = f"/api/v1/cases/{case_id}/tasks/{opened.json()['detail']['task_id']}"

    chased = await admin.post(f"{url}/chase", json={"note": "国库科催办"}, headers=chief)
    refused = await admin.post(f"{url}/cancel", json={"reason": "不需要了"}, headers=chief)

    assert chased.status_code == 201, chased.text
    assert refused.status_code == 403, refused.text


async def test_cases_a_valid_offset_pages_the_bureaus_cases_newest_first(admin: httpx.AsyncClient) -> None:
    opened = [await open_case(admin, n) for n in (5111, 5112, 5113)]
    for case_id in opened:
        await _listed(admin, case_id)

    everything = (await admin.get("/api/v1/cases", params={"limit": 200})).json()
    page = await admin.get("/api/v1/cases", params={"limit": 1, "offset": 1})
    past_the_end = await admin.get("/api/v1/cases", params={"limit": 2, "offset": 3})

    assert page.status_code == 200, page.text
    assert [c["case_id"] for c in everything["items"]] == opened[::-1]
    assert {k: page.json()[k] for k in ("total", "limit", "offset")} == {"total": 3, "limit": 1, "offset": 1}
    assert [c["case_id"] for c in page.json()["items"]] == [opened[1]]
    assert past_the_end.status_code == 200 and past_the_end.json()["items"] == []
    assert past_the_end.json()["total"] == 3 and past_the_end.json()["offset"] == 3


async def _listed(client: httpx.AsyncClient, case_id: str) -> None:
    async def probe() -> bool:
        items = (await client.get("/api/v1/cases", params={"limit": 200})).json()["items"]
        return case_id in [c["case_id"] for c in items]

    await eventually(probe, 60, f"{case_id} in the list")
