"""Unknown or another bureau's ids: 404 when the path names them, 422 naming the field when the body does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from shared.contracts.cases import Category
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_assignment_support import app_with, auth, context, enterprise

ADMIN, OTHER_BUREAU = auth("finance-admin"), auth("innovation-admin")
TODAY = datetime.now(SHANGHAI).date()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with(InMemoryRecorder()))
    async with httpx.AsyncClient(transport=transport, base_url="http://assignment") as client:
        yield client


async def add(
    http: httpx.AsyncClient, name: str, post: str = "section_chief", headers: dict | None = None
) -> str:
    answer = await http.post(
        "/api/v1/staff", json={"name": name, "post": post, "section": "预算科"}, headers=headers or ADMIN
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["detail"]["staff_id"])


async def test_roster_routes_answer_404_for_a_person_not_on_the_bureaus_roster(
    http: httpx.AsyncClient,
) -> None:
    # Given a person of another bureau
    stranger = await add(http, "孙创新", headers=OTHER_BUREAU)
    leave = {"first_day": TODAY.isoformat(), "last_day": TODAY.isoformat(), "reason": "年假"}

    for staff_id in ("nobody", stranger):
        # When finance changes, parts with or sends them on leave
        answers = [
            await http.patch(f"/api/v1/staff/{staff_id}", json={"section": "x"}, headers=ADMIN),
            await http.post(f"/api/v1/staff/{staff_id}/departure", json={"reason": "调离"}, headers=ADMIN),
            await http.post(f"/api/v1/staff/{staff_id}/leaves", json=leave, headers=ADMIN),
            await http.post(
                f"/api/v1/staff/{staff_id}/leaves/l1/cancel", json={"reason": "x"}, headers=ADMIN
            ),
        ]

        # Then each is 404 with the reason
        assert [a.status_code for a in answers] == [404] * 4, [a.text for a in answers]
        assert all(staff_id in a.json()["detail"] for a in answers)


async def test_cancelling_a_leave_the_person_does_not_have_answers_404(http: httpx.AsyncClient) -> None:
    staff_id = await add(http, "王科长")

    answer = await http.post(
        f"/api/v1/staff/{staff_id}/leaves/nope/cancel", json={"reason": "x"}, headers=ADMIN
    )

    assert answer.status_code == 404 and "nope" in answer.json()["detail"], answer.text


async def test_a_departed_person_is_still_a_rule_refusal(http: httpx.AsyncClient) -> None:
    staff_id = await add(http, "王科长")
    assert (
        await http.post(f"/api/v1/staff/{staff_id}/departure", json={"reason": "调离"}, headers=ADMIN)
    ).is_success

    again = await http.patch(f"/api/v1/staff/{staff_id}", json={"section": "x"}, headers=ADMIN)

    assert again.status_code == 409, again.text


async def test_a_reassignment_to_someone_not_on_the_roster_is_422_naming_to_staff_id(
    http: httpx.AsyncClient,
) -> None:
    # Given an enterprise served in finance, and a person of another bureau
    await add(http, "王科长")
    stranger = await add(http, "孙创新", headers=OTHER_BUREAU)
    boards = http._transport.app.state.boards  # type: ignore[attr-defined]
    now = datetime.now(SHANGHAI)
    await boards.decide(
        context("finance"), lambda b: b.open_case("c1", enterprise(1), Category.FUND_DISBURSEMENT, now)
    )

    for staff_id in ("nobody", stranger):
        # When finance moves the enterprise to them
        body = {"credit_code": enterprise(1).credit_code, "to_staff_id": staff_id, "reason": "利益冲突"}
        answer = await http.post("/api/v1/assignments/reassignments", json=body, headers=ADMIN)

        # Then it is invalid input naming the field, and says why
        assert answer.status_code == 422, answer.text
        [reason] = answer.json()["detail"]
        assert reason["loc"] == ["body", "to_staff_id"] and staff_id in reason["msg"]


async def test_an_approval_naming_someone_not_on_the_roster_is_422_naming_the_field(
    http: httpx.AsyncClient,
) -> None:
    director = await add(http, "周局长", "director")
    expert = await add(http, "钱骨干", "experienced_staff")
    stranger = await add(http, "孙创新", "director", headers=OTHER_BUREAU)
    code = enterprise(1).credit_code

    for field, body in (
        ("staff_id", {"credit_code": code, "staff_id": "nobody", "approved_by": director}),
        ("approved_by", {"credit_code": code, "staff_id": expert, "approved_by": stranger}),
    ):
        answer = await http.post("/api/v1/assignments/approvals", json=body, headers=ADMIN)

        assert answer.status_code == 422, answer.text
        [reason] = answer.json()["detail"]
        assert reason["loc"] == ["body", field], reason
