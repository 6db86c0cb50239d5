"""People through the gateway on real Tansu and SecantusDB: rights by post, history names, sign-out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.auth import totp
from tests.support import case_body, credit_code, eventually

pytestmark = pytest.mark.integration
PASSWORD = "长城-Great-Wall-2026"
CLARIFY = {"summary": "补贴未到账", "sections": ["国库科"]}
RESOLVE = {"summary": "已到账", "settlement_intent": True}


TOTP_SECRETS: dict[
    str, str
] = {}  # username: the second factor's secret a leadership post's account was given


async def person(admin: httpx.AsyncClient, name: str, post: str, username: str, role: str = "staff") -> str:
    """Put a person on the roster and give them an account; return the staff id."""
    added = await admin.post("/api/v1/staff", json={"name": name, "post": post, "section": "国库科"})
    assert added.status_code == 201, added.text
    staff_id = str(added.json()["detail"]["staff_id"])
    account = {"staff_id": staff_id, "username": username, "password": PASSWORD, "role": role}
    created = await admin.post("/api/v1/accounts", json=account)
    assert created.status_code == 201, created.text
    if secret := created.json().get("totp_secret"):
        TOTP_SECRETS[username] = secret
    return staff_id


async def signed_in(admin: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Sign in through the gateway (no key) and return the bearer headers of the access token."""
    body = {"bureau": admin.bureau, "username": username, "password": PASSWORD}  # type: ignore[attr-defined]
    if username in TOTP_SECRETS:
        body["totp"] = totp.code_at(TOTP_SECRETS[username], datetime.now(UTC))
    async with httpx.AsyncClient(base_url=str(admin.base_url), timeout=30) as anonymous:
        answer = await anonymous.post("/api/v1/auth/sign-in", json=body)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_a_clerk_may_not_resolve_the_concierge_may_and_the_history_names_them_until_sign_out(
    admin: httpx.AsyncClient,
) -> None:
    chief = await person(admin, "李国库", "section_chief", "li")
    await person(admin, "赵经办", "clerk", "zhao")
    case_id = (await admin.post("/api/v1/cases", json=case_body(4101))).json()["case_id"]

    async def served() -> Any:
        view = (await admin.get(f"/api/v1/cases/{case_id}")).json()
        return (view.get("concierge") or {}).get("staff_id") == chief

    await eventually(served, 60, f"{chief} as concierge of {case_id}")
    clerk, concierge = await signed_in(admin, "zhao"), await signed_in(admin, "li")

    # A clerk: 403 with the reason, nothing recorded.
    refused = await admin.post(f"/api/v1/cases/{case_id}/resolution", json=RESOLVE, headers=clerk)
    assert refused.status_code == 403
    assert (
        "post clerk may not take the six steps of a case: only the case's concierge"
        in refused.json()["detail"]
    )

    # The concierge: both steps recorded, and the case's history (case query service) names the person.
    assert (
        await admin.post(f"/api/v1/cases/{case_id}/clarification", json=CLARIFY, headers=concierge)
    ).status_code == 201
    assert (
        await admin.post(f"/api/v1/cases/{case_id}/resolution", json=RESOLVE, headers=concierge)
    ).status_code == 201

    async def resolved_event() -> Any:
        answer = await admin.get(f"/api/v1/cases/{case_id}/events", headers=concierge)
        return next((e for e in answer.json() if e["event_type"] == "CaseResolved"), None)

    actor = (await eventually(resolved_event, 60, "CaseResolved in the history"))["actor"]
    assert (actor["kind"], actor["staff_id"], actor["name"], actor["post"]) == (
        "person",
        chief,
        "李国库",
        "section_chief",
    )

    # Sign-out: the very next request answers 401, in the assignment service and in the case query service.
    assert (await admin.post("/api/v1/auth/sign-out", headers=concierge)).status_code == 204
    assert (await admin.get("/api/v1/auth/me", headers=concierge)).status_code == 401
    assert (await admin.get(f"/api/v1/cases/{case_id}", headers=concierge)).status_code == 401


async def test_a_person_token_is_accepted_by_intake_and_the_case_names_who_opened_it(
    admin: httpx.AsyncClient,
) -> None:
    await person(admin, "赵经办", "clerk", "zhao")
    clerk = await signed_in(admin, "zhao")

    opened = await admin.post("/api/v1/cases", json=case_body(4102), headers=clerk)

    assert opened.status_code == 201, opened.text

    async def history() -> Any:
        answer = await admin.get(f"/api/v1/cases/{opened.json()['case_id']}/events")
        return answer.json() if answer.status_code == 200 and answer.json() else None

    first = (await eventually(history, 60, "the opened case's history"))[0]
    assert (first["actor"]["kind"], first["actor"]["name"], first["actor"]["post"]) == (
        "person",
        "赵经办",
        "clerk",
    )


async def test_the_director_approves_a_disbursement_and_changes_its_settings_a_bureau_admin_clerk_does_not(
    admin: httpx.AsyncClient,
) -> None:
    await person(admin, "周建国", "director", "zhou")
    await person(admin, "赵经办", "clerk", "zhao", role="admin")  # the bureau admin: roster and accounts only
    director, clerk = await signed_in(admin, "zhou"), await signed_in(admin, "zhao")
    opening = {
        "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": credit_code(4103)},
        "source": "市财政局",
        "fund_type": "subsidy",
        "allocated": "70000000.00",
        "allocation_received_at": "2026-11-19T09:00:00+08:00",
    }
    opened = await admin.post("/api/v1/disbursements", json=opening, headers=clerk)  # a clerk records money
    assert opened.status_code == 201, opened.text
    stages = f"/api/v1/disbursements/{opened.json()['id']}/stages"
    approval = {"stage": "approved", "at": "2026-11-19T17:00:00+08:00"}

    refused = await admin.post(stages, json=approval, headers=clerk)
    assert refused.status_code == 403 and "OnlyLeadershipApproves" in refused.text
    assert "post clerk may not approve disbursements" in refused.text
    approved = await admin.post(stages, json=approval, headers=director)
    assert approved.status_code == 201, approved.text
    timeline = (await admin.get(f"/api/v1/disbursements/{opened.json()['id']}")).json()["timeline"]
    assert [e["approver"] for e in timeline if e["stage"] == "approved"] == ["周建国"]

    settings = "/api/v1/disbursements/settings"
    assert (await admin.put(settings, json={"stuck_after_workdays": 4}, headers=clerk)).status_code == 403
    changed = await admin.put(settings, json={"stuck_after_workdays": 4}, headers=director)
    assert changed.status_code == 200 and changed.json()["stuck_after_workdays"] == 4
