"""How long a consumer's fetch waits on the broker: short while records flow, longer while it is idle.

Apache Kafka answers a waiting fetch as soon as a record arrives, so a long wait costs nothing there. Tansu (the
embedded default) answers an empty fetch only when the wait ends, so every consumer polls: at 10 ms each one costs
the broker and its own process several percent of a core, all the time, idle or not. A consumer therefore waits
`busy_ms` while records came within `idle_after_s`, and `idle_ms` otherwise: the first record after a quiet spell
takes at most `idle_ms` more, the next ones `busy_ms`. Set both equal to wait a fixed time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchWait:
    """A consumer's fetch wait while records flow and while it is idle."""

    busy_ms: int
    idle_ms: int | None = None  # None: the same as busy_ms
    idle_after_s: float = 2.0

    @property
    def idle(self) -> int:
        """Return the wait while idle, never shorter than the busy one."""
        return max(self.idle_ms or self.busy_ms, self.busy_ms)


class FetchPacer:
    """Switches one subscriber's consumer between its busy and idle fetch wait as records come and stop."""

    def __init__(self, wait: FetchWait, subscriber: Any) -> None:
        self._wait, self._subscriber = wait, subscriber
        self._last_record = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None  # armed while busy
        self._unsupported = False

    def current_ms(self) -> int | None:
        """Return the wait the consumer's next fetch uses (None before it started)."""
        fetcher = self._fetcher()
        return None if fetcher is None else int(fetcher._fetch_max_wait_ms)

    def saw_records(self) -> None:
        """Note that records arrived: fetch with the busy wait until none came for idle_after_s."""
        if self._wait.idle == self._wait.busy_ms:
            return
        # Called for every record: note the time, and touch the consumer and the timer only when idle until now.
        loop = asyncio.get_running_loop()
        self._last_record = loop.time()
        if self._idle_timer is None:
            self._set(self._wait.busy_ms)
            self._idle_timer = loop.call_later(self._wait.idle_after_s, self._idle_if_quiet)

    def _idle_if_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        quiet_for = loop.time() - self._last_record
        if quiet_for < self._wait.idle_after_s:  # records came meanwhile: look again when the spell could end
            self._idle_timer = loop.call_later(self._wait.idle_after_s - quiet_for, self._idle_if_quiet)
            return
        self._idle_timer = None
        self._set(self._wait.idle)

    def _fetcher(self) -> Any:
        consumer = getattr(self._subscriber, "consumer", None)
        fetcher = getattr(consumer, "_fetcher", None)
        return fetcher if hasattr(fetcher, "_fetch_max_wait_ms") else None

    def _set(self, ms: int) -> None:
        # aiokafka reads the wait from its fetcher for every request it builds; it has no public setter.
        fetcher = self._fetcher()
        if fetcher is None:
            if not self._unsupported and getattr(self._subscriber, "consumer", None) is not None:
                self._unsupported = True
                log.warning(
                    "this aiokafka has no fetcher wait to set: fetches keep waiting %d ms", self._wait.idle
                )
            return
        fetcher._fetch_max_wait_ms = ms
