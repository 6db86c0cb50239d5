"""README's account routes through the gateway, as a bureau admin sees them: the list of accounts, disabling and
enabling one, resetting its password and its second factor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.auth import totp
from tests.api import Api
from tests.integration.test_gateway_routes_sessions import bearer
from tests.integration.test_people_gateway import PASSWORD, TOTP_SECRETS, person

pytestmark = pytest.mark.integration
ACCOUNTS = "/api/v1/accounts"
NEW_PASSWORD = "黄河-Yellow-River-2027"


async def sign_in(
    admin: httpx.AsyncClient, username: str, password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    body = {"bureau": admin.bureau, "username": username, "password": password, **extra}  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=str(admin.base_url), timeout=30) as anonymous:
        return await anonymous.post("/api/v1/auth/sign-in", json=body)


async def access(admin: httpx.AsyncClient, username: str, **extra: Any) -> dict[str, str]:
    answer = await sign_in(admin, username, **extra)
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["access_token"])


async def lock_out(admin: httpx.AsyncClient, username: str) -> None:
    """Five wrong passwords from one address: even the right one then answers 429."""
    for _ in range(5):
        assert (await sign_in(admin, username, "wrong-password-123")).status_code == 401
    assert (await sign_in(admin, username)).status_code == 429


async def card(admin: httpx.AsyncClient, staff_id: str) -> dict[str, Any]:
    answer = await admin.get(ACCOUNTS)
    assert answer.status_code == 200, answer.text
    return next(c for c in answer.json() if c["staff_id"] == staff_id)


async def test_accounts_the_bureau_admin_lists_the_bureaus_accounts_with_post_role_and_second_factor(
    admin: httpx.AsyncClient, api: Api
) -> None:
    director = await person(admin, "周建国", "director", "zhou6401")
    clerk = await person(admin, "赵经办", "clerk", "zhao6401", role="admin")

    listed = await admin.get(ACCOUNTS)

    assert listed.status_code == 200, listed.text
    cards = {c["staff_id"]: c for c in listed.json()}
    assert set(cards) == {director, clerk}
    assert (cards[director]["username"], cards[director]["post"], cards[director]["role"]) == (
        "zhou6401",
        "director",
        "staff",
    )
    assert cards[director]["second_factor"] is True and cards[clerk]["second_factor"] is False
    assert (
        cards[clerk]["role"] == "admin"
        and not cards[clerk]["disabled"]
        and cards[clerk]["locked_until"] is None
    )
    assert "password" not in listed.text and TOTP_SECRETS["zhou6401"] not in listed.text
    by_person = await admin.get(ACCOUNTS, headers=await access(admin, "zhao6401"))  # an admin account
    assert by_person.status_code == 200 and {c["staff_id"] for c in by_person.json()} == {director, clerk}
    director_token = await access(
        admin, "zhou6401", totp=totp.code_at(TOTP_SECRETS["zhou6401"], datetime.now(UTC))
    )
    assert (await admin.get(ACCOUNTS, headers=director_token)).status_code == 403
    assert {c["staff_id"] for c in (await api.innovation.get(ACCOUNTS)).json()}.isdisjoint({director, clerk})


async def test_accounts_disable_stops_every_token_at_once_and_enable_lets_the_person_in_again(
    admin: httpx.AsyncClient,
) -> None:
    staff_id = await person(admin, "李国库", "section_chief", "li6402")
    signed = await access(admin, "li6402")
    token = (await admin.post("/api/v1/auth/tokens", json={"name": "script"}, headers=signed)).json()["token"]
    assert (await admin.post(f"{ACCOUNTS}/{staff_id}/disable", json={})).status_code == 422

    disabled = await admin.post(f"{ACCOUNTS}/{staff_id}/disable", json={"reason": "调岗审查"})

    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True and disabled.json()["disabled_reason"] == "调岗审查"
    assert (await admin.get("/api/v1/auth/me", headers=signed)).status_code == 401
    assert (await admin.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    assert (await sign_in(admin, "li6402")).status_code == 401
    assert (await card(admin, staff_id))["disabled"] is True

    enabled = await admin.post(f"{ACCOUNTS}/{staff_id}/enable")

    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["disabled"] is False and (await card(admin, staff_id))["disabled"] is False
    assert (await sign_in(admin, "li6402")).status_code == 200
    assert (await admin.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401  # revoked for good


async def test_accounts_enable_clears_the_lockout_and_is_refused_for_a_person_who_left(
    admin: httpx.AsyncClient,
) -> None:
    staff_id = await person(admin, "李国库", "section_chief", "li6403")
    await lock_out(admin, "li6403")
    assert (await card(admin, staff_id))["locked_until"] is None  # one address's lock, not the username's

    assert (await admin.post(f"{ACCOUNTS}/{staff_id}/enable")).status_code == 200
    assert (await sign_in(admin, "li6403")).status_code == 200

    assert (
        await admin.post(f"/api/v1/staff/{staff_id}/departure", json={"reason": "调任"})
    ).status_code == 201
    refused = await admin.post(f"{ACCOUNTS}/{staff_id}/enable")
    assert refused.status_code == 409, refused.text
    assert (await card(admin, staff_id))["disabled"] is True
    assert (await sign_in(admin, "li6403")).status_code == 401


async def test_accounts_a_password_reset_ends_every_session_clears_the_lockout_and_shows_a_generated_one_once(
    admin: httpx.AsyncClient,
) -> None:
    staff_id = await person(admin, "李国库", "section_chief", "li6404")
    signed = await access(admin, "li6404")
    await lock_out(admin, "li6404")

    generated = await admin.post(f"{ACCOUNTS}/{staff_id}/password", json={})

    assert generated.status_code == 200, generated.text
    password = generated.json()["password"]
    assert password and generated.json()["account"]["staff_id"] == staff_id
    assert (await admin.get("/api/v1/auth/me", headers=signed)).status_code == 401
    assert (await sign_in(admin, "li6404")).status_code == 401
    assert (await sign_in(admin, "li6404", password)).status_code == 200
    assert password not in (await admin.get(ACCOUNTS)).text

    weak = await admin.post(f"{ACCOUNTS}/{staff_id}/password", json={"password": "aaaaaaaaaaaaaaa"})
    assert weak.status_code == 422, weak.text
    chosen = await admin.post(f"{ACCOUNTS}/{staff_id}/password", json={"password": NEW_PASSWORD})
    assert chosen.status_code == 200 and chosen.json()["password"] is None, chosen.text
    assert (await sign_in(admin, "li6404", password)).status_code == 401
    assert (await sign_in(admin, "li6404", NEW_PASSWORD)).status_code == 200


async def test_accounts_a_new_totp_secret_is_shown_once_and_only_its_codes_sign_in(
    admin: httpx.AsyncClient,
) -> None:
    staff_id = await person(admin, "周建国", "director", "zhou6405")
    old = TOTP_SECRETS["zhou6405"]

    renewed = await admin.post(f"{ACCOUNTS}/{staff_id}/totp")

    assert renewed.status_code == 200, renewed.text
    new = renewed.json()["totp_secret"]
    assert new and new != old and renewed.json()["totp_uri"].startswith("otpauth://")
    assert renewed.json()["account"]["second_factor"] is True
    assert new not in (await admin.get(ACCOUNTS)).text
    assert (await sign_in(admin, "zhou6405", totp=totp.code_at(old, datetime.now(UTC)))).status_code == 401
    assert (await sign_in(admin, "zhou6405")).status_code == 401
    assert (await sign_in(admin, "zhou6405", totp=totp.code_at(new, datetime.now(UTC)))).status_code == 200
    assert (await admin.post(f"{ACCOUNTS}/nobody-here/totp")).status_code == 404
