"""Bureau integrations' Ed25519 public keys: registered by a bureau admin, looked up by key id to verify
a signed Kafka message (`shared.auth.signing`).

Only public keys are stored; the private key never leaves the bureau's system. A key is never deleted, only
revoked, so the history of a case opened with it still names a key that can be looked up.
"""

from __future__ import annotations

import base64
import binascii
import functools
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


# -- Is the key a point of the prime-order subgroup? (RFC 8032 arithmetic on Python integers) --
#
# Why: cryptography (OpenSSL) loads any 32 bytes as a public key. A small-order point (order 1, 2, 4 or 8;
# e.g. 32 zero bytes) lets anyone make "signatures" that verify for a large share of messages without any
# private key, so such a key would let whoever reaches the broker forge a bureau's intake messages. A real
# key is A = [s]B, a point of the subgroup of prime order L, so every key outside it is refused: encodings
# that do not decode (y >= p, x = 0 with the sign bit set, no square root) and points P with [L]P != O
# (small-order points and points with a small-order component), and the identity O itself.

_P = 2**255 - 19  # the field prime
_D = -121665 * pow(121666, -1, _P) % _P  # the curve constant d of edwards25519
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)  # a square root of -1 mod p
_L = 2**252 + 27742317777372353535851937790883648493  # the order of the base point B
EdwardsPoint = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T): x = X/Z, y = Y/Z, x*y = T/Z
_IDENTITY: EdwardsPoint = (0, 1, 1, 0)


def decompress_point(raw: bytes) -> EdwardsPoint | None:
    """Decode a 32-byte point as RFC 8032 section 5.1.3 does; None when it is no canonical encoding."""
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= _P:
        return None  # a non-canonical encoding (y + p): refused, as step 1 of 5.1.3 says
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P  # x^2 = u / v
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if (v * x * x - u) % _P != 0:
        if (v * x * x + u) % _P != 0:
            return None  # u / v is not a square: no point has this y
        x = x * _SQRT_M1 % _P
    if x == 0 and sign == 1:
        return None  # "negative zero": x = 0 has one encoding only
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


def _add(a: EdwardsPoint, b: EdwardsPoint) -> EdwardsPoint:
    """Add two points (RFC 8032 section 5.1.4, complete for edwards25519: doubling included)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    a_ = (y1 - x1) * (y2 - x2) % _P
    b_ = (y1 + x1) * (y2 + x2) % _P
    c_ = 2 * t1 * t2 * _D % _P
    d_ = 2 * z1 * z2 % _P
    e, f, g, h = b_ - a_, d_ - c_, d_ + c_, b_ + a_
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def multiply_point(n: int, point: EdwardsPoint) -> EdwardsPoint:
    """Return [n]point (double and add)."""
    result = _IDENTITY
    while n:
        if n & 1:
            result = _add(result, point)
        point, n = _add(point, point), n >> 1
    return result


def is_identity(point: EdwardsPoint) -> bool:
    """Tell whether the point is the neutral element (0, 1) (projective: X = 0 and Y = Z)."""
    x, y, z, _ = point
    return x % _P == 0 and (y - z) % _P == 0


def refuse_weak_point(raw: bytes) -> None:
    """Raise InvalidPublicKey unless raw is a canonical encoding of a point of order L (a real public key)."""
    point = decompress_point(raw)
    if point is None:
        raise InvalidPublicKey("not an Ed25519 public key: not a canonical encoding of a curve point")
    if is_identity(point) or not is_identity(multiply_point(_L, point)):
        raise InvalidPublicKey(
            "not a valid Ed25519 public key: a point of small order (or with a small-order part) "
            "that would accept forged signatures"
        )


@functools.lru_cache(maxsize=1024)
def is_weak_key(public_key: str) -> bool:
    """Tell whether a stored key (raw base64) fails refuse_weak_point (remembered: a key never changes)."""
    try:
        refuse_weak_point(base64.b64decode(public_key))
    except (InvalidPublicKey, ValueError):
        return True
    return False


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
    refuse_weak_point(raw)  # both forms: a PEM may wrap the same 32 bytes
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
