"""Failed sign-ins under concurrency: lockout, TOTP once, no oracles, per-address counting, enrolment."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher

from shared.auth import totp
from shared.auth.accounts import AccountRefused, Accounts, RosterPerson
from shared.auth.attempts import (
    ACCOUNT_FREE_ATTEMPTS,
    LONGEST_ACCOUNT_LOCK,
    LONGEST_LOCK,
    SIGN_IN_ATTEMPTS,
    lock_after,
)
from shared.auth.keys import Role
from shared.auth.memory import MemoryCollection, MemoryDatabase
from shared.auth.passwords import Passwords
from shared.auth.sessions import WRONG, Sessions, SignInRefused
from shared.auth.tokens import TokenStore
from tests.unit.test_assignment_support import auth
from tests.unit.test_auth_support import PASSWORD, bearer, world

CLERK = RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科")
DIRECTOR = RosterPerson("finance", "s-director", "周局长", "director", "局办")
HOME, ELSEWHERE = "10.0.0.1", "203.0.113.9"
WRONG_PASSWORD = "wrong-password-xx"


class CountingPasswords(Passwords):
    """Cheap argon2 whose check yields to the loop (so concurrent sign-ins interleave) and is counted."""

    def __init__(self) -> None:
        super().__init__(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        self.checks = 0

    async def verify_off_loop(self, stored: str | None, password: str) -> bool:
        self.checks += 1
        for _ in range(5):
            await asyncio.sleep(0)
        return self.verify(stored, password)


class Yielding(MemoryCollection):
    """A collection whose reads and writes yield first, as a database round trip does."""

    async def find_one(self, query: dict[str, Any], *args: Any) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        return await super().find_one(query, *args)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> Any:
        await asyncio.sleep(0)
        return await super().update_one(query, update, upsert)


class People:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
        db = MemoryDatabase()
        db["accounts"] = Yielding((("bureau", "username"), ("bureau", "username_folded")))
        db[SIGN_IN_ATTEMPTS] = Yielding()
        self.db, self.passwords = db, CountingPasswords()
        self.tokens = TokenStore(db, lambda: self.now)
        self.accounts = Accounts(db, self.passwords, self.tokens, lambda: self.now)
        self.sessions = Sessions(self.accounts, self.tokens, self.passwords, lambda: self.now)

    def sign_in(
        self, username: str = "zhao", password: str = PASSWORD, code: str | None = None, address: str = HOME
    ) -> Awaitable[Any]:
        return self.sessions.sign_in("finance", username, password, code, address)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def outcome(attempt: Awaitable[Any]) -> tuple[int, str, int | None]:
    """200, or the refusal's status, reason and Retry-After."""
    try:
        await attempt
    except SignInRefused as refused:
        return refused.status, str(refused), refused.retry_after_s
    return 200, "", None


async def statuses(*attempts: Awaitable[Any]) -> list[int]:
    return [status for status, _, _ in await asyncio.gather(*(outcome(a) for a in attempts))]


@pytest.fixture
async def people() -> People:
    p = People()
    await p.accounts.create(CLERK, "zhao", PASSWORD, Role.STAFF, "test")
    return p


async def test_twelve_concurrent_wrong_passwords_get_five_checks_and_then_the_lock(people: People) -> None:
    answered = await statuses(*(people.sign_in(password=WRONG_PASSWORD) for _ in range(12)))

    assert sorted(answered) == [401] * 5 + [429] * 7
    assert people.passwords.checks == 5  # the lock came before the sixth check, not after the twelfth
    assert (await outcome(people.sign_in()))[0] == 429  # even the right password waits


async def test_after_a_lock_ends_concurrent_guesses_get_one_check_and_a_longer_lock(people: People) -> None:
    for _ in range(5):
        await outcome(people.sign_in(password=WRONG_PASSWORD))
    people.advance(seconds=31)
    checks = people.passwords.checks

    answered = await asyncio.gather(*(outcome(people.sign_in(password=WRONG_PASSWORD)) for _ in range(8)))

    assert sorted(status for status, _, _ in answered) == [401] + [429] * 7
    assert people.passwords.checks == checks + 1
    assert {after for status, _, after in answered if status == 429} == {60}  # doubled, never shortened


async def test_wrong_totp_codes_count_like_wrong_passwords(people: People) -> None:
    secret = (await people.accounts.create(DIRECTOR, "zhou", PASSWORD, Role.STAFF, "test")).totp_secret or ""
    code = totp.code_at(secret, people.now)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert (await outcome(people.sign_in("zhou", code=wrong)))[0] == 401
    assert (await outcome(people.sign_in("zhou", code=code)))[0] == 429


async def test_one_code_is_accepted_once_among_concurrent_sign_ins(people: People) -> None:
    secret = (await people.accounts.create(DIRECTOR, "zhou", PASSWORD, Role.STAFF, "test")).totp_secret or ""
    code = totp.code_at(secret, people.now)

    answered = await statuses(*(people.sign_in("zhou", code=code) for _ in range(4)))

    assert sorted(answered) == [200, 401, 401, 401]


async def test_a_missing_code_answers_alike_whether_the_password_is_right(people: People) -> None:
    await people.accounts.create(DIRECTOR, "zhou", PASSWORD, Role.STAFF, "test")

    right = await outcome(people.sign_in("zhou"))
    wrong = await outcome(people.sign_in("zhou", password=WRONG_PASSWORD))

    assert right == wrong and right[0] == 401 and "TOTP code" in right[1]


async def test_an_unknown_username_answers_exactly_like_an_existing_one(people: People) -> None:
    known = [await outcome(people.sign_in("zhao", WRONG_PASSWORD)) for _ in range(7)]
    unknown = [await outcome(people.sign_in("nobody", WRONG_PASSWORD)) for _ in range(7)]

    assert known == unknown
    assert [status for status, _, _ in known] == [401] * 5 + [429] * 2


async def test_a_disabled_account_answers_like_a_wrong_password_and_the_attempt_counts(
    people: People,
) -> None:
    await people.accounts.disable("finance", "s-clerk", "调查中")
    for _ in range(3):
        await outcome(people.sign_in(password=WRONG_PASSWORD))

    right = await outcome(people.sign_in())
    wrong = await outcome(people.sign_in(password=WRONG_PASSWORD))

    assert right == wrong == (401, WRONG, None)  # neither the password nor the reason is confirmed
    assert (await outcome(people.sign_in()))[0] == 429  # the right password unlocked nothing


async def test_a_disabled_leaders_right_password_answers_alike_without_using_the_code(people: People) -> None:
    secret = (await people.accounts.create(DIRECTOR, "zhou", PASSWORD, Role.STAFF, "test")).totp_secret or ""
    await people.accounts.disable("finance", "s-director", "调查中")
    code = totp.code_at(secret, people.now)

    answered = [
        await outcome(people.sign_in("zhou", password, code)) for password in (PASSWORD, WRONG_PASSWORD)
    ]

    assert answered == [(401, WRONG, None)] * 2
    assert (await people.accounts.get("finance", "s-director") or {})["totp_step"] is None


async def test_one_address_hammering_does_not_lock_the_person_out_of_theirs(people: People) -> None:
    for _ in range(30):
        await outcome(people.sign_in(password=WRONG_PASSWORD, address=ELSEWHERE))

    assert (await outcome(people.sign_in(address=HOME)))[0] == 200
    assert people.passwords.checks <= 6  # five, then locks too long for another within the test


async def test_guessing_from_many_addresses_meets_a_short_account_lock_that_spares_the_persons_address(
    people: People,
) -> None:
    assert (await outcome(people.sign_in(address=HOME)))[0] == 200  # HOME is now known for the account

    spread = [
        await outcome(people.sign_in(password=WRONG_PASSWORD, address=f"198.51.100.{n}")) for n in range(25)
    ]

    assert [status for status, _, _ in spread] == [401] * ACCOUNT_FREE_ATTEMPTS + [429] * 5
    assert max(after or 0 for _, _, after in spread) <= LONGEST_ACCOUNT_LOCK.total_seconds()
    assert (await outcome(people.sign_in(address=HOME)))[0] == 200
    assert (await outcome(people.sign_in(address="192.0.2.50")))[0] == 429  # a new address waits a while


async def test_locks_are_capped_at_minutes() -> None:
    assert max(lock_after(n) or timedelta() for n in range(200)) == LONGEST_LOCK == timedelta(minutes=15)
    longest = max(
        lock_after(n, ACCOUNT_FREE_ATTEMPTS, LONGEST_ACCOUNT_LOCK) or timedelta() for n in range(200)
    )
    assert longest == timedelta(minutes=5)


async def test_an_admin_password_reset_clears_every_address_lock(people: People) -> None:
    assert (await outcome(people.sign_in()))[0] == 200  # the address is remembered before its failures
    for _ in range(6):
        await outcome(people.sign_in(password=WRONG_PASSWORD))
    await people.accounts.reset_password("finance", "s-clerk", PASSWORD + "!")

    assert (await outcome(people.sign_in(password=PASSWORD + "!")))[0] == 200


async def test_usernames_that_differ_only_in_case_are_refused_naming_the_existing_one(people: People) -> None:
    with pytest.raises(AccountRefused) as refused:
        await people.accounts.create(DIRECTOR, "ZHAO", PASSWORD, Role.STAFF, "test")

    assert refused.value.status == 409 and "zhao" in str(refused.value)
    assert (await outcome(people.sign_in("ZHAO")))[0] == 401  # sign-in stays case-sensitive


async def test_http_failures_are_counted_per_address_the_gateway_forwarded() -> None:
    w = world()
    await w.account(await w.staff("赵经办", "clerk"), "zhao")
    body = {"bureau": "finance", "username": "zhao", "password": WRONG_PASSWORD}
    spoofed_then_gateway = [("x-forwarded-for", "192.0.2.1"), ("x-forwarded-for", "198.51.100.7")]

    answers = [
        (await w.http.post("/api/v1/auth/sign-in", json=body, headers=spoofed_then_gateway)).status_code
        for _ in range(6)
    ]
    from_another = await w.http.post(
        "/api/v1/auth/sign-in",
        json=body | {"password": PASSWORD},
        headers={"x-forwarded-for": "192.0.2.1"},  # the address the guesser claimed is not held
    )

    assert answers == [401] * 5 + [429]
    assert from_another.status_code == 200, from_another.text
    await w.http.aclose()


async def test_http_enrolment_is_for_sessions_and_its_password_guesses_count_toward_the_lock() -> None:
    w = world()
    await w.account(await w.staff("赵经办", "clerk"), "zhao")
    session = await w.token("zhao")
    personal = await w.http.post("/api/v1/auth/tokens", json={"name": "脚本"}, headers=bearer(session))
    assert personal.status_code == 201, personal.text

    by_token = await w.http.post(
        "/api/v1/auth/totp", json={"password": PASSWORD}, headers=bearer(personal.json()["token"])
    )
    guesses = [
        (await w.http.post("/api/v1/auth/totp", json={"password": WRONG_PASSWORD}, headers=bearer(session)))
        for _ in range(6)
    ]

    assert by_token.status_code == 403
    assert [g.status_code for g in guesses] == [401] * 5 + [429]
    assert (await w.sign_in("zhao")).status_code == 429  # the same lockout as signing in
    await w.http.aclose()


async def test_http_re_enrolment_needs_a_current_code_once_enrolled() -> None:
    w = world()
    created = await w.account(await w.staff("周局长", "director", "局办"), "zhou")
    secret = created["totp_secret"]
    now = datetime.now(UTC)
    session = await w.token("zhou", totp.code_at(secret, now))

    without = await w.http.post("/api/v1/auth/totp", json={"password": PASSWORD}, headers=bearer(session))
    replayed = await w.http.post(
        "/api/v1/auth/totp",
        json={"password": PASSWORD, "totp": totp.code_at(secret, now)},
        headers=bearer(session),
    )
    later = totp.code_at(secret, now + timedelta(seconds=totp.STEP_S))
    enrolled = await w.http.post(
        "/api/v1/auth/totp", json={"password": PASSWORD, "totp": later}, headers=bearer(session)
    )

    assert (without.status_code, replayed.status_code) == (401, 401)
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.json()["totp_secret"] not in (None, secret)
    await w.http.aclose()


async def test_http_a_departed_persons_sign_in_answers_exactly_like_a_wrong_password() -> None:
    w = world()
    clerk = await w.staff("赵经办", "clerk")
    await w.account(clerk, "zhao")
    departed = await w.http.post(
        f"/api/v1/staff/{clerk}/departure", json={"reason": "调离"}, headers=auth("finance-admin")
    )
    assert departed.status_code == 201, departed.text

    right, wrong = await w.sign_in("zhao"), await w.sign_in("zhao", password=WRONG_PASSWORD)

    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json()) == (401, {"detail": WRONG})
    assert dict(right.headers) == dict(wrong.headers)
    await w.http.aclose()
