"""Fairness at the door: a token bucket per API key, so one flooding key cannot starve the others; a bucket
per client address for credentials the services refused, so that guessing keys costs time; and a cap on
the feed's long polls in flight, per key and in all."""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


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
    """Credentials the services answered 401 for, counted per client address.

    Why: the key buckets are per credential, so a caller trying a new made-up key on every request was never
    limited (and each new value pushed a real key's bucket out of memory). Once an address has used up its
    refusals, it may send only credentials that the services have accepted before until its bucket refills.
    Keys known to work are never held back, so callers behind one shared address keep being served.
    """

    def __init__(self, buckets: TokenBuckets, max_known: int = 10_000) -> None:
        self._buckets, self._max_known = buckets, max_known
        self._known: OrderedDict[str, None] = OrderedDict()

    def wait(self, key: str, address: str) -> float:
        """Return how long an address must wait before it may try credentials not known to work (0: now)."""
        return 0.0 if key in self._known else self._buckets.wait(address)

    def answered(self, key: str, address: str, status: int) -> None:
        """Learn from the service's answer to a request that carried credentials."""
        if status == 401:
            self._known.pop(key, None)
            self._buckets.take(address)
        elif status < 500:
            self._known.pop(key, None)
            self._known[key] = None  # most recently used last
            if len(self._known) > self._max_known:
                self._known.popitem(last=False)


def caller_key(authorization: bytes | None, client_host: str | None) -> str:
    """Return the bucket key of a request: a hash of its credentials, else its client address."""
    if authorization:
        return "key:" + hashlib.sha256(authorization).hexdigest()
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
