"""The services behind the gateway: each one base URL or several instances, taken in turn.

A setting such as `GATEWAY_CASEQUERY_URL=http://casequery-1:8102,http://casequery-2:8102` names two
instances of a service. Requests start at each instance in turn. An instance that refuses a connection
(stopped, restarting) is tried last for a few seconds, and the request moves on to the next at once, since
nothing reached the first; one that did not answer in time (hung) is tried last too, but that request is not
sent again (it may have been acted on).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

import httpx

log = logging.getLogger(__name__)
T = TypeVar("T")
RESTING_S = 5.0  # how long an instance that failed is tried only after the others
PROBE_EVERY_S = 1.0  # how often each instance of a service run as several is asked for its /healthz


def parse_urls(value: str) -> tuple[str, ...]:
    """Return the base URLs of a comma-separated setting; raise ValueError naming an entry that is not a plain
    http(s) origin (scheme, host, port 1-65535: no credentials, path, query or fragment) or is given twice."""
    urls = tuple(part.strip().rstrip("/") for part in value.split(","))
    for n, url in enumerate(urls, start=1):
        problem = _not_an_origin(url)
        if problem:
            raise ValueError(f"entry {n} of {len(urls)} is not an http(s) base URL: {problem}")
    if len(set(urls)) < len(urls):
        raise ValueError("an instance is named twice")
    return urls


def _not_an_origin(url: str) -> str | None:
    # The message names the fault, never the value: it may hold a password.
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError):
        return "it cannot be parsed"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "it needs http:// or https:// and a host"
    if parsed.userinfo:
        return "credentials are not taken (the caller's Authorization is forwarded)"
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        return "a path, query or fragment is not taken (requests keep their own path)"
    if port is not None and not 1 <= port <= 65535:
        return "the port must be 1-65535"
    return None


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

    async def probe(self, client: httpx.AsyncClient) -> None:
        """Ask each instance for its /healthz; set aside the ones that do not answer 200 within a second."""

        async def answers(url: str) -> bool:
            try:
                return (await client.get(f"{url}/healthz", timeout=PROBE_EVERY_S)).status_code == 200
            except httpx.HTTPError:
                return False

        for url, ok in zip(self.urls, await asyncio.gather(*(answers(u) for u in self.urls)), strict=True):
            if not ok:
                self.set_aside(url)

    def set_aside(self, url: str) -> None:
        """Note that an instance refused a connection or did not answer: tried last for a few seconds."""
        self._resting_until[url] = self._clock() + RESTING_S


async def watch_instances(client: httpx.AsyncClient, services: Iterable[Upstream]) -> None:
    """Ask every instance of each service run as several for its /healthz, every second, until cancelled: one
    that does not answer 200 within a second is set aside, so a hung instance loses its turn in about a second
    instead of holding requests for the whole timeout."""
    several = [u for u in services if len(u.urls) > 1]
    while several:
        try:
            await asyncio.gather(*(u.probe(client) for u in several))
        except Exception:  # a probe must never stop probing: requests still set instances aside on failure
            log.exception("probing the instances failed; probing again in %s s", PROBE_EVERY_S)
        await asyncio.sleep(PROBE_EVERY_S)


class SharedProbe(Generic[T]):
    """One round of probes at a time, its answer shared by every caller that asked while it ran.

    Why: `/healthz` takes no key and no rate limit; a burst of 80 callers each probing every service from a
    pool of a dozen connections timed out waiting for the pool, and the cancelled waits left the pool jammed
    (every later probe "down: PoolTimeout" until a restart). Shared, a burst costs one round, and shielded, a
    caller that goes away never cancels the round the others wait for."""

    def __init__(self, probe: Callable[[], Awaitable[T]]) -> None:
        self._probe = probe
        self._running: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        """Join the round under way, or start one."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._probe())
        return await asyncio.shield(self._running)
