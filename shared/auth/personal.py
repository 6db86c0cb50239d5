"""Personal API tokens (`czp_`) for scripts: made from a signed-in session, at most PERSONAL_CAP live per person.

A personal token acts as the person with their post as it is now, so it is issued behind the same fence as a
session's pair (see Sessions._open): issued first, then the account and the creating session are read again,
and a departure, disable, post change or sign-out that landed meanwhile takes the new token with it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from shared.auth.accounts import Accounts
from shared.auth.tokens import Issued, Kind, TokenStore, needs_second_factor

PERSONAL_CAP = 20  # live personal tokens per person: enough for a person's scripts, bounded for the list
RETRY_PAUSE_S = (0.01, 0.05)  # before the one retry of a creation that met another at the cap
SESSION_ENDED = "会话已结束，请重新登录 / the session ended: sign in again"


class TokenRefused(Exception):
    """A personal token cannot be made: `status` is the HTTP answer and the message says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def _random_pause() -> None:
    await asyncio.sleep(random.uniform(*RETRY_PAUSE_S))  # spreads the retries; no secret


async def create_personal(
    accounts: Accounts,
    tokens: TokenStore,
    bearer: str,
    name: str,
    lifetime: timedelta | None,
    *,
    pause: Callable[[], Awaitable[None]] = _random_pause,
) -> Issued:
    """Issue a personal token for the person of a live session access token (`bearer`)."""
    if not bearer.startswith(Kind.ACCESS.value):
        raise TokenRefused(403, "请先登录再创建个人令牌 / create personal tokens from a signed-in session")
    session = await tokens.find(bearer)
    if session is None or session["kind"] != "access":
        raise TokenRefused(401, SESSION_ENDED)
    account = await accounts.get(session["bureau"], session["staff_id"])
    if account is None or account.get("disabled"):
        raise TokenRefused(401, "账号已停用 / account disabled")
    second_factor = bool(session.get("second_factor"))
    if needs_second_factor(account["post"]) and not second_factor:
        raise TokenRefused(
            401, "领导岗位须使用动态码重新登录 / leadership posts sign in with a TOTP code: sign in again"
        )
    for attempt in range(2):
        if await tokens.live_personal(account["_id"]) >= PERSONAL_CAP:
            raise _full()
        issued = await tokens.issue(
            Kind.PERSONAL, account, lifetime=lifetime, label=name, second_factor=second_factor
        )
        await _fences(accounts, tokens, account, session, issued)
        # The count is checked again too: two creations racing at the cap both see the other and both step
        # back, never both stay. Each then tries once more after its own random pause, so the one that wakes
        # first takes the place (both 409 only when the pauses meet again).
        if await tokens.live_personal(account["_id"]) <= PERSONAL_CAP:
            return issued
        await tokens.revoke_issued(issued)
        if attempt == 0:
            await pause()
    raise _full()


async def _fences(
    accounts: Accounts, tokens: TokenStore, account: dict[str, Any], session: dict[str, Any], issued: Issued
) -> None:
    """After the insert (why that is race-free: Accounts.still_current, TokenStore.session_live)."""
    if not await accounts.still_current(account):
        await tokens.revoke_issued(issued)
        raise TokenRefused(
            401,
            "账号刚被停用或变更，请重新登录 / the account was disabled or changed meanwhile: sign in again",
        )
    # A sign-out that landed since the session was read wins: no token is made from an ended session.
    if not await tokens.session_live(session.get("session_id")):
        await tokens.revoke_issued(issued)
        raise TokenRefused(401, SESSION_ENDED)


def _full() -> TokenRefused:
    return TokenRefused(
        409,
        f"个人令牌已达上限 {PERSONAL_CAP} 个，请先删除不用的令牌 / "
        f"at most {PERSONAL_CAP} live personal tokens per person: delete one you no longer use "
        "(DELETE /api/v1/auth/tokens/{token_id})",
    )
