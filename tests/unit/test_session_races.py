"""Revocations that land while tokens are being issued (in memory, interleavings set by hand).

Each test holds an issuer at a chosen point (inside the password check, or just after a token is inserted),
lets a departure, disable, post change, sign-out or reused refresh token run to its end, then lets the issuer
go on: whatever the order, no token may outlive the revocation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher

from services.assignment.entrypoints import accounts_http
from shared.auth import totp
from shared.auth.accounts import AccountRefused, Accounts, RosterPerson
from shared.auth.keys import Role
from shared.auth.memory import MemoryDatabase
from shared.auth.passwords import Passwords
from shared.auth.personal import PERSONAL_CAP, TokenRefused, create_personal
from shared.auth.sessions import Sessions, SessionTokens, SignInRefused
from shared.auth.tokens import Issued, Kind, TokenStore
from tests.unit.test_assignment_support import auth
from tests.unit.test_auth_support import PASSWORD, World, bearer, world

CLERK = RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科")
DIRECTOR = RosterPerson("finance", "s-director", "周局长", "director", "局办")
T = TypeVar("T")


class Gate:
    """A point an issuer stops at until the test opens it (closed: the issuer waits)."""

    def __init__(self) -> None:
        self.armed, self.reached, self.opened = False, asyncio.Event(), asyncio.Event()

    async def stop(self) -> None:
        if self.armed:
            self.reached.set()
            await self.opened.wait()


class HeldPasswords(Passwords):
    """Passwords whose check waits at a gate: the ~0.4 s of argon2 during which the world moves on."""

    def __init__(self) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        self.gate, self.hash_gate = Gate(), Gate()

    async def hash_off_loop(self, password: str) -> str:
        await self.hash_gate.stop()
        return await super().hash_off_loop(password)

    async def verify_off_loop(self, stored: str | None, password: str) -> bool:
        await self.gate.stop()
        return await super().verify_off_loop(stored, password)


class HeldTokens(TokenStore):
    """A token store whose issue waits at a gate just after the insert, before the issuer's fences."""

    def __init__(self, db: Any, clock: Any) -> None:
        super().__init__(db, clock)
        self.gate, self.kinds = Gate(), {Kind.REFRESH, Kind.PERSONAL}  # the last insert of each issuer
        self.count_gate = Gate()  # just after counting a person's live personal tokens

    async def issue(self, kind: Kind, person: dict[str, Any], **options: Any) -> Issued:
        issued = await super().issue(kind, person, **options)
        if kind in self.kinds:
            await self.gate.stop()
        return issued

    async def live_personal(self, account_id: str) -> int:
        count = await super().live_personal(account_id)
        await self.count_gate.stop()
        return count


class People:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
        self.db, self.passwords = MemoryDatabase(), HeldPasswords()
        self.tokens = HeldTokens(self.db, lambda: self.now)
        self.accounts = Accounts(self.db, self.passwords, self.tokens, lambda: self.now)
        self.sessions = Sessions(self.accounts, self.tokens, self.passwords, lambda: self.now)
        self.secrets: dict[str, str] = {}

    async def sign_in(self, username: str) -> SessionTokens:
        secret = self.secrets.get(username)
        code = totp.code_at(secret, self.now) if secret else None
        return await self.sessions.sign_in("finance", username, PASSWORD, code)

    async def personal(self, session: SessionTokens, name: str = "脚本") -> Issued:
        return await create_personal(self.accounts, self.tokens, session.access.token, name, None)

    async def held(self, gate: Gate, issuer: Awaitable[T], meanwhile: Awaitable[Any]) -> asyncio.Task[T]:
        """Start the issuer, wait until it reaches the gate, run `meanwhile` to its end, open the gate."""
        gate.armed = True
        task: asyncio.Task[T] = asyncio.ensure_future(issuer)
        await asyncio.wait_for(gate.reached.wait(), 5)
        await meanwhile
        gate.opened.set()
        await asyncio.wait([task], timeout=5)
        return task

    def live(self, account_id: str) -> list[dict[str, Any]]:
        """The account's tokens that still authenticate as far as revocation goes."""
        docs = self.db["auth_tokens"].docs.values()
        return [
            d
            for d in docs
            if d.get("account_id") == account_id and d["kind"] != "session" and not d["revoked"]
        ]


@pytest.fixture
async def people() -> People:
    p = People()
    await p.accounts.create(CLERK, "zhao", PASSWORD, Role.STAFF, "test")
    director = await p.accounts.create(DIRECTOR, "zhou", PASSWORD, Role.STAFF, "test")
    p.secrets["zhou"] = director.totp_secret or ""
    return p


def refused(task: asyncio.Task[Any]) -> SignInRefused | TokenRefused:
    error = task.exception()
    assert isinstance(error, SignInRefused | TokenRefused), f"expected a refusal, got {task!r}"
    return error


# 1. A departure, disable or demotion while the person signs in.


async def test_a_departure_during_the_password_check_leaves_no_working_token(people: People) -> None:
    departed = RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科", departed=True)

    task = await people.held(
        people.passwords.gate, people.sign_in("zhao"), people.accounts.follow_roster(departed)
    )

    assert refused(task).status == 401
    assert people.live("finance:s-clerk") == []


async def test_a_disable_after_the_tokens_are_inserted_still_takes_them(people: People) -> None:
    task = await people.held(
        people.tokens.gate, people.sign_in("zhao"), people.accounts.disable("finance", "s-clerk", "调查中")
    )

    assert refused(task).status == 401
    assert people.live("finance:s-clerk") == []


async def test_a_demotion_during_a_directors_sign_in_gives_no_token_with_the_old_post(people: People) -> None:
    demoted = RosterPerson("finance", "s-director", "周局长", "clerk", "局办")

    task = await people.held(
        people.passwords.gate, people.sign_in("zhou"), people.accounts.follow_roster(demoted)
    )

    assert "changed" in str(refused(task))
    assert [d["post"] for d in people.live("finance:s-director")] == []


async def test_a_post_change_that_lands_after_the_fence_reaches_the_new_tokens(people: People) -> None:
    session = await people.sign_in("zhao")  # the issuer finished first: the change's update reaches its pair
    await people.accounts.follow_roster(
        RosterPerson("finance", "s-clerk", "赵经办", "section_chief", "预算科")
    )

    principal = await people.tokens.authenticate(session.access.token)
    assert principal is not None and principal.post == "section_chief"


async def test_a_disable_while_a_personal_token_is_made_takes_it_too(people: People) -> None:
    session = await people.sign_in("zhao")

    task = await people.held(
        people.tokens.gate, people.personal(session), people.accounts.disable("finance", "s-clerk", "调查中")
    )

    assert refused(task).status == 401
    assert people.live("finance:s-clerk") == []


async def test_a_sign_out_while_a_personal_token_is_made_takes_it_too(people: People) -> None:
    session = await people.sign_in("zhao")

    task = await people.held(
        people.tokens.gate, people.personal(session), people.sessions.sign_out(session.access.token)
    )

    assert refused(task).status == 401 and "session ended" in str(refused(task))
    assert people.live("finance:s-clerk") == []


async def test_enable_refuses_when_a_departure_moved_the_stamp_since_the_account_was_read(
    people: People,
) -> None:
    await people.accounts.disable("finance", "s-clerk", "调查中")
    seen = await people.accounts.get("finance", "s-clerk")  # the enable's read, before the roster's
    await people.accounts.follow_roster(  # the departure the roster read missed lands now
        RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科", departed=True)
    )

    with pytest.raises(AccountRefused) as changed:
        await people.accounts.enable("finance", "s-clerk", CLERK, seen)

    assert changed.value.status == 409 and "账号刚被变更" in str(changed.value)
    assert "read it again" in str(changed.value)
    after = await people.accounts.get("finance", "s-clerk") or {}
    assert (after["disabled"], after["disabled_reason"]) == (True, "离开本局 (left the bureau)")


async def test_enable_with_an_unmoved_stamp_enables(people: People) -> None:
    await people.accounts.disable("finance", "s-clerk", "调查中")
    seen = await people.accounts.get("finance", "s-clerk")

    enabled = await people.accounts.enable("finance", "s-clerk", CLERK, seen)

    assert enabled["disabled"] is False
    assert (await people.accounts.get("finance", "s-clerk") or {})["disabled"] is False
    assert (await people.sign_in("zhao")).access.token.startswith("czs_")


async def test_a_departure_during_the_creates_password_hash_leaves_no_enabled_account(people: People) -> None:
    cashier = RosterPerson("finance", "s-cashier", "钱出纳", "clerk", "国库科")
    roster = {"now": cashier}

    async def read_roster() -> RosterPerson:
        return roster["now"]

    async def departure() -> None:  # roster written, then its follow_roster: no account exists yet
        roster["now"] = RosterPerson("finance", "s-cashier", "钱出纳", "clerk", "国库科", departed=True)
        assert await people.accounts.follow_roster(roster["now"]) is False

    task = await people.held(
        people.passwords.hash_gate,
        people.accounts.create(cashier, "qian", PASSWORD, Role.STAFF, "test", roster=read_roster),
        departure(),
    )

    error = task.exception()
    assert isinstance(error, AccountRefused) and error.status == 409, task
    assert "已离开本局 (has left the bureau)" in str(error)
    account = await people.accounts.get("finance", "s-cashier") or {}
    assert (account["disabled"], account["disabled_reason"]) == (True, "离开本局 (left the bureau)")
    with pytest.raises(SignInRefused):
        await people.sign_in("qian")


async def test_a_promotion_during_the_creates_password_hash_gives_the_new_post_and_a_totp_secret(
    people: People,
) -> None:
    cashier = RosterPerson("finance", "s-cashier", "钱出纳", "clerk", "国库科")
    promoted = RosterPerson("finance", "s-cashier", "钱出纳", "director", "局办")

    async def read_roster() -> RosterPerson:
        return promoted

    task = await people.held(
        people.passwords.hash_gate,
        people.accounts.create(cashier, "qian", PASSWORD, Role.STAFF, "test", roster=read_roster),
        people.accounts.follow_roster(promoted),  # finds no account yet
    )

    created = task.result()
    assert (created.account["post"], created.account["section"]) == ("director", "局办")
    assert created.totp_secret and created.totp_uri and created.password is None
    account = await people.accounts.get("finance", "s-cashier") or {}
    assert (account["post"], account["totp_secret"], account["disabled"]) == (
        "director",
        created.totp_secret,
        False,
    )


# 2. Leadership rights only for sessions opened with a TOTP code.


async def test_a_clerk_promoted_to_director_loses_the_session_and_personal_tokens_without_totp(
    people: People,
) -> None:
    session = await people.sign_in("zhao")
    personal = await people.personal(session)

    await people.accounts.follow_roster(RosterPerson("finance", "s-clerk", "赵经办", "director", "局办"))

    assert await people.tokens.authenticate(personal.token) is None
    assert await people.tokens.authenticate(session.access.token) is None
    assert await people.tokens.personal("finance:s-clerk") == []  # revoked, not only refused
    with pytest.raises(SignInRefused) as refresh:
        await people.sessions.refresh(session.refresh.token)
    assert refresh.value.status == 401  # revoked with the session


async def test_a_token_carrying_a_leadership_post_without_a_second_factor_never_authenticates(
    people: People,
) -> None:
    session = await people.sign_in("zhao")
    # Even if a promotion's revocation missed it, the post the token carries decides.
    for doc in people.db["auth_tokens"].docs.values():
        doc["post"] = "director"

    assert await people.tokens.authenticate(session.access.token) is None


async def test_refresh_and_personal_tokens_refuse_a_leadership_post_reached_without_a_code(
    people: People,
) -> None:
    session = await people.sign_in("zhao")
    # The promotion lands between the refresh's token read and its account read: the account decides.
    await people.db["accounts"].update_one({"_id": "finance:s-clerk"}, {"$set": {"post": "director"}})

    with pytest.raises(TokenRefused) as personal:
        await create_personal(people.accounts, people.tokens, session.access.token, "脚本", None)
    with pytest.raises(SignInRefused) as refreshed:
        await people.sessions.refresh(session.refresh.token)

    assert personal.value.status == refreshed.value.status == 401
    assert "TOTP" in str(refreshed.value)


async def test_a_person_signed_in_with_totp_keeps_the_session_through_a_promotion(people: People) -> None:
    enrolled = await people.accounts.enrol_totp("finance", "s-clerk")
    people.secrets["zhao"] = enrolled.totp_secret or ""
    session = await people.sign_in("zhao")
    personal = await people.personal(session)

    await people.accounts.follow_roster(RosterPerson("finance", "s-clerk", "赵经办", "director", "局办"))

    principal = await people.tokens.authenticate(personal.token)
    assert principal is not None and principal.post == "director"
    assert (await people.sessions.refresh(session.refresh.token)).account["post"] == "director"


# 3. Reused refresh tokens and sign-out against a concurrent refresh.


async def test_a_reused_refresh_token_during_the_winners_refresh_ends_the_whole_session(
    people: People,
) -> None:
    first = await people.sign_in("zhao")

    winner = await people.held(
        people.tokens.gate,
        people.sessions.refresh(first.refresh.token),
        _refused_anyway(people.sessions.refresh(first.refresh.token)),
    )

    assert refused(winner).status == 401
    assert people.live("finance:s-clerk") == []


async def test_a_sign_out_during_a_refresh_leaves_no_token_of_the_session(people: People) -> None:
    first = await people.sign_in("zhao")

    task = await people.held(
        people.tokens.gate,
        people.sessions.refresh(first.refresh.token),
        people.sessions.sign_out(first.access.token),
    )

    assert "session ended" in str(refused(task))
    assert people.live("finance:s-clerk") == []


async def test_a_sign_out_after_the_refresh_finished_revokes_the_new_pair(people: People) -> None:
    first = await people.sign_in("zhao")
    second = await people.sessions.refresh(first.refresh.token)

    assert await people.sessions.sign_out(second.access.token)

    assert people.live("finance:s-clerk") == []
    with pytest.raises(SignInRefused):
        await people.sessions.refresh(second.refresh.token)


async def test_sign_out_ends_only_its_own_session(people: People) -> None:
    phone, desk = await people.sign_in("zhao"), await people.sign_in("zhao")

    await people.sessions.sign_out(phone.access.token)

    assert await people.tokens.authenticate(desk.access.token) is not None
    assert (await people.sessions.refresh(desk.refresh.token)).session_id == desk.session_id


async def _refused_anyway(attempt: Awaitable[Any]) -> None:
    with pytest.raises(SignInRefused):
        await attempt


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
    gate.armed = True
    enabling = asyncio.ensure_future(w.http.post(f"/api/v1/accounts/{clerk}/enable", headers=admin))
    await asyncio.wait_for(gate.reached.wait(), 5)
    gate.armed = False
    departed = await w.http.post(f"/api/v1/staff/{clerk}/departure", json={"reason": "调离"}, headers=admin)
    gate.opened.set()
    enabled = await asyncio.wait_for(enabling, 5)

    assert departed.status_code == 201, departed.text
    assert enabled.status_code == 409 and "read it again" in enabled.text, enabled.text
    [card] = (await w.http.get("/api/v1/accounts", headers=admin)).json()
    assert card["disabled"] is True
    assert (await w.sign_in("zhao")).status_code == 401


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
    gate.armed = True
    body = {"staff_id": clerk, "username": "zhao", "password": PASSWORD}
    creating = asyncio.ensure_future(w.http.post("/api/v1/accounts", json=body, headers=admin))
    await asyncio.wait_for(gate.reached.wait(), 5)
    gate.armed = False
    departed = await w.http.post(f"/api/v1/staff/{clerk}/departure", json={"reason": "离职"}, headers=admin)
    gate.opened.set()
    created = await asyncio.wait_for(creating, 5)

    assert departed.status_code == 201, departed.text
    assert created.status_code == 409 and "has left the bureau" in created.text, created.text
    [card] = (await w.http.get("/api/v1/accounts", headers=admin)).json()
    assert card["disabled"] is True
    assert (await w.sign_in("zhao")).status_code == 401
