"""Sign-in, refresh and sign-out of people; lockout with back-off after repeated failures (see attempts.py).

A sign-in answers a short-lived access token (the bearer of every request) and a refresh token that buys the
next pair once. Sign-out revokes the session's tokens, and since no service caches a person's token, the very
next request with them answers 401."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.auth import totp
from shared.auth.accounts import Accounts, needs_second_factor
from shared.auth.attempts import AttemptsLocked
from shared.auth.passwords import Passwords
from shared.auth.tokens import Issued, Kind, TokenStore, aware

ACCESS_LIFETIME = timedelta(minutes=15)
REFRESH_LIFETIME = timedelta(hours=12)
# One answer for a wrong username, password or code and for a missing code, whether the password was right
# or not: an answer that differed would tell a guesser the password before the second factor.
WRONG = (
    "用户名、密码或动态码错误（领导岗位须同时填写动态码） "
    "/ wrong username, password or code; leadership posts also send their TOTP code"
)
NEEDS_CODE = "领导岗位须使用动态码重新登录 / leadership posts sign in with a TOTP code: sign in again"
CHANGED = "账号刚被停用或变更，请重新登录 / the account was disabled or changed meanwhile: sign in again"


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

    async def sign_in(
        self, bureau: str, username: str, password: str, code: str | None, address: str = ""
    ) -> SessionTokens:
        """Check the password (and the TOTP code when the account needs one) and open a session.

        `address` is the client's address: failures are counted per address and per username."""
        account = await self._accounts.by_username(bureau, username)
        step = await self._check(bureau, username, account, password, code, address)
        assert account is not None  # _check refuses an unknown username
        if self._passwords.needs_rehash(account["password_hash"]):
            await self._accounts.rehash(account, password)
        await self._accounts.note_success(account)
        return await self._open(account, secrets.token_hex(16), second_factor=step is not None, new=True)

    async def confirm(self, account: dict[str, Any], password: str, code: str | None, address: str) -> None:
        """Check a signed-in person's password (and current code once enrolled) under the sign-in lockout."""
        await self._check(account["bureau"], account["username"], account, password, code, address, True)

    async def _check(
        self,
        bureau: str,
        username: str,
        account: dict[str, Any] | None,
        password: str,
        code: str | None,
        address: str,
        enrolling: bool = False,
    ) -> int | None:
        """Count the attempt first, then check; return the TOTP step used. A refusal stays counted."""
        try:
            reservation = await self._accounts.attempts.reserve(bureau, username, address, account)
        except AttemptsLocked as locked:
            wait = locked.wait_s
            raise SignInRefused(
                429, f"失败次数过多，暂时锁定 / too many failed sign-ins: locked for {wait} s", wait
            ) from None
        # Always checked, so an unknown username or a missing code costs as long as a wrong password.
        right = await self._passwords.verify_off_loop(account["password_hash"] if account else None, password)
        # A disabled (or departed) account answers as a wrong password, before the second factor: telling it
        # apart would confirm a right password (and show the reason) to anyone. It stays counted as a failure.
        if account is None or not right or account.get("disabled"):
            raise SignInRefused(401, WRONG)
        step = await self._second_factor(account, code, self._clock(), enrolling)
        await self._accounts.attempts.succeeded(reservation)
        return step

    async def _second_factor(
        self, account: dict[str, Any], code: str | None, now: datetime, enrolling: bool
    ) -> int | None:
        secret = account.get("totp_secret")
        if secret is None:
            if needs_second_factor(account["post"]) and not enrolling:
                raise SignInRefused(
                    401,
                    "领导岗位须使用动态码，请管理员为您开通 / leadership posts sign in with a TOTP code: "
                    "ask the bureau admin to enrol you",
                )
            return None
        step = totp.accepted_step(secret, code, now, account.get("totp_step"))
        # Accepted once: of concurrent attempts with one code, only the one whose write lands is let in.
        if step is None or not await self._accounts.accept_totp_step(account, step):
            raise SignInRefused(401, WRONG)
        return step

    async def refresh(self, refresh_token: str) -> SessionTokens:
        """Exchange a refresh token (once) for a new pair; a reused one ends its whole session."""
        doc = await self._tokens.find_any(refresh_token)
        if doc is None or doc["kind"] != "refresh":
            raise SignInRefused(401, "未知的刷新令牌 / unknown refresh token")
        if doc.get("revoked"):
            # Used before (or signed out): someone holds a copy. End the session for both holders.
            await self._tokens.revoke_session(doc["session_id"])
            raise SignInRefused(401, "刷新令牌已使用或已撤销 / refresh token already used or revoked")
        if (aware(doc.get("expires_at")) or self._clock()) <= self._clock():
            raise SignInRefused(401, "刷新令牌已过期，请重新登录 / refresh token expired: sign in again")
        account = await self._accounts.get(doc["bureau"], doc["staff_id"])
        if account is None or account.get("disabled"):
            raise SignInRefused(401, "账号已停用 / account disabled")
        if needs_second_factor(account["post"]) and not doc.get("second_factor"):
            # Promoted to leadership since this session opened without a code: it may not go on.
            await self._tokens.revoke_session(doc["session_id"])
            raise SignInRefused(401, NEEDS_CODE)
        if not await self._tokens.revoke_one(doc["_id"]):  # two refreshes raced: one wins
            await self._tokens.revoke_session(doc["session_id"])
            raise SignInRefused(401, "刷新令牌已使用或已撤销 / refresh token already used or revoked")
        return await self._open(account, doc["session_id"], second_factor=bool(doc.get("second_factor")))

    async def sign_out(self, access_token: str) -> bool:
        """Revoke every token of the access token's session; False when it is not a live session token."""
        doc = await self._tokens.find(access_token)
        if doc is None or doc["kind"] != "access":
            return False
        await self._tokens.revoke_session(doc["session_id"])
        return True

    async def _open(
        self, account: dict[str, Any], session_id: str, *, second_factor: bool, new: bool = False
    ) -> SessionTokens:
        """Issue the session's pair, then check the fences; on a moved fence revoke the pair and refuse.

        `account` is the document read before the password check or refresh: a departure, disable, password
        reset or post change since then moved its stamp (Accounts.still_current), and a sign-out or reused
        refresh token since then marked the session record (TokenStore.keep_session). Both revocations mark
        their fence before the tokens, and both checks run after the insert, so a revocation either sees the
        new pair or is seen here: no token outlives it."""
        expires_at = self._clock() + self._refresh_lifetime
        if new:
            await self._tokens.open_session(session_id, account, second_factor, expires_at)
        kinds = ((Kind.ACCESS, self._access_lifetime), (Kind.REFRESH, self._refresh_lifetime))
        access, refresh = [
            await self._tokens.issue(
                kind, account, lifetime=lifetime, session_id=session_id, second_factor=second_factor
            )
            for kind, lifetime in kinds
        ]
        if not await self._accounts.still_current(account):
            await self._tokens.revoke_issued(access, refresh)
            raise SignInRefused(401, CHANGED)
        if not await self._tokens.keep_session(session_id, refresh.expires_at):
            await self._tokens.revoke_issued(access, refresh)
            raise SignInRefused(401, "会话已结束，请重新登录 / the session ended: sign in again")
        return SessionTokens(access, refresh, session_id, account, self._access_lifetime)
