"""Personal tokens at their cap, and the races through HTTP as the outside trials saw them (in memory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.assignment.entrypoints import accounts_http
from shared.auth.accounts import RosterPerson
from shared.auth.passwords import Passwords
from shared.auth.personal import PERSONAL_CAP, TokenRefused, create_personal
from shared.auth.tokens import Issued
from tests.unit.session_races_support import (
    Gate,
    People,
    refused,
    with_clerk_and_director,
)
from tests.unit.test_assignment_support import auth
from tests.unit.test_auth_support import PASSWORD, World, bearer, world


@pytest.fixture
async def people() -> People:
    return await with_clerk_and_director()


# 4. At most PERSONAL_CAP live personal tokens per person.


async def test_personal_tokens_stop_at_the_cap_with_a_bilingual_reason_and_a_deleted_one_frees_a_place(
    people: People,
) -> None:
    session = await people.sign_in("zhao")
    made = [await people.personal(session, f"脚本{i}") for i in range(PERSONAL_CAP)]

    with pytest.raises(TokenRefused) as full:
        await people.personal(session)
    assert await people.tokens.revoke_personal("finance:s-clerk", made[0].token_id)
    again = await people.personal(session)

    assert full.value.status == 409 and "删除" in str(full.value) and "delete one" in str(full.value)
    assert again.token.startswith("czp_")


async def test_expired_personal_tokens_do_not_count_toward_the_cap(people: People) -> None:
    session = await people.sign_in("zhao")
    for i in range(PERSONAL_CAP):
        await create_personal(
            people.accounts, people.tokens, session.access.token, f"x{i}", timedelta(days=1)
        )
    people.now += timedelta(days=1, minutes=1)
    session = await people.sign_in("zhao")

    assert (await people.personal(session)).token.startswith("czp_")


async def test_two_creations_racing_at_the_cap_never_leave_more_than_the_cap(people: People) -> None:
    session = await people.sign_in("zhao")
    for i in range(PERSONAL_CAP - 1):
        await people.personal(session, f"脚本{i}")
    counted, inserted = people.tokens.count_gate, people.tokens.gate
    counted.armed = inserted.armed = True
    # Both count 19 and both insert before either counts again: the check before the insert alone would
    # leave 21 live tokens.
    racing = [asyncio.ensure_future(people.personal(session, name)) for name in ("甲", "乙")]
    await asyncio.sleep(0.01)
    counted.opened.set()
    await asyncio.sleep(0.01)
    inserted.opened.set()
    await asyncio.wait(racing, timeout=5)

    assert await people.tokens.live_personal("finance:s-clerk") <= PERSONAL_CAP
    assert any(t.exception() is not None and refused(t).status == 409 for t in racing)


async def test_two_creations_racing_at_nineteen_leave_exactly_the_cap(people: People) -> None:
    session = await people.sign_in("zhao")
    for i in range(PERSONAL_CAP - 1):
        await people.personal(session, f"脚本{i}")
    counted, inserted = people.tokens.count_gate, people.tokens.gate
    counted.armed = inserted.armed = True

    def racer(name: str, pause_s: float) -> Awaitable[Issued]:
        pause = lambda: asyncio.sleep(pause_s)  # noqa: E731
        return create_personal(people.accounts, people.tokens, session.access.token, name, None, pause=pause)

    # Both count 19, both insert, both count 21 and step back; the one whose pause ends first takes the place.
    racing = [asyncio.ensure_future(racer("甲", 0)), asyncio.ensure_future(racer("乙", 0.02))]
    await asyncio.sleep(0.01)
    counted.opened.set()
    await asyncio.sleep(0.01)
    people.tokens.count_gate = recounted = Gate()
    recounted.armed = True
    inserted.opened.set()
    await asyncio.sleep(0.01)
    recounted.opened.set()
    await asyncio.wait(racing, timeout=5)

    first, second = racing
    assert first.exception() is None and refused(second).status == 409
    assert await people.tokens.live_personal("finance:s-clerk") == PERSONAL_CAP
    assert [d["label"] for d in people.live("finance:s-clerk") if d["kind"] == "personal"][-1] == "甲"


# Through HTTP: the answers the outside trial saw.


@pytest.fixture
async def w() -> AsyncIterator[World]:
    the_world = world()
    yield the_world
    await the_world.http.aclose()


async def test_http_a_promoted_clerks_personal_token_and_refresh_answer_401(w: World) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    signed_in = (await w.sign_in("zhao")).json()
    personal = await w.http.post(
        "/api/v1/auth/tokens", json={"name": "脚本"}, headers=bearer(signed_in["access_token"])
    )

    promoted = await w.http.patch(
        f"/api/v1/staff/{clerk}", json={"post": "director"}, headers=auth("finance-admin")
    )

    assert promoted.status_code == 200, promoted.text
    me = await w.http.get("/api/v1/auth/me", headers=bearer(personal.json()["token"]))
    refreshed = await w.http.post("/api/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert me.status_code == 401 and refreshed.status_code == 401
    again = await w.sign_in("zhao")  # no secret yet: told to ask for enrolment
    assert again.status_code == 401 and "TOTP" in again.json()["detail"]


async def test_http_the_token_past_the_cap_answers_409_with_the_reason(w: World) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    session = await w.token("zhao")
    for i in range(PERSONAL_CAP):
        made = await w.http.post("/api/v1/auth/tokens", json={"name": f"脚本{i}"}, headers=bearer(session))
        assert made.status_code == 201, made.text

    full = await w.http.post("/api/v1/auth/tokens", json={"name": "再一个"}, headers=bearer(session))

    assert full.status_code == 409 and f"{PERSONAL_CAP}" in full.json()["detail"]
    assert len((await w.http.get("/api/v1/auth/tokens", headers=bearer(session))).json()) == PERSONAL_CAP


async def departure_while_held(
    w: World, gate: Gate, request: Awaitable[httpx.Response], clerk: str, reason: str
) -> tuple[httpx.Response, httpx.Response]:
    """Send `request`, record the clerk's departure while it waits at `gate`, let it go; return both answers."""
    gate.armed = True
    held = asyncio.ensure_future(request)
    await asyncio.wait_for(gate.reached.wait(), 5)
    gate.armed = False
    departure = {"reason": reason}
    departed = await w.http.post(
        f"/api/v1/staff/{clerk}/departure", json=departure, headers=auth("finance-admin")
    )
    gate.opened.set()
    return await asyncio.wait_for(held, 5), departed


async def test_http_a_departure_during_an_enable_leaves_the_person_disabled(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    admin = auth("finance-admin")
    disabled = await w.http.post(
        f"/api/v1/accounts/{clerk}/disable", json={"reason": "调查中"}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    gate, read_roster = Gate(), accounts_http.roster_person

    async def held_roster_person(*args: Any) -> RosterPerson:
        person = await read_roster(*args)
        await gate.stop()  # the enable has read the roster (not departed yet) and waits here
        return person

    monkeypatch.setattr(accounts_http, "roster_person", held_roster_person)
    enabling = w.http.post(f"/api/v1/accounts/{clerk}/enable", headers=admin)
    enabled, departed = await departure_while_held(w, gate, enabling, clerk, "调离")

    assert departed.status_code == 201, departed.text
    assert enabled.status_code == 409 and "read it again" in enabled.text, enabled.text
    await the_account_ended_disabled(w, admin)


async def test_http_a_departure_during_an_account_creation_answers_409_and_leaves_it_disabled(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    clerk = await w.staff("赵经办", "clerk")
    admin = auth("finance-admin")
    passwords: Passwords = w.app.state.accounts._passwords
    gate, hash_off_loop = Gate(), passwords.hash_off_loop

    async def held_hash(password: str) -> str:
        await gate.stop()  # the create has checked the roster (not departed yet) and hashes the password
        return await hash_off_loop(password)

    monkeypatch.setattr(passwords, "hash_off_loop", held_hash)
    body = {"staff_id": clerk, "username": "zhao", "password": PASSWORD}
    creating = w.http.post("/api/v1/accounts", json=body, headers=admin)
    created, departed = await departure_while_held(w, gate, creating, clerk, "离职")

    assert departed.status_code == 201, departed.text
    assert created.status_code == 409 and "has left the bureau" in created.text, created.text
    await the_account_ended_disabled(w, admin)


async def the_account_ended_disabled(w: World, admin: dict[str, str]) -> None:
    """The bureau's one account is disabled and its password opens nothing."""
    [card] = (await w.http.get("/api/v1/accounts", headers=admin)).json()
    assert card["disabled"] is True
    assert (await w.sign_in("zhao")).status_code == 401
