"""The gateway counts only refusals of the request's own key, and knows the tokens it has just handed out.

End to end: the gateway in front of the real assignment app (people in memory), so the services' marking of
a refused bearer (RFC 6750 `error="invalid_token"`) and the gateway's reading of it are tested together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.gateway.bootstrap import build_app
from services.gateway.limits import issued_token, refuses_credentials
from tests.unit.test_auth_support import World, bearer, world
from tests.unit.test_gateway_forwarding import gateway, settings

BURST = 5  # refusals an address may have at once in these tests
INVALID_TOKEN = 'Bearer error="invalid_token"'


@pytest.fixture
async def w() -> AsyncIterator[World]:
    the_world = world()
    yield the_world
    await the_world.http.aclose()


@asynccontextmanager
async def in_front_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway, every service answered by `app`, one client address, a small refusals bucket."""
    limits: dict[str, Any] = dict(refused_credentials_per_second=0.01, refused_credentials_burst=BURST)
    gw = build_app(settings(**limits), transport=httpx.ASGITransport(app=app))
    async with gw.router.lifespan_context(gw):
        transport = httpx.ASGITransport(app=gw, client=("10.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


async def signed_in(w: World, client: httpx.AsyncClient) -> dict[str, Any]:
    """Give 赵经办 an account and sign in through the gateway; return the session answer."""
    await w.account(await w.staff("赵经办", "clerk"), "zhao")
    body = {"bureau": "finance", "username": "zhao", "password": "长城-Great-Wall-2026"}
    answer = await client.post("/api/v1/auth/sign-in", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def use_up_the_address(client: httpx.AsyncClient) -> None:
    """Send made-up keys from the address until the gateway holds it back."""
    codes = [
        (await client.get("/api/v1/auth/me", headers=bearer(f"made-up-{n}"))).status_code
        for n in range(BURST + 1)
    ]
    assert codes == [401] * BURST + [429]


async def test_the_services_mark_a_refused_bearer_and_not_a_refused_refresh_token(w: World) -> None:
    missing = await w.http.get("/api/v1/auth/me")
    unknown = await w.http.get("/api/v1/auth/me", headers=bearer("made-up"))
    refresh = await w.http.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    assert (unknown.status_code, unknown.headers["www-authenticate"]) == (401, INVALID_TOKEN)
    assert refresh.status_code == 401 and "invalid_token" not in refresh.headers.get("www-authenticate", "")


async def test_sign_out_marks_a_made_up_bearer_refused_but_not_a_working_personal_token(w: World) -> None:
    async with in_front_of(w.app) as client:
        session = bearer((await signed_in(w, client))["access_token"])
        made = await client.post("/api/v1/auth/tokens", json={"name": "脚本"}, headers=session)
        assert made.status_code == 201, made.text
        personal = await w.http.post("/api/v1/auth/sign-out", headers=bearer(made.json()["token"]))
    made_up = await w.http.post("/api/v1/auth/sign-out", headers=bearer("made-up"))

    assert (made_up.status_code, made_up.headers["www-authenticate"]) == (401, INVALID_TOKEN)
    assert (personal.status_code, personal.headers["www-authenticate"]) == (401, "Bearer")


async def test_refused_refresh_tokens_in_the_body_never_hold_back_the_bearer_that_works(w: World) -> None:
    async with in_front_of(w.app) as client:
        access = bearer((await signed_in(w, client))["access_token"])
        assert (await client.get("/api/v1/auth/me", headers=access)).status_code == 200
        refreshes = [
            (
                await client.post(
                    "/api/v1/auth/refresh", json={"refresh_token": f"bogus-{n}"}, headers=access
                )
            ).status_code
            for n in range(22)
        ]
        me = await client.get("/api/v1/auth/me", headers=access)
        new_key = await client.get("/api/v1/auth/me", headers=bearer("made-up"))
    assert refreshes == [401] * 22
    assert me.status_code == 200  # the bearer was never refused
    assert new_key.status_code == 401  # and the address's refusals were not spent on it


async def test_a_bearer_the_services_refuse_is_still_counted_against_the_address(w: World) -> None:
    async with in_front_of(w.app) as client:
        await use_up_the_address(client)


async def test_tokens_the_gateway_handed_out_are_served_while_their_address_is_held_back(w: World) -> None:
    async with in_front_of(w.app) as client:
        await w.account(await w.staff("赵经办", "clerk"), "zhao")
        await use_up_the_address(client)
        body = {"bureau": "finance", "username": "zhao", "password": "长城-Great-Wall-2026"}
        session = (await client.post("/api/v1/auth/sign-in", json=body)).json()
        after_sign_in = await client.get("/api/v1/auth/me", headers=bearer(session["access_token"]))
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
        )
        fresh = refreshed.json()["access_token"]
        after_refresh = await client.get("/api/v1/auth/me", headers=bearer(fresh))
        issued = await client.post("/api/v1/auth/tokens", json={"name": "脚本"}, headers=bearer(fresh))
        assert issued.status_code == 201, issued.text
        personal = await client.get("/api/v1/auth/me", headers=bearer(issued.json()["token"]))
        still_held = await client.get("/api/v1/auth/me", headers=bearer("made-up-again"))
    assert (after_sign_in.status_code, after_refresh.status_code, personal.status_code) == (200, 200, 200)
    assert still_held.status_code == 429


async def test_a_made_up_key_sent_along_to_sign_in_is_not_learned_as_one_that_works(w: World) -> None:
    async with in_front_of(w.app) as client:
        taught = await client.post("/api/v1/auth/sign-in", json={}, headers=bearer("made-up-key"))
        assert taught.status_code == 422  # sign-in never looks at the key
        await use_up_the_address(client)
        held = await client.get("/api/v1/auth/me", headers=bearer("made-up-key"))
    assert held.status_code == 429


async def test_a_made_up_key_refused_for_its_body_before_it_was_looked_at_is_not_learned(w: World) -> None:
    # A body that is not JSON: the service tells the key first (401, counted), never a 422 that would pass
    # for a sign that the key works.
    async with in_front_of(w.app) as client:
        headers = {**bearer("made-up-key"), "Content-Type": "application/json"}
        taught = await client.post("/api/v1/staff", content=b"{", headers=headers)
        rest = [
            (await client.get("/api/v1/auth/me", headers=bearer(f"made-up-{n}"))).status_code
            for n in range(BURST)
        ]
        held = await client.get("/api/v1/auth/me", headers=bearer("made-up-key"))
    assert taught.status_code == 401 and rest == [401] * (BURST - 1) + [429]
    assert held.status_code == 429


async def test_a_header_on_sign_in_does_not_take_it_out_of_the_address_rate_limit(w: World) -> None:
    limits: dict[str, Any] = dict(rate_per_second=0.01, rate_burst=3)
    gw = build_app(settings(**limits), transport=httpx.ASGITransport(app=w.app))
    async with gw.router.lifespan_context(gw):
        transport = httpx.ASGITransport(app=gw, client=("10.0.0.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            codes = [
                (await client.post("/api/v1/auth/sign-in", json={}, headers=bearer(f"junk-{n}"))).status_code
                for n in range(5)
            ]
    assert codes == [422, 422, 422, 429, 429]


async def test_a_handed_out_token_is_relayed_byte_for_byte() -> None:
    raw = b'{ "access_token" : "acc-\\u00e9",\n  "expires_in":900 }'

    def sign_in(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=raw, headers={"content-type": "application/json"})

    async with gateway(sign_in) as client:
        answer = await client.post("/api/v1/auth/sign-in", json={})
    assert answer.status_code == 200 and answer.content == raw


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "token"),
    [
        ("POST", "/api/v1/auth/sign-in", 200, b'{"access_token": "a"}', "a"),
        ("POST", "/api/v1/auth/refresh", 200, b'{"access_token": "b", "refresh_token": "r"}', "b"),
        ("POST", "/api/v1/auth/tokens", 201, b'{"token": "p"}', "p"),
        ("POST", "/api/v1/auth/tokens", 200, b'{"token": "p"}', None),  # not the answer that issues
        ("POST", "/api/v1/auth/sign-in", 401, b'{"access_token": "a"}', None),
        ("GET", "/api/v1/auth/me", 200, b'{"access_token": "a"}', None),  # only those routes are read
        ("POST", "/api/v1/auth/sign-in", 200, b"not json", None),
        ("POST", "/api/v1/auth/sign-in", 200, b"[1]", None),
        ("POST", "/api/v1/auth/sign-in", 200, b'{"access_token": 7}', None),
        ("POST", "/api/v1/auth/sign-in", 200, b'{"access_token": ""}', None),
    ],
)
def test_only_the_answers_that_hand_out_a_token_teach_it(
    method: str, path: str, status: int, body: bytes, token: str | None
) -> None:
    assert issued_token(method, path, status, body) == token


@pytest.mark.parametrize(
    ("status", "challenges", "authorization", "refused"),
    [
        (401, [INVALID_TOKEN], b"Bearer k", True),
        (401, ['bearer realm="api", error=invalid_token'], b"Bearer k", True),
        (401, ["Bearer"], b"Bearer k", False),  # a password or refresh token in the body was refused
        (401, [], b"Bearer k", False),
        (401, [], b"Basic dXNlcjpwdw==", True),  # not a bearer token: it can never be a key that works
        (401, ["Bearer"], b"Bearer", True),
        (403, [INVALID_TOKEN], b"Bearer k", False),
    ],
)
def test_only_a_401_refusing_the_requests_own_key_counts(
    status: int, challenges: list[str], authorization: bytes, refused: bool
) -> None:
    assert refuses_credentials(status, challenges, authorization) is refused


@pytest.mark.parametrize("before_the_key", [422, 404])
async def test_an_answer_given_before_the_key_was_checked_does_not_teach_the_key(before_the_key: int) -> None:
    def services(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":  # a body refused, or a path not routed, before the key was looked at
            return httpx.Response(before_the_key, json={"detail": "refused before the key"})
        return httpx.Response(
            401, json={"detail": "unknown key"}, headers={"WWW-Authenticate": INVALID_TOKEN}
        )

    async with gateway(services, refused_credentials_per_second=0.01, refused_credentials_burst=2) as client:
        taught = await client.post("/api/v1/staff", content=b"{", headers=bearer("made-up-key"))
        spent = [(await client.get("/api/v1/auth/me", headers=bearer(f"k{n}"))).status_code for n in range(2)]
        held = await client.get("/api/v1/auth/me", headers=bearer("made-up-key"))

    assert taught.status_code == before_the_key and spent == [401, 401]
    assert held.status_code == 429  # learned from that answer, it would have been let through
