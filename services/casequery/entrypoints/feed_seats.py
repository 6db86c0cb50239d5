"""Long polls of the feed in flight per bureau: one bureau cannot hold every seat of the shared pool."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

RETRY_AFTER_S = 5  # about a poll's turn: a reader that waits this long finds a seat once one of its own ends


class FeedSeats:
    """Count the long polls each bureau has waiting in this process and refuse one beyond the cap."""

    def __init__(self, per_bureau: int) -> None:
        self.per_bureau = per_bureau
        self._held: Counter[str] = Counter()

    def full(self, bureau: str) -> bool:
        """Whether the bureau already holds every seat it may (a cap of 0 means no cap)."""
        return 0 < self.per_bureau <= self._held[bureau]

    @contextmanager
    def holding(self, bureau: str) -> Iterator[None]:
        """Hold one of the bureau's seats for the duration of a long poll (released however it ends)."""
        self._held[bureau] += 1
        try:
            yield
        finally:
            self._held[bureau] -= 1
            if not self._held[bureau]:
                del self._held[bureau]  # a bureau's count lives only while it polls

    def held(self, bureau: str) -> int:
        """Return how many long polls the bureau has waiting now."""
        return self._held[bureau]
