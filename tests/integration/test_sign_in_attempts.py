"""Sign-in counting on real SecantusDB: concurrent guesses, one code once, usernames unique by case."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth import totp
from shared.auth.accounts import AccountRefused, Accounts, RosterPerson
from shared.auth.attempts import SIGN_IN_ATTEMPTS, ensure_sign_in_indexes
from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.auth.sessions import Sessions, SignInRefused
from shared.auth.tokens import TokenStore
from shared.devstack.stack import Stack
from tests.unit.test_sign_in_attempts import PASSWORD, CountingPasswords

pytestmark = pytest.mark.integration
CLERK = RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科")
DIRECTOR = RosterPerson("finance", "s-director", "周局长", "director", "局办")


async def status(attempt: Awaitable[Any]) -> int:
    try:
        await attempt
    except SignInRefused as refused:
        return refused.status
    return 200


async def people(db: AsyncDatabase) -> tuple[Accounts, Sessions, CountingPasswords]:
    await ensure_sign_in_indexes(db)
    passwords, tokens = CountingPasswords(), TokenStore(db)
    accounts = Accounts(db, passwords, tokens)
    return accounts, Sessions(accounts, tokens, passwords), passwords


async def test_concurrent_guesses_get_five_checks_and_unknown_usernames_answer_alike(
    mongo_db: AsyncDatabase,
) -> None:
    accounts, sessions, passwords = await people(mongo_db)
    await accounts.create(CLERK, "zhao", PASSWORD, Role.STAFF, "test")

    def guess(username: str) -> Awaitable[Any]:
        return sessions.sign_in("finance", username, "wrong-password-xx", None, "198.51.100.7")

    known = await asyncio.gather(*(status(guess("zhao")) for _ in range(12)))
    unknown = await asyncio.gather(*(status(guess("nobody")) for _ in range(12)))

    assert sorted(known) == sorted(unknown) == [401] * 5 + [429] * 7
    assert passwords.checks == 10
    assert await status(sessions.sign_in("finance", "zhao", PASSWORD, None, "198.51.100.7")) == 429
    assert await status(sessions.sign_in("finance", "zhao", PASSWORD, None, "192.0.2.1")) == 200
    trusted = await mongo_db[SIGN_IN_ATTEMPTS].find_one({"_id": "finance/zhao/192.0.2.1"})
    assert trusted is not None and trusted["trusted_until"] and trusted["expires_at"]
    await accounts.reset_password("finance", "s-clerk", PASSWORD)
    assert await status(sessions.sign_in("finance", "zhao", PASSWORD, None, "198.51.100.7")) == 200


async def test_one_code_is_accepted_once_and_usernames_are_unique_by_case(mongo_db: AsyncDatabase) -> None:
    accounts, sessions, _ = await people(mongo_db)
    secret = (await accounts.create(DIRECTOR, "zhou", PASSWORD, Role.STAFF, "test")).totp_secret or ""
    code = totp.code_at(secret, datetime.now(UTC))

    answered = await asyncio.gather(
        *(status(sessions.sign_in("finance", "zhou", PASSWORD, code, "192.0.2.1")) for _ in range(4))
    )
    made = await asyncio.gather(
        accounts.create(CLERK, "Chief", PASSWORD, Role.STAFF, "test"),
        accounts.create(
            RosterPerson("finance", "s-chief", "钱科长", "section_chief", "国库科"),
            "chief",
            PASSWORD,
            Role.STAFF,
            "test",
        ),
        return_exceptions=True,
    )

    assert sorted(answered) == [200, 401, 401, 401]
    refused = [m for m in made if isinstance(m, AccountRefused)]
    assert len(refused) == 1 and refused[0].status == 409  # the read or, when both read first, the index


async def test_through_the_gateway_failures_are_counted_per_client_address(
    stack: Stack, stack_db: AsyncDatabase
) -> None:
    """Two clients on two loopback addresses (127.0.0.2 guesses, 127.0.0.3 is the person): the gateway counts the
    address it saw; a caller's own X-Forwarded-For changes nothing (no proxy is configured in front of it)."""
    bureau = f"p{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau, Role.ADMIN, "sign-in attempts test")

    def client_at(address: str) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        return httpx.AsyncClient(base_url=stack.config.url("gateway"), timeout=30, transport=transport)

    async with client_at("127.0.0.2") as guesser, client_at("127.0.0.3") as person_at:
        admin = {"Authorization": f"Bearer {key}"}
        person = {"name": "赵经办", "post": "clerk", "section": "国库科"}
        added = await guesser.post("/api/v1/staff", json=person, headers=admin)
        staff_id = added.json()["detail"]["staff_id"]
        account = {"staff_id": staff_id, "username": "zhao", "password": PASSWORD}
        assert (await guesser.post("/api/v1/accounts", json=account, headers=admin)).status_code == 201
        body = {"bureau": bureau, "username": "zhao", "password": "wrong-password-xx"}
        # Claiming the person's address does not move the guesses there.
        claimed = {"X-Forwarded-For": "127.0.0.3"}

        guesses = [
            (await guesser.post("/api/v1/auth/sign-in", json=body, headers=claimed)).status_code
            for _ in range(6)
        ]
        own = await person_at.post("/api/v1/auth/sign-in", json=body | {"password": PASSWORD})

    assert guesses == [401] * 5 + [429]
    assert own.status_code == 200, own.text
