"""The world of the session-race tests: stores whose issuers can be held at a gate, and two people."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher

from shared.auth import totp
from shared.auth.accounts import Accounts, RosterPerson
from shared.auth.keys import Role
from shared.auth.memory import MemoryDatabase
from shared.auth.passwords import Passwords
from shared.auth.personal import TokenRefused, create_personal
from shared.auth.sessions import Sessions, SessionTokens, SignInRefused
from shared.auth.tokens import Issued, Kind, TokenStore
from tests.unit.test_auth_support import PASSWORD

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


async def with_clerk_and_director() -> People:
    """A clerk (zhao) and a director enrolled in TOTP (zhou), with accounts."""
    p = People()
    await p.accounts.create(CLERK, "zhao", PASSWORD, Role.STAFF, "test")
    director = await p.accounts.create(DIRECTOR, "zhou", PASSWORD, Role.STAFF, "test")
    p.secrets["zhou"] = director.totp_secret or ""
    return p


def refused(task: asyncio.Task[Any]) -> SignInRefused | TokenRefused:
    error = task.exception()
    assert isinstance(error, SignInRefused | TokenRefused), f"expected a refusal, got {task!r}"
    return error


async def refused_anyway(attempt: Awaitable[Any]) -> None:
    """Await an attempt that must be refused."""
    with pytest.raises(SignInRefused):
        await attempt
