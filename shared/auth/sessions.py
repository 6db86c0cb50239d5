"""Sign-in, refresh and sign-out of people; lockout with back-off after repeated failures.

A sign-in answers a short-lived access token (the bearer of every request) and a refresh token that buys the
next pair once. Sign-out revokes the session's tokens, and since no service caches a person's token, the very
next request with them answers 401."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.auth import totp
from shared.auth.accounts import Accounts, needs_second_factor
from shared.auth.passwords import Passwords
from shared.auth.tokens import Issued, Kind, TokenStore, aware

ACCESS_LIFETIME = timedelta(minutes=15)
REFRESH_LIFETIME = timedelta(hours=12)
FREE_ATTEMPTS = 5  # failures before the first lock
FIRST_LOCK = timedelta(seconds=30)  # doubled with every further failure
LONGEST_LOCK = timedelta(hours=1)
WRONG = "用户名、密码或动态码错误 (wrong username, password or code)"


class SignInRefused(Exception):
    """Sign-in or refresh refused: `status` (401 or 429), the reason, and for 429 when to retry."""

    def __init__(self, status: int, reason: str, retry_after_s: int | None = None) -> None:
        super().__init__(reason)
        self.status, self.retry_after_s = status, retry_after_s


@dataclass(frozen=True)
class SessionTokens:
    """What a sign-in or refresh answers."""

    access: Issued
    refresh: Issued
    session_id: str
    account: dict[str, Any]
    lifetime: timedelta  # of the access token


def lock_after(failures: int) -> timedelta | None:
    """How long the account is locked after this many failures in a row (None: not locked yet)."""
    if failures < FREE_ATTEMPTS:
        return None
    return min(FIRST_LOCK * 2 ** (failures - FREE_ATTEMPTS), LONGEST_LOCK)


class Sessions:
    """Signs people in and out."""

    def __init__(
        self,
        accounts: Accounts,
        tokens: TokenStore,
        passwords: Passwords,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        access_lifetime: timedelta = ACCESS_LIFETIME,
        refresh_lifetime: timedelta = REFRESH_LIFETIME,
    ) -> None:
        self._accounts, self._tokens, self._passwords, self._clock = accounts, tokens, passwords, clock
        self._access_lifetime, self._refresh_lifetime = access_lifetime, refresh_lifetime

    async def sign_in(self, bureau: str, username: str, password: str, code: str | None) -> SessionTokens:
        """Check the password (and the TOTP code when the account needs one) and open a session."""
        account = await self._accounts.by_username(bureau, username)
        now = self._clock()
        locked_until = aware(account.get("locked_until")) if account else None
        if account is not None and locked_until is not None and locked_until > now:
            wait = math.ceil((locked_until - now).total_seconds())
            raise SignInRefused(
                429, f"失败次数过多，账号暂时锁定 (too many failed sign-ins: locked for {wait} s)", wait
            )
        if not await self._passwords.verify_off_loop(account["password_hash"] if account else None, password):
            await self._fail(account, now)
            raise SignInRefused(401, WRONG)
        assert account is not None  # verify answers False without an account
        if account.get("disabled"):
            raise SignInRefused(401, f"账号已停用 (account disabled: {account.get('disabled_reason')})")
        step = await self._second_factor(account, code, now)
        if self._passwords.needs_rehash(account["password_hash"]):
            await self._accounts.rehash(account, password)
        await self._accounts.note_success(account, step)
        return await self._open(account, secrets.token_hex(16))

    async def _second_factor(self, account: dict[str, Any], code: str | None, now: datetime) -> int | None:
        secret = account.get("totp_secret")
        if secret is None:
            if needs_second_factor(account["post"]):
                raise SignInRefused(
                    401,
                    "领导岗位须使用动态码，请管理员为您开通 (leadership posts sign in with a TOTP code: "
                    "ask the bureau admin to enrol you)",
                )
            return None
        if not code:
            raise SignInRefused(401, "需要动态码 (a TOTP code is required: field totp)")
        step = totp.accepted_step(secret, code, now, account.get("totp_step"))
        if step is None:
            await self._fail(account, now)
            raise SignInRefused(401, WRONG)
        return step

    async def _fail(self, account: dict[str, Any] | None, now: datetime) -> None:
        if account is None:
            return  # nothing to lock: the answer is the same as for a wrong password
        lock = lock_after(account.get("failed_attempts", 0) + 1)
        await self._accounts.note_failure(account, now + lock if lock else None)

    async def refresh(self, refresh_token: str) -> SessionTokens:
        """Exchange a refresh token (once) for a new pair; a reused one ends its whole session."""
        doc = await self._tokens.find_any(refresh_token)
        if doc is None or doc["kind"] != "refresh":
            raise SignInRefused(401, "未知的刷新令牌 (unknown refresh token)")
        if doc.get("revoked"):
            # Used before (or signed out): someone holds a copy. End the session for both holders.
            await self._tokens.revoke_session(doc["session_id"])
            raise SignInRefused(401, "刷新令牌已使用或已撤销 (refresh token already used or revoked)")
        if (aware(doc.get("expires_at")) or self._clock()) <= self._clock():
            raise SignInRefused(401, "刷新令牌已过期，请重新登录 (refresh token expired: sign in again)")
        account = await self._accounts.get(doc["bureau"], doc["staff_id"])
        if account is None or account.get("disabled"):
            raise SignInRefused(401, "账号已停用 (account disabled)")
        if not await self._tokens.revoke_one(doc["_id"]):  # two refreshes raced: one wins
            await self._tokens.revoke_session(doc["session_id"])
            raise SignInRefused(401, "刷新令牌已使用或已撤销 (refresh token already used or revoked)")
        return await self._open(account, doc["session_id"])

    async def sign_out(self, access_token: str) -> bool:
        """Revoke every token of the access token's session; False when it is not a live session token."""
        doc = await self._tokens.find(access_token)
        if doc is None or doc["kind"] != "access":
            return False
        await self._tokens.revoke_session(doc["session_id"])
        return True

    async def _open(self, account: dict[str, Any], session_id: str) -> SessionTokens:
        access = await self._tokens.issue(
            Kind.ACCESS, account, lifetime=self._access_lifetime, session_id=session_id
        )
        refresh = await self._tokens.issue(
            Kind.REFRESH, account, lifetime=self._refresh_lifetime, session_id=session_id
        )
        return SessionTokens(access, refresh, session_id, account, self._access_lifetime)
