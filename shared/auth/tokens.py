"""People's tokens: session access and refresh tokens, and personal API tokens for scripts.

A token is a random opaque string; only its SHA-256 is stored (like API keys: 192 random bits need no
stretching). The token document carries the person as they are now (name, post, section, role), kept in step
by the account store, so checking a token is one read by _id and nothing is cached: a revoked or disabled
token answers 401 on the very next request, in every service."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.auth.keys import Principal, Role, hash_key
from shared.contracts.assignment import LEADERSHIP_POSTS

TOKENS = "auth_tokens"
TOUCH_EVERY = timedelta(seconds=60)  # last-used time of a personal token: at most one write a minute
SESSION = "session:"  # _id prefix of a session's own record in TOKENS (a token's _id is a hex digest)


class Kind(StrEnum):
    """What a token is for; the prefix tells it apart from an API key (czx_) before any read."""

    ACCESS = "czs_"  # short-lived session token: the bearer of every request
    REFRESH = "czr_"  # exchanged once for a new pair; never accepted as a bearer
    PERSONAL = "czp_"  # a person's named API token for scripts: revocable, optionally expiring


PERSON_PREFIXES = tuple(k.value for k in Kind)


def needs_second_factor(post: str | None) -> bool:
    """Tell whether a post must sign in with a TOTP code (bureau leadership)."""
    return post in {p.value for p in LEADERSHIP_POSTS}


def is_person_token(token: str) -> bool:
    """Tell whether a bearer string is a person's token (not a bureau's API key)."""
    return token.startswith(PERSON_PREFIXES)


@dataclass(frozen=True)
class Issued:
    """A token as handed out once: the secret and its public id."""

    token: str
    token_id: str
    created_at: datetime
    expires_at: datetime | None


def aware(moment: datetime | None) -> datetime | None:
    """Read a stored time as UTC (a client without tz_aware gives naive datetimes)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class TokenStore:
    """Issues, checks and revokes people's tokens in one collection."""

    def __init__(self, db: Any, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._tokens = db[TOKENS]
        self._clock = clock

    async def issue(
        self,
        kind: Kind,
        person: dict[str, Any],
        *,
        lifetime: timedelta | None,
        session_id: str | None = None,
        label: str | None = None,
        second_factor: bool = False,
    ) -> Issued:
        """Store a new token for the person (an account document) and return it once.

        `second_factor` records that the session behind it was opened with a TOTP code."""
        token = kind.value + secrets.token_urlsafe(24)
        digest = hash_key(token)
        now = self._clock()
        expires_at = now + lifetime if lifetime is not None else None
        await self._tokens.insert_one(
            {
                "_id": digest,
                "token_id": digest[:12],
                "kind": kind.name.lower(),
                "account_id": person["_id"],
                "session_id": session_id,
                "label": label,
                "created_at": now,
                "expires_at": expires_at,
                "last_used_at": None,
                "revoked": False,
                "second_factor": second_factor,
                **person_fields(person),
            }
        )
        return Issued(token, digest[:12], now, expires_at)

    async def find(self, token: str) -> dict[str, Any] | None:
        """Return the live (not revoked, not expired) document of a token, or None."""
        doc = await self._tokens.find_one({"_id": hash_key(token)})
        if doc is None or doc.get("revoked"):
            return None
        if needs_second_factor(doc.get("post")) and not doc.get("second_factor"):
            # The token carries the post as it is now: a post that needs TOTP is never held by a session
            # (or its personal tokens) opened without a code, whatever race a promotion met.
            return None
        expires_at = aware(doc.get("expires_at"))
        return doc if expires_at is None or expires_at > self._clock() else None

    async def find_any(self, token: str) -> dict[str, Any] | None:
        """Return a token's document even when revoked or expired (refresh-token reuse detection)."""
        return await self._tokens.find_one({"_id": hash_key(token)})  # type: ignore[no-any-return]

    async def authenticate(self, token: str) -> Principal | None:
        """Return the person behind an access or personal token, or None."""
        if token.startswith(Kind.REFRESH.value):
            return None  # a refresh token only buys a new pair at /auth/refresh
        doc = await self.find(token)
        if doc is None:
            return None
        if doc["kind"] == "personal":
            await self._touch(doc)
        return principal_of(doc)

    async def _touch(self, doc: dict[str, Any]) -> None:
        now = self._clock()
        last = aware(doc.get("last_used_at"))
        if last is None or now - last >= TOUCH_EVERY:
            await self._tokens.update_one({"_id": doc["_id"]}, {"$set": {"last_used_at": now}})

    async def open_session(
        self, session_id: str, person: dict[str, Any], second_factor: bool, expires_at: datetime | None
    ) -> None:
        """Record a new sign-in session: the fence its tokens are checked against (see `keep_session`)."""
        await self._tokens.insert_one(
            {
                "_id": SESSION + session_id,
                "kind": "session",
                "account_id": person["_id"],  # so revoke_account ends the session record too
                "created_at": self._clock(),
                "expires_at": expires_at,  # the TTL index removes it with its last refresh token
                "revoked": False,
                "second_factor": second_factor,
            }
        )

    async def keep_session(self, session_id: str, expires_at: datetime | None) -> bool:
        """After issuing a session's tokens: extend its record; False when it was revoked (or is gone).

        Race-free with `revoke_session`, which marks the record before the tokens: either this conditional
        update comes first, so the tokens were inserted before the revocation's update_many started and it
        marks them, or it comes after and answers False, and the caller revokes what it just issued."""
        result = await self._tokens.update_one(
            {"_id": SESSION + session_id, "revoked": False}, {"$set": {"expires_at": expires_at}}
        )
        return bool(result.matched_count)

    async def session_live(self, session_id: str | None) -> bool:
        """After issuing from a session (a personal token): False when it was signed out (or is gone).

        The read-only `keep_session`, race-free for the same reason: a sign-out marks the record first."""
        if not session_id:
            return False
        return await self._tokens.find_one({"_id": SESSION + session_id, "revoked": False}) is not None

    async def revoke_session(self, session_id: str) -> int:
        """Revoke every token of a sign-in session (sign-out, refresh-token reuse)."""
        # The record first, then the tokens: the order `keep_session` relies on.
        await self._tokens.update_one({"_id": SESSION + session_id}, {"$set": {"revoked": True}})
        result = await self._tokens.update_many({"session_id": session_id}, {"$set": {"revoked": True}})
        return int(result.modified_count)

    async def revoke_issued(self, *issued: Issued) -> None:
        """Revoke tokens just issued (a fence found the session or account changed meanwhile)."""
        digests = [hash_key(i.token) for i in issued]
        await self._tokens.update_many({"_id": {"$in": digests}}, {"$set": {"revoked": True}})

    async def revoke_one(self, digest: str) -> bool:
        """Revoke one live token by its stored digest; False when another request revoked it first."""
        result = await self._tokens.update_one({"_id": digest, "revoked": False}, {"$set": {"revoked": True}})
        return bool(result.matched_count)

    async def revoke_account(self, account_id: str, *, without_second_factor: bool = False) -> None:
        """Revoke every token of an account (disabled, departed, password reset), or only those of sessions
        opened without a TOTP code (promoted to a post that needs one)."""
        query: dict[str, Any] = {"account_id": account_id}
        if without_second_factor:
            query["second_factor"] = {"$ne": True}
        await self._tokens.update_many(query, {"$set": {"revoked": True}})

    async def revoke_personal(self, account_id: str, token_id: str) -> bool:
        """Revoke one personal token of the account; False when it has none of that id."""
        result = await self._tokens.update_one(
            {"account_id": account_id, "token_id": token_id, "kind": "personal", "revoked": False},
            {"$set": {"revoked": True}},
        )
        return bool(result.matched_count)

    async def personal(self, account_id: str) -> list[dict[str, Any]]:
        """Return the account's personal tokens that are not revoked, oldest first."""
        query = {"account_id": account_id, "kind": "personal", "revoked": False}
        return [doc async for doc in self._tokens.find(query).sort("created_at", 1)]

    async def live_personal(self, account_id: str) -> int:
        """Count the account's personal tokens that still work (not revoked, not expired)."""
        now = self._clock()
        return sum(
            1
            for doc in await self.personal(account_id)
            if (expires_at := aware(doc.get("expires_at"))) is None or expires_at > now
        )

    async def follow_person(self, account: dict[str, Any]) -> None:
        """Copy the account's current name, post, section and role onto its live tokens."""
        await self._tokens.update_many(
            {"account_id": account["_id"], "revoked": False}, {"$set": person_fields(account)}
        )


def person_fields(account: dict[str, Any]) -> dict[str, Any]:
    """The fields of an account a token carries."""
    return {k: account.get(k) for k in ("bureau", "staff_id", "name", "post", "section", "role")}


def principal_of(doc: dict[str, Any]) -> Principal:
    """The principal of a token document: the person as their account stands now."""
    return Principal(
        bureau=doc["bureau"],
        role=Role(doc["role"]),
        key_id=doc["token_id"],
        staff_id=doc["staff_id"],
        name=doc["name"],
        post=doc["post"],
        section=doc.get("section"),
    )
