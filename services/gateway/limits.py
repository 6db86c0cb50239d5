"""Fairness at the door: a token bucket per API key, so one flooding key cannot starve the others."""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
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


def caller_key(authorization: bytes | None, client_host: str | None) -> str:
    """Return the bucket key of a request: a hash of its credentials, else its client address."""
    if authorization:
        return "key:" + hashlib.sha256(authorization).hexdigest()
    return f"addr:{client_host or '?'}"


def retry_after(seconds: float) -> str:
    """Return a Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
