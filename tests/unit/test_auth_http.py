"""People through the assignment API (in memory): sign-in, rights by post on cases, approvals, sign-out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.auth import totp
from shared.workdays.calendar import SHANGHAI
from tests.unit.test_assignment_support import auth, credit_code
from tests.unit.test_auth_support import World, bearer, world

CLARIFY = {"summary": "补贴未到账", "sections": ["国库科"]}
RESOLVE = {"summary": "已到账", "settlement_intent": True}


@pytest.fixture
async def w() -> AsyncIterator[World]:
    the_world = world()
    yield the_world
    await the_world.http.aclose()


async def test_given_a_clerk_when_resolving_a_case_then_403_names_the_post_and_the_concierge(
    w: World,
) -> None:
    await w.staff("李科长", "section_chief", "国库科")
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    await w.assigned_case("c1", 1)

    answer = await w.http.post(
        "/api/v1/cases/c1/resolution", json=RESOLVE, headers=bearer(await w.token("zhao"))
    )

    assert answer.status_code == 403
    assert "post clerk may not take the six steps" in answer.json()["detail"]
    assert "the case's concierge" in answer.json()["detail"]


async def test_given_the_concierge_signed_in_when_taking_steps_then_the_events_name_the_person(
    w: World,
) -> None:
    chief = await w.staff("李科长", "section_chief", "国库科")
    await w.account(chief, "li")
    await w.assigned_case("c1", 1)
    token = await w.token("li")

    assert (
        await w.http.post("/api/v1/cases/c1/clarification", json=CLARIFY, headers=bearer(token))
    ).status_code == 201
    assert (
        await w.http.post("/api/v1/cases/c1/resolution", json=RESOLVE, headers=bearer(token))
    ).status_code == 201

    resolved = (await w.recorder.read_stream("c1"))[-1]
    assert resolved.event_type == "CaseResolved"
    assert (resolved.actor.kind, resolved.actor.staff_id, resolved.actor.name, resolved.actor.post) == (
        "person",
        chief,
        "李科长",
        "section_chief",
    )


async def test_given_another_management_person_when_taking_a_step_then_403_only_the_concierge(
    w: World,
) -> None:
    await w.staff("李科长", "section_chief", "国库科")
    await w.assigned_case("c1", 1)  # goes to 李科长, the only one on the roster then
    other = await w.staff("钱副局长", "deputy_director", "局办")
    await w.account(other, "qian")

    answer = await w.http.post(
        "/api/v1/cases/c1/clarification", json=CLARIFY, headers=bearer(await w.token("qian"))
    )

    assert answer.status_code == 403 and "only the case's concierge" in answer.json()["detail"]


async def test_given_the_concierge_on_leave_when_taking_a_step_then_403_and_reading_still_works(
    w: World,
) -> None:
    chief = await w.staff("李科长", "section_chief", "国库科")
    await w.account(chief, "li")
    await w.assigned_case("c1", 1)
    token = await w.token("li")
    today = datetime.now(SHANGHAI).date()
    # Recorded for tomorrow, so the hand-over has not happened and the case still names 李科长 …
    leave = {
        "first_day": str(today + timedelta(days=1)),
        "last_day": str(today + timedelta(days=3)),
        "reason": "年假",
    }
    assert (
        await w.http.post(f"/api/v1/staff/{chief}/leaves", json=leave, headers=auth("finance-admin"))
    ).status_code == 201
    board = await w.app.state.boards.current("finance")
    # … and the check runs on the leave's first day: a person away keeps read access only.
    board.staff[chief].leaves[next(iter(board.staff[chief].leaves))].first_day = today

    answer = await w.http.post("/api/v1/cases/c1/clarification", json=CLARIFY, headers=bearer(token))

    assert answer.status_code == 403 and "on leave" in answer.json()["detail"]
    assert (await w.http.get("/api/v1/staff", headers=bearer(token))).status_code == 200


async def test_given_a_section_chief_when_closing_a_task_of_their_section_then_allowed_and_of_another_refused(
    w: World,
) -> None:
    concierge = await w.staff("李科长", "section_chief", "国库科")
    await w.account(concierge, "li")
    await w.assigned_case("c1", 1)
    budget_chief = await w.staff("孙科长", "section_chief", "预算科")
    await w.account(budget_chief, "sun")
    li, sun = await w.token("li"), await w.token("sun")
    await w.http.post("/api/v1/cases/c1/clarification", json=CLARIFY, headers=bearer(li))
    task = {"section": "预算科", "description": "核对预算", "working_days": 3}
    budget = (await w.http.post("/api/v1/cases/c1/tasks", json=task, headers=bearer(li))).json()["detail"][
        "task_id"
    ]
    treasury = (
        await w.http.post("/api/v1/cases/c1/tasks", json=task | {"section": "国库科"}, headers=bearer(li))
    ).json()["detail"]["task_id"]

    own = await w.http.post(
        f"/api/v1/cases/c1/tasks/{budget}/close", json={"outcome": "已核对"}, headers=bearer(sun)
    )
    other = await w.http.post(
        f"/api/v1/cases/c1/tasks/{treasury}/chase", json={"note": "请加快"}, headers=bearer(sun)
    )
    resolve = await w.http.post("/api/v1/cases/c1/resolution", json=RESOLVE, headers=bearer(sun))

    assert own.status_code == 201, own.text
    assert other.status_code == 403 and "chief of the task's section" in other.json()["detail"]
    assert resolve.status_code == 403


async def test_given_a_signed_in_director_when_approving_a_fallback_then_the_approver_is_the_person(
    w: World,
) -> None:
    director = await w.staff("周局长", "director", "局办")
    secret = (await w.account(director, "zhou"))["totp_secret"]
    model = await w.staff("吴模范", "service_model", "国库科")
    await w.assigned_case("c1", 1)  # 周局长 serves enterprise 1
    await w.assigned_case("c2", 2)  # nobody free: enterprise 2 waits
    token = await w.token("zhou", totp.code_at(secret, datetime.now(UTC)))

    spoofed = await w.http.post(
        "/api/v1/assignments/approvals",
        json={"credit_code": credit_code(2), "staff_id": model, "approved_by": "somebody-else"},
        headers=bearer(token),
    )
    approved = await w.http.post(
        "/api/v1/assignments/approvals",
        json={"credit_code": credit_code(2), "staff_id": model},
        headers=bearer(token),
    )

    assert spoofed.status_code == 422
    assert approved.status_code == 201, approved.text
    events = await w.recorder.read_stream("board-finance")
    approval = next(e for e in events if e.event_type == "FallbackApproved")
    assert approval.data["approved_by"] == director and approval.actor.staff_id == director


async def test_given_a_clerk_when_approving_or_publishing_then_403_with_the_leadership_reason(
    w: World,
) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    token = await w.token("zhao")

    approval = await w.http.post(
        "/api/v1/assignments/approvals",
        json={"credit_code": credit_code(2), "staff_id": clerk},
        headers=bearer(token),
    )
    roster = await w.http.post(
        "/api/v1/staff", json={"name": "新人", "post": "clerk", "section": "科"}, headers=bearer(token)
    )

    assert approval.status_code == 403 and "bureau leadership" in approval.json()["detail"]
    assert roster.status_code == 403 and "the bureau admin" in roster.json()["detail"]


async def test_given_a_signed_in_person_when_signing_out_then_the_next_request_is_401(w: World) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    signed_in = (await w.sign_in("zhao")).json()
    token = signed_in["access_token"]
    assert (await w.http.get("/api/v1/auth/me", headers=bearer(token))).json()["name"] == "赵经办"

    assert (await w.http.post("/api/v1/auth/sign-out", headers=bearer(token))).status_code == 204

    assert (await w.http.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    refreshed = await w.http.post("/api/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert refreshed.status_code == 401


async def test_given_a_post_change_on_the_roster_then_the_next_request_has_the_new_posts_rights(
    w: World,
) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    token = await w.token("zhao")

    changed = await w.http.patch(
        f"/api/v1/staff/{clerk}", json={"post": "section_chief"}, headers=auth("finance-admin")
    )

    assert changed.status_code == 200, changed.text
    me = (await w.http.get("/api/v1/auth/me", headers=bearer(token))).json()
    # Into leadership (TOTP required) the session ends instead: tests/unit/test_session_races.py.
    assert me["post"] == "section_chief" and "take_case_steps" in me["rights"]


async def test_given_a_departure_then_the_persons_token_answers_401_and_sign_in_is_refused(w: World) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    token = await w.token("zhao")

    departed = await w.http.post(
        f"/api/v1/staff/{clerk}/departure", json={"reason": "调离"}, headers=auth("finance-admin")
    )

    assert departed.status_code == 201
    assert (await w.http.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    assert (await w.sign_in("zhao")).status_code == 401


async def test_given_a_personal_token_when_used_then_it_is_listed_with_last_use_and_revocable(
    w: World,
) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    session = await w.token("zhao")

    created = await w.http.post("/api/v1/auth/tokens", json={"name": "月报脚本"}, headers=bearer(session))
    personal = created.json()["token"]
    assert (await w.http.get("/api/v1/staff", headers=bearer(personal))).status_code == 200
    listed = (await w.http.get("/api/v1/auth/tokens", headers=bearer(session))).json()
    deleted = await w.http.delete(
        f"/api/v1/auth/tokens/{created.json()['token_id']}", headers=bearer(session)
    )

    assert created.status_code == 201 and personal.startswith("czp_")
    assert [t["name"] for t in listed] == ["月报脚本"] and listed[0]["last_used_at"] is not None
    assert "token" not in listed[0]
    assert deleted.status_code == 204
    assert (await w.http.get("/api/v1/staff", headers=bearer(personal))).status_code == 401


async def test_given_a_staff_key_when_creating_an_account_then_403(w: World) -> None:
    clerk = await w.staff("赵经办", "clerk")
    body = {"staff_id": clerk, "username": "zhao", "password": "长城-Great-Wall-2026"}

    answer = await w.http.post("/api/v1/accounts", json=body, headers=auth("finance-staff"))

    assert answer.status_code == 403 and "manage accounts" in answer.json()["detail"]


async def test_given_someone_not_on_the_roster_when_creating_an_account_then_404(w: World) -> None:
    body = {"staff_id": "nobody", "username": "nobody"}
    answer = await w.http.post("/api/v1/accounts", json=body, headers=auth("finance-admin"))
    assert answer.status_code == 404


async def test_given_repeated_wrong_passwords_then_429_with_retry_after_and_a_reason(w: World) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    for _ in range(5):
        assert (await w.sign_in("zhao", password="wrong-password-xx")).status_code == 401

    locked = await w.sign_in("zhao")

    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0 and "locked" in locked.json()["detail"]


async def test_given_a_personal_token_when_creating_another_then_403_only_from_a_session(w: World) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    session = await w.token("zhao")
    personal = (
        await w.http.post("/api/v1/auth/tokens", json={"name": "脚本"}, headers=bearer(session))
    ).json()

    answer = await w.http.post(
        "/api/v1/auth/tokens", json={"name": "再一个"}, headers=bearer(personal["token"])
    )

    assert answer.status_code == 403 and "signed-in session" in answer.json()["detail"]


async def test_a_leadership_account_answers_its_totp_secret_once_and_the_list_shows_no_secret(
    w: World,
) -> None:
    director = await w.staff("周局长", "director", "局办")

    created = await w.account(director, "zhou")
    listed = (await w.http.get("/api/v1/accounts", headers=auth("finance-admin"))).json()

    assert created["totp_uri"].startswith("otpauth://totp/") and created["account"]["second_factor"] is True
    assert listed == [created["account"]] and created["totp_secret"] not in str(listed)
    assert (await w.sign_in("zhou")).json()["detail"].endswith("also send their TOTP code")
