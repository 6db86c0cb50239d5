"""The disbursement service's own read models in MongoDB: views per stream and the dashboard counters.

The live consumer applies each event in the transaction that records its event id (dedupe): the view is
replaced only by a newer version (a view never moves backwards), and the dashboard counters move by the
difference between the old and the new view, in the same transaction, so they count every view once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.disbursement.domain.streams import ARREARS, DISBURSEMENT, fold_arrears, fold_disbursement
from services.disbursement.projections.views import (
    Counters,
    Doc,
    arrears_view,
    delta,
    disbursement_view,
    is_stale,
)
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.recorder import ConcurrencyError, EventRecorder
from shared.readmodels.generations import Generation, Generations
from shared.workdays.calendar import WorkdayCalendar

VIEWS, ARREARS_VIEWS, DASHBOARD = "disbursement_views", "arrears_views", "disbursement_dashboard"


MODELS = (VIEWS, ARREARS_VIEWS, DASHBOARD)
# The pointers to the generation of each read model in use (shared/readmodels/generations.py): a rebuild
# writes a new generation and moves them, it never renames a collection.
POINTERS = "disbursement_generations"


@dataclass(frozen=True)
class ReadModels:
    """The names of the three collections of one generation (a rebuild writes the next, then points at it)."""

    views: str = VIEWS
    arrears: str = ARREARS_VIEWS
    dashboard: str = DASHBOARD

    @classmethod
    def of(cls, generations: Sequence[Generation]) -> ReadModels:
        """Return the collections of these generations (one per read model, in MODELS order)."""
        views, arrears, dashboard = (g.collection for g in generations)
        return cls(views, arrears, dashboard)


LIVE = ReadModels()
NamesNow = Callable[[], Awaitable[ReadModels]]  # the collections in use now, resolved on each call


def pinned(names: ReadModels) -> NamesNow:
    """Return a resolver that always gives these collections (a rebuild's new generation, tests)."""

    async def fixed() -> ReadModels:
        return names

    return fixed


def in_use(generations: Generations) -> NamesNow:
    """Return a resolver of the generations in use (pointers re-read at most once per RESOLVE_TTL_S)."""

    async def current() -> ReadModels:
        return ReadModels.of([await generations.current(model) for model in MODELS])

    return current


class ViewRaced(ConcurrencyError):
    """Another writer changed the view inside our transaction: retry the whole message."""


async def ensure_read_model_indexes(db: AsyncDatabase, names: ReadModels = LIVE) -> None:
    """Indexes behind the list filters, the stuck query and the dashboard's period query."""
    views = db[names.views]
    await views.create_index([("bureau", ASCENDING), ("opened_at", DESCENDING), ("_id", ASCENDING)])
    await views.create_index([("bureau", ASCENDING), ("enterprise.credit_code", ASCENDING)])
    await views.create_index([("bureau", ASCENDING), ("status", ASCENDING)])
    await views.create_index([("bureau", ASCENDING), ("active", ASCENDING), ("last_change_at", ASCENDING)])
    await views.create_index("case_id", sparse=True)
    await db[names.arrears].create_index([("bureau", ASCENDING), ("open", ASCENDING), ("due_on", ASCENDING)])
    await db[names.dashboard].create_index([("kind", ASCENDING), ("bureau", ASCENDING), ("day", ASCENDING)])


def counter_updates(counters: Counters) -> list[UpdateOne]:
    """Return the $inc updates (upserts) that move the dashboard counters."""
    updates = []
    for doc_id, paths in counters.items():
        kind, bureau, *rest = doc_id.split(":", 2)
        on_insert: dict[str, Any] = {"kind": kind, "bureau": bureau}
        if rest:
            on_insert["day"] = rest[0]
        updates.append(UpdateOne({"_id": doc_id}, {"$inc": paths, "$setOnInsert": on_insert}, upsert=True))
    return updates


class ReadModelWriter:
    """Applies recorded events of disbursement and arrears streams to the read models."""

    def __init__(
        self,
        db: AsyncDatabase,
        recorder: EventRecorder,
        calendar: Callable[[], Awaitable[WorkdayCalendar]],
        names: ReadModels | NamesNow = LIVE,
    ) -> None:
        self._db, self._recorder, self._calendar = db, recorder, calendar
        self._names = pinned(names) if isinstance(names, ReadModels) else names

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None = None) -> bool | None:
        """Bring the stream's view up to this event; None for streams this service does not view."""
        if envelope.stream_type not in (DISBURSEMENT, ARREARS):
            return None
        names = await self._names()  # once: the view and the counters it moves are of one generation
        collection = self._db[names.views if envelope.stream_type == DISBURSEMENT else names.arrears]
        stored = await collection.find_one({"_id": _view_id(envelope)}, session=session)
        if not is_stale(stored, envelope.version):
            return False  # already folded (a redelivery, or a gap fill applied it)
        # Folding the stream up to this event fills any gap left by events that arrive out of order.
        stream = [
            e for e in await self._recorder.read_stream(envelope.stream_id) if e.version <= envelope.version
        ]
        view = await self.view_of(envelope.stream_type, stream)
        if view is None:
            return None
        if stored is None:
            try:
                await collection.insert_one(view, session=session)
            except DuplicateKeyError:
                raise ViewRaced(envelope.stream_id, envelope.version) from None
        else:
            replaced = await collection.replace_one(
                {"_id": view["_id"], "version": stored["version"]}, view, session=session
            )
            if replaced.matched_count == 0:
                raise ViewRaced(envelope.stream_id, envelope.version)
        if updates := counter_updates(delta(stored, view)):
            await self._db[names.dashboard].bulk_write(updates, ordered=True, session=session)
        return True

    async def view_of(
        self, stream_type: str, stream: list[EventEnvelope], calendar: WorkdayCalendar | None = None
    ) -> Doc | None:
        """Return the view document of a stream's events (None when it has no opening event)."""
        if not stream:
            return None
        bureau = stream[0].bureau
        if stream_type == DISBURSEMENT:
            d = fold_disbursement(stream)
            return disbursement_view(d, bureau, calendar or await self._calendar()) if d else None
        a = fold_arrears(stream)
        return arrears_view(a, bureau) if a else None


def _view_id(envelope: EventEnvelope) -> str:
    return envelope.stream_id.split("-", 1)[1]
