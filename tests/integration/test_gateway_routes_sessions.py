"""README's session routes through the gateway, as a person sees them: refreshing a session, personal API
tokens, and enrolling in the TOTP second factor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.auth import totp
from tests.integration.test_people_gateway import PASSWORD, person

pytestmark = pytest.mark.integration
TOKENS = "/api/v1/auth/tokens"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def code(secret: str, seconds: float = 0) -> str:
    return totp.code_at(secret, datetime.now(UTC) + timedelta(seconds=seconds))


async def sign_in(admin: httpx.AsyncClient, username: str, **extra: Any) -> httpx.Response:
    """Sign in without a key, as a person does."""
    body = {"bureau": admin.bureau, "username": username, "password": PASSWORD, **extra}  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=str(admin.base_url), timeout=30) as anonymous:
        return await anonymous.post("/api/v1/auth/sign-in", json=body)


async def refresh(admin: httpx.AsyncClient, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=str(admin.base_url), timeout=30) as anonymous:
        return await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def session(admin: httpx.AsyncClient, username: str) -> dict[str, Any]:
    answer = await sign_in(admin, username)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_refresh_answers_a_new_pair_once_and_a_reused_refresh_token_ends_the_whole_session(
    admin: httpx.AsyncClient,
) -> None:
    staff_id = await person(admin, "李国库", "section_chief", "li6301")
    first = await session(admin, "li6301")

    renewed = await refresh(admin, first["refresh_token"])

    assert renewed.status_code == 200, renewed.text
    pair = renewed.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    assert pair["access_token"].startswith("czs_") and pair["refresh_token"].startswith("czr_")
    assert {pair["access_token"], pair["refresh_token"]}.isdisjoint(
        {first["access_token"], first["refresh_token"]}
    )
    assert pair["expires_at"].endswith("+08:00") and pair["refresh_expires_at"].endswith("+08:00")
    assert (pair["person"]["staff_id"], pair["person"]["post"]) == (staff_id, "section_chief")
    me = await admin.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200 and me.json()["staff_id"] == staff_id

    reused = await refresh(admin, first["refresh_token"])

    assert reused.status_code == 401, reused.text
    assert (await admin.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))).status_code == 401
    assert (await refresh(admin, pair["refresh_token"])).status_code == 401
    assert (await admin.get("/api/v1/auth/me", headers=bearer(pair["refresh_token"]))).status_code == 401


async def test_refresh_is_refused_once_the_account_is_disabled(admin: httpx.AsyncClient) -> None:
    staff_id = await person(admin, "李国库", "section_chief", "li6302")
    opened = await session(admin, "li6302")
    disabled = await admin.post(f"/api/v1/accounts/{staff_id}/disable", json={"reason": "调岗审查"})
    assert disabled.status_code == 200, disabled.text

    assert (await refresh(admin, opened["refresh_token"])).status_code == 401


async def test_refresh_is_refused_after_a_promotion_to_leadership_of_a_session_opened_without_a_code(
    admin: httpx.AsyncClient,
) -> None:
    staff_id = await person(admin, "李国库", "section_chief", "li6307")
    opened = await session(admin, "li6307")
    promoted = await admin.patch(f"/api/v1/staff/{staff_id}", json={"post": "director"})
    assert promoted.status_code == 200, promoted.text

    assert (await refresh(admin, opened["refresh_token"])).status_code == 401


async def test_tokens_a_personal_token_acts_as_the_person_is_listed_without_its_secret_and_is_revoked(
    admin: httpx.AsyncClient,
) -> None:
    staff_id = await person(admin, "李国库", "section_chief", "li6303")
    signed = bearer((await session(admin, "li6303"))["access_token"])

    made = await admin.post(TOKENS, json={"name": "nightly report", "expires_in_days": 30}, headers=signed)

    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["token_id"]
    assert token.startswith("czp_") and made.json()["name"] == "nightly report"
    assert made.json()["expires_at"].endswith("+08:00")
    me = (await admin.get("/api/v1/auth/me", headers=bearer(token))).json()
    assert (me["kind"], me["staff_id"], me["post"]) == ("person", staff_id, "section_chief")
    listed = await admin.get(TOKENS, headers=signed)
    assert listed.status_code == 200, listed.text
    [card] = listed.json()
    assert card["token_id"] == token_id and card["name"] == "nightly report"
    assert {"created_at", "expires_at", "last_used_at"} <= set(card) and "token" not in card
    assert token not in listed.text and card["last_used_at"] is not None  # used once above
    assert (await admin.post(TOKENS, json={"name": "from a token"}, headers=bearer(token))).status_code == 403
    assert (await admin.post(TOKENS, json={"name": "from a key"})).status_code == 403

    revoked = await admin.delete(f"{TOKENS}/{token_id}", headers=signed)

    assert revoked.status_code == 204, revoked.text
    assert (await admin.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    assert (await admin.get(TOKENS, headers=signed)).json() == []
    assert (await admin.delete(f"{TOKENS}/{token_id}", headers=signed)).status_code == 404


async def test_tokens_a_person_holds_at_most_twenty_live_tokens_and_a_deleted_one_frees_its_place(
    admin: httpx.AsyncClient,
) -> None:
    await person(admin, "李国库", "section_chief", "li6304")
    signed = bearer((await session(admin, "li6304"))["access_token"])
    made = []
    for n in range(20):
        answer = await admin.post(TOKENS, json={"name": f"script {n}"}, headers=signed)
        assert answer.status_code == 201, (n, answer.text)
        made.append(answer.json()["token_id"])

    refused = await admin.post(TOKENS, json={"name": "one too many"}, headers=signed)

    assert refused.status_code == 409, refused.text
    assert "at most 20 live personal tokens per person" in refused.json()["detail"]
    assert len((await admin.get(TOKENS, headers=signed)).json()) == 20
    assert (await admin.delete(f"{TOKENS}/{made[0]}", headers=signed)).status_code == 204
    assert (await admin.post(TOKENS, json={"name": "in its place"}, headers=signed)).status_code == 201


async def test_totp_a_person_enrols_then_needs_a_code_and_enrolling_again_retires_the_old_secret(
    admin: httpx.AsyncClient,
) -> None:
    await person(admin, "李国库", "section_chief", "li6305")
    signed = bearer((await session(admin, "li6305"))["access_token"])

    enrolled = await admin.post("/api/v1/auth/totp", json={"password": PASSWORD}, headers=signed)

    assert enrolled.status_code == 200, enrolled.text
    old = enrolled.json()["totp_secret"]
    assert old and enrolled.json()["totp_uri"].startswith("otpauth://")
    assert enrolled.json()["account"]["second_factor"] is True
    assert (await sign_in(admin, "li6305")).status_code == 401
    with_code = await sign_in(admin, "li6305", totp=code(old))
    assert with_code.status_code == 200, with_code.text
    signed = bearer(with_code.json()["access_token"])
    assert (
        await admin.post("/api/v1/auth/totp", json={"password": PASSWORD}, headers=signed)
    ).status_code == 401

    again = await admin.post(
        "/api/v1/auth/totp", json={"password": PASSWORD, "totp": code(old, 30)}, headers=signed
    )

    assert again.status_code == 200, again.text
    new = again.json()["totp_secret"]
    assert new != old
    assert (await sign_in(admin, "li6305", totp=code(old, -30))).status_code == 401
    assert (await sign_in(admin, "li6305", totp=code(new))).status_code == 200


async def test_totp_enrolment_is_refused_to_a_personal_token_and_wrong_passwords_lead_to_the_lockout(
    admin: httpx.AsyncClient,
) -> None:
    await person(admin, "李国库", "section_chief", "li6306")
    signed = bearer((await session(admin, "li6306"))["access_token"])
    token = (await admin.post(TOKENS, json={"name": "script"}, headers=signed)).json()["token"]

    assert (
        await admin.post("/api/v1/auth/totp", json={"password": PASSWORD}, headers=bearer(token))
    ).status_code == 403
    for _ in range(5):
        wrong = await admin.post("/api/v1/auth/totp", json={"password": "wrong-password-123"}, headers=signed)
        assert wrong.status_code == 401, wrong.text
    locked = await admin.post("/api/v1/auth/totp", json={"password": PASSWORD}, headers=signed)

    assert locked.status_code == 429, locked.text
    assert int(locked.headers["Retry-After"]) > 0
    assert (await sign_in(admin, "li6306")).status_code == 429
