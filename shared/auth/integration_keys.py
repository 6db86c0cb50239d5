"""Bureau integrations' Ed25519 public keys: registered by a bureau admin, looked up by key id to verify
a signed Kafka message (`shared.auth.signing`).

Only public keys are stored; the private key never leaves the bureau's system. A key is never deleted, only
revoked, so the history of a case opened with it still names a key that can be looked up.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from pydantic import AwareDatetime, BaseModel, ConfigDict
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

INTEGRATION_KEYS = "integration_keys"
RAW_KEY_BYTES = 32  # an Ed25519 public key (RFC 8032)
DEFAULT_CACHE_SECONDS = 5.0


class InvalidPublicKey(ValueError):
    """The text is not an Ed25519 public key (raw 32 bytes in base64, or PEM)."""


class KeyAlreadyRegistered(Exception):
    """The same public key is registered already (a key belongs to one integration of one bureau)."""


class IntegrationKey(BaseModel):
    """A registered public key of one integration of one bureau."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    bureau: str
    integration: str
    public_key: str  # raw 32 bytes, standard base64
    created_at: AwareDatetime
    registered_by: str | None = None
    revoked_at: AwareDatetime | None = None
    revoked_by: str | None = None

    @property
    def revoked(self) -> bool:
        """Tell whether the key was revoked."""
        return self.revoked_at is not None

    def verifier(self) -> Ed25519PublicKey:
        """Return the key as a cryptography public key."""
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key))


def parse_public_key(text: str) -> str:
    """Return the key as raw base64, from raw 32 bytes in (url-safe) base64 or a PEM public key."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm) as exc:  # UnicodeError is a ValueError
            raise InvalidPublicKey(f"not a readable PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidPublicKey(f"an Ed25519 key is required, this PEM holds {type(key).__name__}")
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    else:
        try:
            padded = text + "=" * (-len(text) % 4)
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidPublicKey("not base64 and not a PEM public key") from None
        if len(raw) != RAW_KEY_BYTES:
            raise InvalidPublicKey(f"an Ed25519 public key is {RAW_KEY_BYTES} bytes, this one is {len(raw)}")
        try:
            Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as exc:
            raise InvalidPublicKey(f"not an Ed25519 public key: {exc}") from None
    return base64.b64encode(raw).decode()


def new_key_id() -> str:
    """Return a fresh key id (an Identifier: letters, digits, _ and -)."""
    return f"ik_{secrets.token_hex(8)}"


class IntegrationKeys(Protocol):
    """Port: find a registered key by id (the Mongo directory, or the in-memory fake)."""

    async def get(self, key_id: str) -> IntegrationKey | None:
        """Return the key, revoked or not, or None if no such key was ever registered."""
        ...


class IntegrationKeyRegistry(IntegrationKeys, Protocol):
    """Port: what the registration routes need (the Mongo directory, or the in-memory fake)."""

    async def register(
        self, bureau: str, integration: str, public_key: str, registered_by: str | None = None
    ) -> IntegrationKey:
        """Register a public key for an integration of a bureau; return it with its id."""
        ...

    async def of_bureau(self, bureau: str) -> list[IntegrationKey]:
        """Return a bureau's keys, revoked ones included, oldest first."""
        ...

    async def revoke(self, bureau: str, key_id: str, revoked_by: str | None = None) -> IntegrationKey | None:
        """Revoke a key of this bureau; None if the bureau has no such key."""
        ...


class IntegrationKeyDirectory:
    """The registered public keys in MongoDB (`integration_keys`, `_id` = key id).

    A lookup is one read by `_id`. Keys found are remembered for `cache_seconds` (default 5 s) so a burst of
    messages costs one read: a revocation therefore takes effect within that delay on every consumer. Keys
    not found are never remembered, so a key registered a moment ago verifies at once."""

    def __init__(
        self,
        db: AsyncDatabase,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        cache_size: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._cache: OrderedDict[str, tuple[float, IntegrationKey]] = OrderedDict()
        self._ttl, self._size, self._clock = cache_seconds, cache_size, clock

    async def ensure_indexes(self) -> None:
        """Index keys by bureau (listing) and make a public key registrable once."""
        await self._db[INTEGRATION_KEYS].create_index([("bureau", 1), ("created_at", 1)])
        await self._db[INTEGRATION_KEYS].create_index("public_key", unique=True)

    async def register(
        self, bureau: str, integration: str, public_key: str, registered_by: str | None = None
    ) -> IntegrationKey:
        """Register a public key (any accepted form) for an integration of a bureau; return it with its id."""
        key = IntegrationKey(
            key_id=new_key_id(),
            bureau=bureau,
            integration=integration,
            public_key=parse_public_key(public_key),
            created_at=datetime.now(UTC),
            registered_by=registered_by,
        )
        doc = key.model_dump(exclude={"key_id"})
        try:
            await self._db[INTEGRATION_KEYS].insert_one({"_id": key.key_id, **doc})
        except DuplicateKeyError:
            raise KeyAlreadyRegistered("this public key is already registered") from None
        return key

    async def get(self, key_id: str) -> IntegrationKey | None:
        """Return the key, revoked or not, or None if no such key was ever registered."""
        cached = self._cache.pop(key_id, None)
        if cached and cached[0] > self._clock():
            self._cache[key_id] = cached
            return cached[1]
        doc = await self._db[INTEGRATION_KEYS].find_one({"_id": key_id})
        if doc is None:
            return None
        key = _from_doc(doc)
        if self._ttl > 0:
            self._cache[key_id] = (self._clock() + self._ttl, key)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return key

    async def of_bureau(self, bureau: str) -> list[IntegrationKey]:
        """Return a bureau's keys, revoked ones included, oldest first."""
        cursor = self._db[INTEGRATION_KEYS].find({"bureau": bureau}).sort("created_at", 1)
        return [_from_doc(doc) async for doc in cursor]

    async def revoke(self, bureau: str, key_id: str, revoked_by: str | None = None) -> IntegrationKey | None:
        """Revoke a key of this bureau (again: no change); None if the bureau has no such key."""
        await self._db[INTEGRATION_KEYS].update_one(
            {"_id": key_id, "bureau": bureau, "revoked_at": None},
            {"$set": {"revoked_at": datetime.now(UTC), "revoked_by": revoked_by}},
        )
        self._cache.pop(key_id, None)  # this process sees its own revocation at once
        doc = await self._db[INTEGRATION_KEYS].find_one({"_id": key_id, "bureau": bureau})
        return _from_doc(doc) if doc else None


def _from_doc(doc: dict) -> IntegrationKey:
    doc = dict(doc)
    for field in ("created_at", "revoked_at"):
        # PyMongo returns naive UTC datetimes unless the client is tz-aware.
        if doc.get(field) is not None and doc[field].tzinfo is None:
            doc[field] = doc[field].replace(tzinfo=UTC)
    return IntegrationKey(key_id=doc.pop("_id"), **doc)


class InMemoryIntegrationKeyDirectory:
    """The same contract in memory, for unit tests and the in-memory broker."""

    def __init__(self) -> None:
        self._keys: dict[str, IntegrationKey] = {}

    async def register(
        self, bureau: str, integration: str, public_key: str, registered_by: str | None = None
    ) -> IntegrationKey:
        """Register a public key for an integration of a bureau; return it with its id."""
        raw = parse_public_key(public_key)
        if any(k.public_key == raw for k in self._keys.values()):
            raise KeyAlreadyRegistered("this public key is already registered")
        key = IntegrationKey(
            key_id=new_key_id(),
            bureau=bureau,
            integration=integration,
            public_key=raw,
            created_at=datetime.now(UTC),
            registered_by=registered_by,
        )
        self._keys[key.key_id] = key
        return key

    async def get(self, key_id: str) -> IntegrationKey | None:
        """Return the key, revoked or not, or None."""
        return self._keys.get(key_id)

    async def of_bureau(self, bureau: str) -> list[IntegrationKey]:
        """Return a bureau's keys, oldest first."""
        return sorted((k for k in self._keys.values() if k.bureau == bureau), key=lambda k: k.created_at)

    async def revoke(self, bureau: str, key_id: str, revoked_by: str | None = None) -> IntegrationKey | None:
        """Revoke a key of this bureau; None if the bureau has no such key."""
        key = self._keys.get(key_id)
        if key is None or key.bureau != bureau:
            return None
        if not key.revoked:
            key = key.model_copy(update={"revoked_at": datetime.now(UTC), "revoked_by": revoked_by})
            self._keys[key_id] = key
        return key
