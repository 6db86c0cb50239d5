"""Revocations racing token issue on real SecantusDB: the fences' queries ($inc stamp, conditional update of the
session record, `$in` and `$ne` revocations) as the server runs them, held by hand and truly concurrent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth import totp
from shared.auth.accounts import Accounts, RosterPerson
from shared.auth.keys import Role
from shared.auth.personal import PERSONAL_CAP, TokenRefused, create_personal
from shared.auth.sessions import Sessions, SessionTokens, SignInRefused
from shared.auth.tokens import TOKENS
from tests.unit.session_races_support import HeldPasswords, HeldTokens
from tests.unit.test_auth_support import PASSWORD

pytestmark = pytest.mark.integration
CLERK = RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科")
CLERK_ID = "finance:s-clerk"


class People:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db, self.passwords = db, HeldPasswords()
        now = lambda: datetime.now(UTC)  # noqa: E731
        self.tokens = HeldTokens(db, now)
        self.accounts = Accounts(db, self.passwords, self.tokens, now)
        self.sessions = Sessions(self.accounts, self.tokens, self.passwords, now)

    async def sign_in(self, code: str | None = None) -> SessionTokens:
        return await self.sessions.sign_in("finance", "zhao", PASSWORD, code)

    async def live(self) -> list[dict[str, Any]]:
        query = {"account_id": CLERK_ID, "kind": {"$ne": "session"}, "revoked": False}
        return [doc async for doc in self.db[TOKENS].find(query)]


@pytest.fixture
async def people(mongo_db: AsyncDatabase) -> People:
    p = People(mongo_db)
    await p.accounts.create(CLERK, "zhao", PASSWORD, Role.STAFF, "test")
    return p


async def test_a_departure_during_the_password_check_leaves_no_working_token(people: People) -> None:
    gate = people.passwords.gate
    gate.armed = True
    signing_in = asyncio.ensure_future(people.sign_in())
    await asyncio.wait_for(gate.reached.wait(), 10)
    await people.accounts.follow_roster(
        RosterPerson("finance", "s-clerk", "赵经办", "clerk", "国库科", departed=True)
    )
    gate.opened.set()

    with pytest.raises(SignInRefused) as refused:
        await signing_in
    assert refused.value.status == 401
    assert await people.live() == []


async def test_a_sign_out_during_a_refresh_leaves_no_token_of_the_session(people: People) -> None:
    first = await people.sign_in()
    gate = people.tokens.gate
    gate.armed = True
    refreshing = asyncio.ensure_future(people.sessions.refresh(first.refresh.token))
    await asyncio.wait_for(gate.reached.wait(), 10)
    assert await people.sessions.sign_out(first.access.token)
    gate.opened.set()

    with pytest.raises(SignInRefused):
        await refreshing
    assert await people.live() == []


async def test_a_promotion_ends_only_the_sessions_opened_without_a_code(people: People) -> None:
    without = await people.sign_in()
    enrolled = await people.accounts.enrol_totp("finance", "s-clerk")
    with_code = await people.sign_in(totp.code_at(enrolled.totp_secret or "", datetime.now(UTC)))

    await people.accounts.follow_roster(RosterPerson("finance", "s-clerk", "赵经办", "director", "局办"))

    assert await people.tokens.authenticate(without.access.token) is None
    principal = await people.tokens.authenticate(with_code.access.token)
    assert principal is not None and principal.post == "director"
    assert {d["session_id"] for d in await people.live()} == {with_code.session_id}


async def test_concurrent_refreshes_and_sign_outs_never_leave_a_live_token(people: People) -> None:
    for _ in range(6):
        reused = await people.sign_in()
        await asyncio.gather(
            people.sessions.refresh(reused.refresh.token),
            people.sessions.refresh(reused.refresh.token),
            return_exceptions=True,
        )
        signed_out = await people.sign_in()
        await asyncio.gather(
            people.sessions.refresh(signed_out.refresh.token),
            people.sessions.sign_out(signed_out.access.token),
            return_exceptions=True,
        )
        assert await people.live() == []


async def test_concurrent_personal_tokens_never_pass_the_cap(people: People) -> None:
    session = await people.sign_in()
    for i in range(PERSONAL_CAP - 2):
        await create_personal(people.accounts, people.tokens, session.access.token, f"脚本{i}", None)

    answers = await asyncio.gather(
        *(
            create_personal(people.accounts, people.tokens, session.access.token, f"并发{i}", None)
            for i in range(6)
        ),
        return_exceptions=True,
    )

    assert all(not isinstance(a, Exception) or isinstance(a, TokenRefused) for a in answers), answers
    assert await people.tokens.live_personal(CLERK_ID) <= PERSONAL_CAP
