"""The services behind the gateway: each one base URL or several instances, taken in turn.

A setting such as `GATEWAY_CASEQUERY_URL=http://casequery-1:8102,http://casequery-2:8102` names two
instances of a service. Requests start at each instance in turn. An instance that refuses a connection
(stopped, restarting) is tried last for a few seconds, and the request moves on to the next at once, since
nothing reached the first; one that did not answer in time (hung) is tried last too, but that request is not
sent again (it may have been acted on).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import httpx

RESTING_S = 5.0  # how long an instance that failed is tried only after the others


def parse_urls(value: str) -> tuple[str, ...]:
    """Return the base URLs of a comma-separated setting; raise ValueError for one not absolute http(s)."""
    urls = tuple(part.strip().rstrip("/") for part in value.split(","))
    for url in urls:
        parsed = httpx.URL(url) if url else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"not an http(s) base URL: {url!r} in {value!r}")
    return urls


class Upstream:
    """One service: its instances' base URLs, started at in turn, one that just failed tried last."""

    def __init__(
        self, name: str, urls: tuple[str, ...], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name, self.urls, self._clock = name, urls, clock
        self._turn = itertools.count()
        self._resting_until: dict[str, float] = {}

    def order(self) -> list[str]:
        """Return the instances to try for one request: the next in turn first, resting ones last."""
        start = next(self._turn) % len(self.urls)
        turn = [*self.urls[start:], *self.urls[:start]]
        now = self._clock()
        return sorted(turn, key=lambda url: self._resting_until.get(url, 0.0) > now)  # stable: turn kept

    def set_aside(self, url: str) -> None:
        """Note that an instance refused a connection or did not answer: it is tried last for a few seconds."""
        self._resting_until[url] = self._clock() + RESTING_S
