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

TOKENS = "auth_tokens"
TOUCH_EVERY = timedelta(seconds=60)  # last-used time of a personal token: at most one write a minute


class Kind(StrEnum):
    """What a token is for; the prefix tells it apart from an API key (czx_) before any read."""

    ACCESS = "czs_"  # short-lived session token: the bearer of every request
    REFRESH = "czr_"  # exchanged once for a new pair; never accepted as a bearer
    PERSONAL = "czp_"  # a person's named API token for scripts: revocable, optionally expiring


PERSON_PREFIXES = tuple(k.value for k in Kind)


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
    ) -> Issued:
        """Store a new token for the person (an account document) and return it once."""
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
                **person_fields(person),
            }
        )
        return Issued(token, digest[:12], now, expires_at)

    async def find(self, token: str) -> dict[str, Any] | None:
        """Return the live (not revoked, not expired) document of a token, or None."""
        doc = await self._tokens.find_one({"_id": hash_key(token)})
        if doc is None or doc.get("revoked"):
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

    async def revoke_session(self, session_id: str) -> int:
        """Revoke every token of a sign-in session (sign-out, refresh-token reuse)."""
        result = await self._tokens.update_many({"session_id": session_id}, {"$set": {"revoked": True}})
        return int(result.modified_count)

    async def revoke_one(self, digest: str) -> bool:
        """Revoke one live token by its stored digest; False when another request revoked it first."""
        result = await self._tokens.update_one({"_id": digest, "revoked": False}, {"$set": {"revoked": True}})
        return bool(result.matched_count)

    async def revoke_account(self, account_id: str) -> None:
        """Revoke every token of an account (disabled, departed, password reset)."""
        await self._tokens.update_many({"account_id": account_id}, {"$set": {"revoked": True}})

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
