"""The case-query read models' generations: their pointers live in `casequery_generations`.

The mechanism (a pointer per read model, moved by a rebuild) is shared/readmodels/generations.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pymongo.asynchronous.database import AsyncDatabase

from shared.readmodels import generations as shared
from shared.readmodels.generations import (
    RESOLVE_TTL_S,
    SETTLE_S,
    Generation,
    ReadModel,
    is_generation_of,
    read_model,
)

GENERATIONS = "casequery_generations"
__all__ = [
    "GENERATIONS",
    "RESOLVE_TTL_S",
    "SETTLE_S",
    "Generation",
    "Generations",
    "ReadModel",
    "is_generation_of",
    "read_model",
]


class Generations(shared.Generations):
    """The case-query read models' pointers."""

    def __init__(
        self, db: AsyncDatabase, ttl: float = RESOLVE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(db, GENERATIONS, ttl, clock)
