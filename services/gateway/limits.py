"""Fairness at the door: a token bucket per API key, so one flooding key cannot starve the others; a bucket
per client address for credentials the services refused, so that guessing keys costs time; and a cap on
the feed's long polls in flight, per key and in all."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# RFC 6750's challenge of a refused bearer token (shared/auth/http.py sends it).
_INVALID_TOKEN = re.compile(r'\s*bearer\b.*\berror\s*=\s*"?invalid_token\b', re.IGNORECASE)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets keyed by caller: `rate` tokens a second, up to `burst`; the least recently seen are forgotten."""

    def __init__(
        self, rate: float, burst: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate, self._burst, self._max_keys, self._clock = rate, burst, max_keys, clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Tell whether requests are limited at all (rate 0 turns the limit off)."""
        return self._rate > 0

    def wait(self, key: str) -> float:
        """Return the seconds until key's bucket holds a token (0: it holds one now), spending nothing."""
        bucket = self._buckets.get(key)
        if not self.enabled or bucket is None:
            return 0.0
        tokens = min(float(self._burst), bucket.tokens + (self._clock() - bucket.updated) * self._rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate

    def take(self, key: str) -> float:
        """Spend one token of key's bucket: return 0 when allowed, else the seconds until one is there."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self._burst), now)
        bucket.tokens = min(float(self._burst), bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        self._buckets[key] = bucket  # most recently used last
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate


class RefusedCredentials:
    """Credentials the services refused (401), counted per client address.

    Why: the key buckets are per credential, so a caller trying a new made-up key on every request was never
    limited (and each new value pushed a real key's bucket out of memory). Once an address has used up its
    refusals, it may send only credentials known to work until its bucket refills: those the services have
    accepted before, and the tokens the gateway itself has just handed out (a sign-in's, a refresh's, a new
    personal token), so callers behind one shared address keep being served.
    """

    def __init__(self, buckets: TokenBuckets, max_known: int = 10_000) -> None:
        self._buckets, self._max_known = buckets, max_known
        self._known: OrderedDict[str, None] = OrderedDict()

    def wait(self, key: str, address: str) -> float:
        """Return how long an address must wait before it may try credentials not known to work (0: now)."""
        return 0.0 if key in self._known else self._buckets.wait(address)

    def refused(self, key: str, address: str) -> None:
        """Count a refusal of key's credentials against the address; the key is no longer known to work."""
        self._known.pop(key, None)
        self._buckets.take(address)

    def worked(self, key: str) -> None:
        """Learn that key's credentials work (the services accepted them, or the gateway handed them out)."""
        self._known.pop(key, None)
        self._known[key] = None  # most recently used last
        if len(self._known) > self._max_known:
            self._known.popitem(last=False)


def refuses_credentials(status: int, challenges: list[str], authorization: bytes) -> bool:
    """Tell whether an answer refused the request's own credentials, not a password or token in its body.

    A service marks a refused bearer token as RFC 6750 says (`WWW-Authenticate: Bearer error="invalid_token"`);
    an Authorization header that is no bearer token at all can never be a key that works, so any 401 counts.
    """
    if status != 401:
        return False
    if bearer_token(authorization) is None:
        return True
    return any(_INVALID_TOKEN.match(challenge) for challenge in challenges)


def bearer_token(authorization: bytes) -> bytes | None:
    """Return the token of a `Bearer <token>` Authorization header, or None when it is something else."""
    # Read as the services read it (Starlette decodes headers as latin-1, the token is trimmed with str.strip,
    # which also takes U+00A0, U+0085 and U+001C-U+001F): one key must be one caller however it is padded.
    scheme, _, token = authorization.decode("latin-1").strip().partition(" ")
    token = token.strip()
    return token.encode("latin-1") if scheme.lower() == "bearer" and token else None


def issued_key(token: str) -> str:
    """Return the bucket key a token the gateway handed out will be sent under (`Bearer <token>`)."""
    return caller_key(b"Bearer " + token.encode(), None)


# The answers that hand out a bearer token, and the JSON field holding it (services/assignment auth_http.py).
ISSUING: dict[tuple[str, str], tuple[int, str]] = {
    ("POST", "/api/v1/auth/sign-in"): (200, "access_token"),
    ("POST", "/api/v1/auth/refresh"): (200, "access_token"),
    ("POST", "/api/v1/auth/tokens"): (201, "token"),
}


def issued_token(method: str, path: str, status: int, body: bytes | memoryview) -> str | None:
    """Return the bearer token an answer hands out (a sign-in's, a refresh's, a personal one), else None."""
    issuing = ISSUING.get((method, path))
    if issuing is None or status != issuing[0]:
        return None  # only these answers' bodies are ever parsed
    try:
        token = json.loads(bytes(body)).get(issuing[1])
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) and token else None


def caller_key(authorization: bytes | None, client_host: str | None) -> str:
    """Return the bucket key of a request: a hash of its credentials, else its client address."""
    if authorization:
        # The services take `bearer K`, `BEARER  K ` and `Bearer K` alike: so must the buckets, or one key
        # written many ways would be many callers (each with its own rate and its own long polls).
        token = bearer_token(authorization)
        credentials = b"Bearer " + token if token is not None else authorization
        return "key:" + hashlib.sha256(credentials).hexdigest()
    return f"addr:{client_host or '?'}"


def retry_after(seconds: float) -> str:
    """Return a Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class LongPolls:
    """Feed long polls in flight, per API key and in all: each holds an upstream connection for its `wait`.

    Why: a reader (or a bug in one) that asks again before its last poll answered piles up requests that
    each hold a connection for up to 30 s; within the rate limit, one key alone could take them all.
    """

    def __init__(self, per_key: int, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_key, self.total, self._clock = per_key, total, clock
        self._ends: dict[str, list[float]] = {}  # a key's polls in flight: when each answers at the latest
        self._count = 0

    def refused(self, key: str) -> str | None:
        """Return why one more long poll of key is refused now ("key" or "total"), or None when it may."""
        if len(self._ends.get(key, ())) >= self.per_key:
            return "key"
        return "total" if self._count >= self.total else None

    def retry_after(self, key: str | None = None) -> float:
        """Return the seconds until one of key's polls (None: of anyone's) answers at the latest."""
        ends = self._ends.get(key, []) if key is not None else [t for e in self._ends.values() for t in e]
        return max(0.0, min(ends, default=0.0) - self._clock())

    @contextmanager
    def holding(self, key: str, wait_s: float) -> Iterator[None]:
        """Count one long poll of key while the block runs (`wait_s`: how long it may take)."""
        end = self._clock() + wait_s
        self._ends.setdefault(key, []).append(end)
        self._count += 1
        try:
            yield
        finally:
            self._count -= 1
            ends = self._ends[key]
            ends.remove(end)
            if not ends:
                del self._ends[key]  # only keys with polls in flight are remembered
