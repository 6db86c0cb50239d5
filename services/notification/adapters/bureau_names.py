"""Each bureau's name as notices print it, read from the bureau directory and kept for a while."""

from __future__ import annotations

import time
from collections.abc import Callable

from shared.auth.keys import BureauDirectory


class BureauNames:
    """A bureau's Chinese name, read at most once per `keep_seconds` (a rename reaches notices after that).

    Every assignment notice names the bureau, and a bureau's name changes perhaps once in years: reading the
    directory for each notice was one database round trip per case. An unknown bureau is not remembered, so a
    bureau registered a moment ago is named as soon as it is.
    """

    def __init__(
        self,
        directory: BureauDirectory,
        keep_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory, self._keep, self._clock = directory, keep_seconds, clock
        self._known: dict[str, tuple[str, float]] = {}

    async def __call__(self, bureau_id: str) -> str:
        """Return the bureau's Chinese name, or its id when the directory has no such bureau."""
        kept = self._known.get(bureau_id)
        if kept is not None and self._clock() < kept[1]:
            return kept[0]
        bureau = await self._directory.get(bureau_id)
        if bureau is None:
            return bureau_id
        self._known[bureau_id] = (bureau.name_zh, self._clock() + self._keep)
        return bureau.name_zh
