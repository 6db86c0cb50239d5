"""Bureaus and their API keys. Keys are random 192-bit tokens, so a SHA-256 digest is a safe
at-rest form (no password-style stretching is needed) and lets a lookup be one indexed read."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts.text import Identifier, Line200

API_KEYS = "api_keys"
BUREAUS = "bureaus"


class Role(StrEnum):
    """What a key may do inside its bureau."""

    ADMIN = "admin"  # leadership and bureau administrators
    STAFF = "staff"  # bureau staff: submit and read cases
    INTEGRATION = "integration"  # another system of the bureau
    VIEWER = "viewer"  # read only
    OPERATOR = "operator"  # the zone's operators: zone-wide data (the working-day calendar), bureau "zone"


ZONE = "zone"  # the pseudo-bureau of the zone administration (管委会), holder of operator keys


WRITE_ROLES = frozenset({Role.ADMIN, Role.STAFF, Role.INTEGRATION})


class Principal(BaseModel):
    """The authenticated caller: a key of one bureau with one role."""

    model_config = ConfigDict(frozen=True)

    bureau: str
    role: Role
    key_id: str
    # Set when a person signed in (or uses a personal token); None for a bureau integration key.
    staff_id: str | None = None
    name: str | None = None
    post: str | None = None
    section: str | None = None


class Bureau(BaseModel):
    """A bureau (局) using the system: a tenant. Its id is part of command ids (`http:{bureau}:{key}`), so it
    must not hold the separator or anything else that could make two bureaus' ids collide."""

    id: Identifier
    name_zh: Line200
    name_en: Line200


class Authenticator(Protocol):
    """Port: turn an API key or a person's token into a principal (ApiKeyStore, or a fake in tests)."""

    async def authenticate(self, key: str) -> Principal | None:
        """Return the key's principal, or None."""
        ...


def hash_key(key: str) -> str:
    """Return the stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyStore:
    """Issues and checks API keys; remembers known keys briefly so a request costs no database read.

    Why bounded and hits only: every presented token would otherwise stay in memory forever, and a caller
    trying random tokens would grow the cache without end. A miss is asked again (a key issued a moment ago
    works at once); the per-key rate limit at the gateway bounds how often."""

    def __init__(
        self,
        db: AsyncDatabase,
        cache_seconds: float = 30.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        # Imported here: tokens.py builds Principals from this module. People's tokens are checked on every
        # request with no cache (revocation at once); API keys keep their short cache.
        from shared.auth.tokens import TokenStore, is_person_token

        self._people, self._is_person_token = TokenStore(db), is_person_token
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._ttl, self._size, self._clock = cache_seconds, cache_size, clock

    async def issue(self, bureau: str, role: Role, label: str) -> str:
        """Create a key for a bureau and return it; only its hash is stored."""
        key = f"czx_{bureau}_{secrets.token_urlsafe(24)}"
        digest = hash_key(key)
        await self._db[API_KEYS].insert_one(
            {
                "_id": digest,
                "key_id": digest[:12],
                "bureau": bureau,
                "role": role.value,
                "label": label,
                "created_at": datetime.now(UTC),
                "revoked": False,
            }
        )
        return key

    async def authenticate(self, key: str) -> Principal | None:
        """Return the key's (or a person token's) principal, or None for an unknown or revoked one."""
        if self._is_person_token(key):
            return await self._people.authenticate(key)
        digest = hash_key(key)
        cached = self._cache.pop(digest, None)
        if cached and cached[0] > self._clock():
            self._cache[digest] = cached  # most recently used last
            return cached[1]
        doc = await self._db[API_KEYS].find_one({"_id": digest, "revoked": False})
        if doc is None:
            return None
        principal = Principal(bureau=doc["bureau"], role=doc["role"], key_id=doc["key_id"])
        if self._ttl > 0:
            self._cache[digest] = (self._clock() + self._ttl, principal)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return principal

    def cached_keys(self) -> int:
        """Return how many key digests are remembered (for tests and health details)."""
        return len(self._cache)


class BureauDirectory:
    """The bureaus known to the system."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def exists(self, bureau_id: str) -> bool:
        """Tell whether a bureau is registered."""
        return await self._db[BUREAUS].find_one({"_id": bureau_id}, {"_id": 1}) is not None

    async def get(self, bureau_id: str) -> Bureau | None:
        """Return a registered bureau."""
        doc = await self._db[BUREAUS].find_one({"_id": bureau_id})
        return Bureau(id=doc["_id"], name_zh=doc["name_zh"], name_en=doc["name_en"]) if doc else None

    async def all(self) -> list[Bureau]:
        """Return every registered bureau (a handful: read whole)."""
        cursor = self._db[BUREAUS].find()
        return [Bureau(id=d["_id"], name_zh=d["name_zh"], name_en=d["name_en"]) async for d in cursor]

    async def register(self, bureau: Bureau) -> None:
        """Add or update a bureau (validated again: a model built with model_construct skips checks)."""
        bureau = Bureau.model_validate(bureau.model_dump())
        await self._db[BUREAUS].update_one(
            {"_id": bureau.id}, {"$set": {"name_zh": bureau.name_zh, "name_en": bureau.name_en}}, upsert=True
        )
