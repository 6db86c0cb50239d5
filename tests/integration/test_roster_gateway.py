"""The roster through the gateway: departures, partial changes, post changes, leaves and reassignments."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.stack import Stack
from shared.workdays.calendar import SHANGHAI
from tests.support import case_body, credit_code, eventually

pytestmark = pytest.mark.integration
TODAY = datetime.now(SHANGHAI).date()


@pytest.fixture
async def bureau(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh bureau of its own (its own board and queue) and an admin client for it."""
    bureau_id = f"r{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "roster test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        yield client


async def add_staff(client: httpx.AsyncClient, name: str, post: str = "section_chief") -> str:
    answer = await client.post("/api/v1/staff", json={"name": name, "post": post, "section": "预算科"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["detail"]["staff_id"])


async def open_case(client: httpx.AsyncClient, n: int) -> str:
    answer = await client.post("/api/v1/cases", json=case_body(n))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["case_id"])


async def concierge_becomes(client: httpx.AsyncClient, case_id: str, staff_id: str) -> None:
    async def probe() -> bool:
        view = (await client.get(f"/api/v1/cases/{case_id}")).json()
        return (view.get("concierge") or {}).get("staff_id") == staff_id

    await eventually(probe, 60, f"{staff_id} as concierge of {case_id}")


async def someone_serves(client: httpx.AsyncClient, case_id: str) -> str:
    async def probe() -> str | None:
        view = (await client.get(f"/api/v1/cases/{case_id}")).json()
        return (view.get("concierge") or {}).get("staff_id")

    return await eventually(probe, 60, f"a concierge on {case_id}")


async def case_event_types(client: httpx.AsyncClient, case_id: str) -> list[str]:
    return [e["event_type"] for e in (await client.get(f"/api/v1/cases/{case_id}/events")).json()]


async def roster(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return list((await client.get("/api/v1/staff", params=params)).json())


async def test_a_person_who_leaves_the_bureau_hands_over_is_never_picked_and_stays_in_history(
    bureau: httpx.AsyncClient,
) -> None:
    first, second = await add_staff(bureau, "甲科长"), await add_staff(bureau, "乙科长")
    case_id = await open_case(bureau, 1101)
    leaving = await someone_serves(bureau, case_id)
    staying = second if leaving == first else first

    assert (await bureau.delete(f"/api/v1/staff/{leaving}")).status_code == 405
    departed = await bureau.post(f"/api/v1/staff/{leaving}/departure", json={"reason": "调任市财政局"})

    assert departed.status_code == 201, departed.text
    assert departed.json()["recorded"] == ["StaffDeparted", "ConciergeReassigned"]
    await concierge_becomes(bureau, case_id, staying)
    assert [c["staff_id"] for c in await roster(bureau)] == [staying]
    [gone] = [c for c in await roster(bureau, include_departed="true") if c["staff_id"] == leaving]
    assert gone["departed"] and gone["departure_reason"] == "调任市财政局" and gone["enterprises_served"] == 1
    # Never picked again: the next enterprise waits rather than go to the departed person.
    await open_case(bureau, 1102)

    async def waiting() -> bool:
        queue = (await bureau.get("/api/v1/assignments/queue")).json()
        return [w["credit_code"] for w in queue] == [credit_code(1102)]

    await eventually(waiting, 60, "enterprise 1102 waiting")
    again = await bureau.post(f"/api/v1/staff/{leaving}/departure", json={"reason": "再次"})
    assert again.status_code == 409


async def test_patch_is_partial_and_a_post_change_hands_the_enterprise_over_and_the_case_shows_it_waits(
    bureau: httpx.AsyncClient,
) -> None:
    chief = await add_staff(bureau, "王科长")
    case_id = await open_case(bureau, 1103)
    await concierge_becomes(bureau, case_id, chief)

    section = await bureau.patch(f"/api/v1/staff/{chief}", json={"section": "国库科"})
    assert section.status_code == 200, section.text
    [card] = await roster(bureau)
    assert (card["post"], card["section"]) == ("section_chief", "国库科")

    demoted = await bureau.patch(f"/api/v1/staff/{chief}", json={"post": "clerk"})

    assert demoted.status_code == 200 and demoted.json()["recorded"] == [
        "StaffMemberChanged",
        "EnterpriseQueued",
    ]
    [waiting] = (await bureau.get("/api/v1/assignments/queue")).json()
    assert waiting["case_ids"] == [case_id]

    async def withdrawn() -> bool:
        return "ConciergeWithdrawnFromCase" in await case_event_types(bureau, case_id)

    await eventually(withdrawn, 60, "the withdrawal recorded on the case")
    newcomer = await add_staff(bureau, "新科长")
    await concierge_becomes(bureau, case_id, newcomer)


async def test_leaves_validate_the_deputy_refuse_overlaps_and_can_be_cancelled(
    bureau: httpx.AsyncClient,
) -> None:
    first, second = await add_staff(bureau, "甲科长"), await add_staff(bureau, "乙科长")
    clerk = await add_staff(bureau, "李经办", "clerk")
    case_id = await open_case(bureau, 1104)
    away = await someone_serves(bureau, case_id)
    deputy = second if away == first else first
    span = {
        "first_day": TODAY.isoformat(),
        "last_day": (TODAY + timedelta(days=2)).isoformat(),
        "reason": "病假",
    }

    for wrong, why in ((away, "本人"), ("nobody", "不在本局名册"), (clerk, "不是管理岗位")):
        refused = await bureau.post(f"/api/v1/staff/{away}/leaves", json=span | {"deputy_staff_id": wrong})
        assert refused.status_code == 409 and why in refused.json()["detail"], refused.text
    absurd = await bureau.post(
        f"/api/v1/staff/{away}/leaves", json=span | {"first_day": "1900-01-01", "last_day": "9999-12-31"}
    )
    assert absurd.status_code == 422

    recorded = await bureau.post(f"/api/v1/staff/{away}/leaves", json=span | {"deputy_staff_id": deputy})
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["recorded"] == ["StaffLeaveRecorded", "StaffLeaveStarted", "ConciergeReassigned"]
    await concierge_becomes(bureau, case_id, deputy)
    overlapping = await bureau.post(f"/api/v1/staff/{away}/leaves", json=span)
    assert overlapping.status_code == 409 and "overlaps" in overlapping.json()["detail"]
    check = await bureau.post("/api/v1/staff/leave-check")
    assert check.status_code == 200 and check.json()["recorded"] == []

    # Back early: the returning person is eligible again at once and takes the waiting enterprise.
    waiting_case = await open_case(bureau, 1105)
    leave_id = recorded.json()["detail"]["leave_id"]
    cancelled = await bureau.post(
        f"/api/v1/staff/{away}/leaves/{leave_id}/cancel", json={"reason": "提前返岗"}
    )
    assert cancelled.status_code == 201, cancelled.text
    await concierge_becomes(bureau, waiting_case, away)
    [card] = [c for c in await roster(bureau) if c["staff_id"] == away]
    assert not card["on_leave_today"] and card["leaves"] == []


async def test_a_reassignment_records_the_approving_key(bureau: httpx.AsyncClient) -> None:
    first, second = await add_staff(bureau, "甲科长"), await add_staff(bureau, "乙科长")
    case_id = await open_case(bureau, 1106)
    serving = await someone_serves(bureau, case_id)
    other = second if serving == first else first

    moved = await bureau.post(
        "/api/v1/assignments/reassignments",
        json={"credit_code": credit_code(1106), "to_staff_id": other, "reason": "利益冲突"},
    )

    assert moved.status_code == 201, moved.text
    assert moved.json()["detail"]["approved_by"]
    await concierge_becomes(bureau, case_id, other)


async def test_a_low_rated_case_whose_concierge_left_waits_without_them_and_leaders_see_it_wait(
    bureau: httpx.AsyncClient,
) -> None:
    await add_staff(bureau, "甲科长")
    case_id = await open_case(bureau, 1107)
    gone = await someone_serves(bureau, case_id)
    for step, body in (
        ("clarification", {"summary": "补贴未到账", "sections": ["国库科"]}),
        ("resolution", {"summary": "已到账", "settlement_intent": True}),
    ):
        assert (await bureau.post(f"/api/v1/cases/{case_id}/{step}", json=body)).status_code == 201

    async def released() -> bool:
        cards = (await bureau.get("/api/v1/concierges")).json()
        return not any(c["staff_id"] == gone and c["current_enterprises"] for c in cards)

    await eventually(released, 60, "the concierge released by the resolution")
    assert (await bureau.post(f"/api/v1/staff/{gone}/departure", json={"reason": "调离"})).status_code == 201

    rated = await bureau.post(f"/api/v1/cases/{case_id}/rating", json={"rating": 1, "comment": "没解决"})
    assert rated.status_code == 201, rated.text

    async def waiting() -> dict[str, Any] | None:
        view = (await bureau.get(f"/api/v1/cases/{case_id}")).json()
        return view if view["status"] == "reopened" and view.get("waiting_since") else None

    view = await eventually(waiting, 60, "the reopened case waiting for a concierge")
    assert view["concierge"] is None, view  # it named the person who left, who could still work it
    listed = (await bureau.get("/api/v1/cases", params={"concierge": gone})).json()
    assert case_id not in {c["case_id"] for c in listed["items"]}
    assert "ConciergeWithdrawnFromCase" in await case_event_types(bureau, case_id)
