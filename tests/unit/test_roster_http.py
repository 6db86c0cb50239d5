"""The roster API over fakes: partial changes, departures, leaves (deputies, overlaps, cancel, check)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.assignment.application.boards import board_stream
from shared.contracts.cases import Category
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_assignment_support import app_with, auth, context, enterprise, open_case

ADMIN = auth("finance-admin")
TODAY = datetime.now(SHANGHAI).date()
FUNDS = Category.FUND_DISBURSEMENT


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def http(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with(recorder))
    async with httpx.AsyncClient(transport=transport, base_url="http://assignment") as client:
        yield client


async def add(http: httpx.AsyncClient, name: str, post: str = "section_chief") -> str:
    answer = await http.post(
        "/api/v1/staff", json={"name": name, "post": post, "section": "预算科"}, headers=ADMIN
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["detail"]["staff_id"])


def leave(first: date, last: date, deputy: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"first_day": first.isoformat(), "last_day": last.isoformat(), "reason": "年假"}
    return body | ({"deputy_staff_id": deputy} if deputy else {})


async def assign(http: httpx.AsyncClient) -> None:
    """Place case c1 on the board, as the policy does when CaseOpened arrives."""
    boards = http._transport.app.state.boards  # type: ignore[attr-defined]
    now = datetime.now(SHANGHAI)
    await boards.decide(context("finance"), lambda b: b.open_case("c1", enterprise(1), FUNDS, now))


async def serving(http: httpx.AsyncClient) -> tuple[str, str]:
    """Return (the concierge of c1, the other person)."""
    cards = (await http.get("/api/v1/staff", headers=ADMIN)).json()
    [busy] = [c["staff_id"] for c in cards if c["current_enterprises"]]
    [free] = [c["staff_id"] for c in cards if not c["current_enterprises"]]
    return busy, free


async def board_events(recorder: InMemoryRecorder) -> list[str]:
    return [e.event_type for e in await recorder.read_stream(board_stream("finance"))]


async def test_patch_changes_only_the_fields_given_and_refuses_an_empty_body(http: httpx.AsyncClient) -> None:
    staff_id = await add(http, "王科长")

    changed = await http.patch(f"/api/v1/staff/{staff_id}", json={"section": "国库科"}, headers=ADMIN)
    empty = await http.patch(f"/api/v1/staff/{staff_id}", json={}, headers=ADMIN)

    assert changed.status_code == 200, changed.text
    [card] = (await http.get("/api/v1/staff", headers=ADMIN)).json()
    assert (card["post"], card["section"]) == ("section_chief", "国库科")
    assert empty.status_code == 422


async def test_a_departed_person_is_hidden_from_the_roster_unless_asked_and_their_case_is_handed_over(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    await add(http, "甲科长")
    await add(http, "乙科长")
    await open_case(recorder, "c1", "finance", 1)
    await assign(http)
    first, second = await serving(http)

    departed = await http.post(f"/api/v1/staff/{first}/departure", json={"reason": "调任"}, headers=ADMIN)

    assert departed.status_code == 201, departed.text
    assert departed.json()["recorded"] == ["StaffDeparted", "ConciergeReassigned"]
    listed = [c["staff_id"] for c in (await http.get("/api/v1/staff", headers=ADMIN)).json()]
    everyone = (await http.get("/api/v1/staff?include_departed=true", headers=ADMIN)).json()
    assert listed == [second]
    for loose in ("yes", "1", "on", "TRUE"):  # strict, as every boolean: never read as true or false
        answer = await http.get(f"/api/v1/staff?include_departed={loose}", headers=ADMIN)
        assert answer.status_code == 422 and "include_departed" in answer.text
    [gone] = [c for c in everyone if c["staff_id"] == first]
    assert gone["departed"] and gone["departure_reason"] == "调任" and gone["enterprises_served"] == 1
    again = await http.post(f"/api/v1/staff/{first}/departure", json={"reason": "调任"}, headers=ADMIN)
    assert again.status_code == 409
    assert (await http.delete(f"/api/v1/staff/{first}", headers=ADMIN)).status_code == 405


async def test_a_deputy_who_does_not_exist_is_refused_with_the_reason_and_nothing_is_recorded(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    staff_id = await add(http, "王科长")
    before = await board_events(recorder)

    answer = await http.post(
        f"/api/v1/staff/{staff_id}/leaves", json=leave(TODAY, TODAY, "nobody"), headers=ADMIN
    )

    assert answer.status_code == 409 and "not on the roster" in answer.json()["detail"]
    assert await board_events(recorder) == before


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(1900, 1, 1), date(9999, 12, 31)),
        (TODAY, TODAY - timedelta(days=1)),
        (TODAY - timedelta(days=400), TODAY - timedelta(days=399)),
        (TODAY, TODAY + timedelta(days=400)),
    ],
)
async def test_implausible_leave_dates_are_refused(http: httpx.AsyncClient, first: date, last: date) -> None:
    staff_id = await add(http, "王科长")
    answer = await http.post(f"/api/v1/staff/{staff_id}/leaves", json=leave(first, last), headers=ADMIN)
    assert answer.status_code == 422, answer.text


async def test_the_same_leave_recorded_twice_is_refused_and_a_cancelled_one_frees_the_days(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    staff_id = await add(http, "王科长")
    span = leave(TODAY + timedelta(days=2), TODAY + timedelta(days=4))
    first = await http.post(f"/api/v1/staff/{staff_id}/leaves", json=span, headers=ADMIN)
    second = await http.post(f"/api/v1/staff/{staff_id}/leaves", json=span, headers=ADMIN)
    assert first.status_code == 201 and second.status_code == 409 and "overlaps" in second.json()["detail"]
    leave_id = first.json()["detail"]["leave_id"]
    [card] = (await http.get("/api/v1/staff", headers=ADMIN)).json()
    assert [(x["leave_id"], x["state"]) for x in card["leaves"]] == [(leave_id, "scheduled")]

    cancelled = await http.post(
        f"/api/v1/staff/{staff_id}/leaves/{leave_id}/cancel", json={"reason": "取消出行"}, headers=ADMIN
    )
    again = await http.post(f"/api/v1/staff/{staff_id}/leaves", json=span, headers=ADMIN)

    assert cancelled.status_code == 201 and cancelled.json()["recorded"] == ["StaffLeaveCancelled"]
    assert again.status_code == 201


async def test_the_leave_check_trigger_records_nothing_when_nothing_is_due(http: httpx.AsyncClient) -> None:
    staff_id = await add(http, "王科长")
    await http.post(f"/api/v1/staff/{staff_id}/leaves", json=leave(TODAY, TODAY), headers=ADMIN)
    answer = await http.post("/api/v1/staff/leave-check", headers=ADMIN)
    assert answer.status_code == 200 and answer.json()["recorded"] == []
    assert (await http.post("/api/v1/staff/leave-check", headers=auth("finance-staff"))).status_code == 403


async def test_a_reassignment_records_the_approving_key(
    http: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    await add(http, "甲科长")
    await add(http, "乙科长")
    await open_case(recorder, "c1", "finance", 1)
    await assign(http)
    _, other = await serving(http)

    answer = await http.post(
        "/api/v1/assignments/reassignments",
        json={"credit_code": enterprise(1).credit_code, "to_staff_id": other, "reason": "利益冲突"},
        headers=ADMIN,
    )

    assert answer.status_code == 201, answer.text
    [moved] = [
        e
        for e in await recorder.read_stream(board_stream("finance"))
        if e.event_type == "ConciergeReassigned"
    ]
    assert moved.data["approved_by"] == answer.json()["detail"]["approved_by"] == "fake-finance-admin"
