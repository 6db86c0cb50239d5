"""The case view: a fold over a case's events, kept in MongoDB and rebuildable from the event store."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterable
from functools import singledispatch
from typing import Any

from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.casequery.projections.generations import ReadModel, read_model
from shared.bulk_writes import insert_new
from shared.contracts.cases import CaseStatus
from shared.contracts.casework import (
    CaseReopened,
    CaseResolved,
    ConciergeAssignedToCase,
    ConciergeWithdrawnFromCase,
    CoordinationTaskCancelled,
    CoordinationTaskChased,
    CoordinationTaskClosed,
    CoordinationTaskDueRecomputed,
    CoordinationTaskOpened,
    PolicyRecommended,
    ProblemClarified,
    ProcedureHandled,
    RatingCollected,
)
from shared.contracts.envelope import EventEnvelope
from shared.contracts.events import CaseOpened, parse_event_data
from shared.eventstore.recorder import ConcurrencyError, EventRecorder

CASE_VIEW = "case_view"
# The six steps: 摸清问题 积极协调 主动代办 加快解决 宣讲政策 征求意见 (first time each was taken).
STEPS = ("clarify", "coordinate", "handle", "resolve", "recommend", "review")
View = dict[str, Any]


def fold(view: View | None, envelope: EventEnvelope) -> View:
    """Return the view after one event (pure: the same events always give the same view)."""
    payload = parse_event_data(envelope.event_type, envelope.schema_version, envelope.data)
    updated = _apply(payload, dict(view or {}), envelope)
    updated.update(version=envelope.version, updated_at=envelope.recorded_at)
    return updated


def fold_all(envelopes: Iterable[EventEnvelope], view: View | None = None) -> View | None:
    """Fold a sequence of events into a view."""
    for envelope in envelopes:
        view = fold(view, envelope)
    return view


@singledispatch
def _apply(payload: BaseModel, view: View, envelope: EventEnvelope) -> View:
    return view  # events this view does not show still advance its version


@_apply.register
def _(payload: CaseOpened, view: View, envelope: EventEnvelope) -> View:
    return {
        "_id": payload.case_id,
        "case_id": payload.case_id,
        "bureau": envelope.bureau,
        "status": CaseStatus.OPEN.value,
        "enterprise": payload.enterprise.model_dump(),
        "category": payload.category.value,
        "title": payload.title,
        "description": payload.description,
        "channel": payload.channel.value,
        "legacy": payload.legacy,
        "source": payload.source,
        "opened_at": envelope.occurred_at,
        "concierge": None,
        "waiting_for_concierge": None,
        "waiting_since": envelope.occurred_at,  # waiting for a concierge since (filter waiting_more_than)
        "steps": {step: None for step in STEPS},
        "tasks": [],
        "open_tasks": 0,
        "procedures": [],
        "policies": [],
        "resolution": None,
        "rating": None,
        "clarifications": [],
        "ratings": [],
        "flagged_for_leadership": False,
        # Sealed as the event carries it: opened (and masked) only when answering; erased stays unreadable.
        "contact": payload.contact.model_dump() if payload.contact else None,
    }


def _step(view: View, step: str, at: object) -> None:
    view["steps"] = {**view["steps"], step: view["steps"].get(step) or at}


def _tasks(view: View, tasks: list[dict[str, Any]]) -> None:
    view["tasks"] = tasks
    view["open_tasks"] = sum(t["state"] == "open" for t in tasks)


@_apply.register
def _(payload: ConciergeAssignedToCase, view: View, envelope: EventEnvelope) -> View:
    view["concierge"] = {
        "staff_id": payload.staff_id,
        "name": payload.staff_name,
        "since": envelope.occurred_at,
    }
    if view["status"] == CaseStatus.OPEN.value:
        view["status"] = CaseStatus.IN_PROGRESS.value
    view["waiting_for_concierge"] = None
    view["waiting_since"] = None
    return view


@_apply.register
def _(payload: ConciergeWithdrawnFromCase, view: View, envelope: EventEnvelope) -> View:
    # The case stream holds this only when it is newer than the board decision the case reflects, so the
    # fold can follow the stream as it is.
    view["concierge"] = None
    view["waiting_for_concierge"] = {
        "since": envelope.occurred_at,
        "withdrawn_staff_id": payload.staff_id,
        "reason": payload.reason,
    }
    view["waiting_since"] = envelope.occurred_at
    return view


@_apply.register
def _(payload: ProblemClarified, view: View, envelope: EventEnvelope) -> View:
    view["problem"] = {"summary": payload.summary, "sections": payload.sections}
    # Every clarification stays, in order: the latest is `problem`, the history is what a leader reviews.
    view["clarifications"] = [
        *view.get("clarifications", []),
        {**view["problem"], "at": envelope.occurred_at},
    ]
    _step(view, "clarify", envelope.occurred_at)
    return view


@_apply.register
def _(payload: CoordinationTaskOpened, view: View, envelope: EventEnvelope) -> View:
    task = {
        "task_id": payload.task_id,
        "section": payload.section,
        "description": payload.description,
        "due_at": payload.due_at,
        "due_provisional": payload.due_provisional,
        "state": "open",
        "chased": 0,
        "opened_at": envelope.occurred_at,
    }
    _tasks(view, [*view["tasks"], task])
    _step(view, "coordinate", envelope.occurred_at)
    return view


def _task_update(view: View, task_id: str, **changes: Any) -> View:
    _tasks(view, [{**t, **changes} if t["task_id"] == task_id else t for t in view["tasks"]])
    return view


@_apply.register
def _(payload: CoordinationTaskChased, view: View, envelope: EventEnvelope) -> View:
    chased = next(t["chased"] for t in view["tasks"] if t["task_id"] == payload.task_id)
    return _task_update(view, payload.task_id, chased=chased + 1)


@_apply.register
def _(payload: CoordinationTaskClosed, view: View, envelope: EventEnvelope) -> View:
    return _task_update(view, payload.task_id, state="closed", outcome=payload.outcome)


@_apply.register
def _(payload: CoordinationTaskCancelled, view: View, envelope: EventEnvelope) -> View:
    return _task_update(view, payload.task_id, state="cancelled", outcome=payload.reason)


@_apply.register
def _(payload: CoordinationTaskDueRecomputed, view: View, envelope: EventEnvelope) -> View:
    task = next(t for t in view["tasks"] if t["task_id"] == payload.task_id)
    history = [
        *task.get("due_history", []),
        {"due_at": task["due_at"], "provisional": task["due_provisional"]},
    ]
    return _task_update(
        view,
        payload.task_id,
        due_at=payload.due_at,
        due_provisional=payload.due_provisional,
        due_history=history,
    )


@_apply.register
def _(payload: ProcedureHandled, view: View, envelope: EventEnvelope) -> View:
    view["procedures"] = [
        *view["procedures"],
        {"description": payload.description, "at": envelope.occurred_at},
    ]
    _step(view, "handle", envelope.occurred_at)
    return view


@_apply.register
def _(payload: CaseResolved, view: View, envelope: EventEnvelope) -> View:
    view["resolution"] = {
        "summary": payload.summary,
        "settlement_intent": payload.settlement_intent,
        "at": envelope.occurred_at,
    }
    view["status"] = CaseStatus.RESOLVED.value
    view["waiting_since"] = None  # resolved while waiting: nothing left to wait for
    _step(view, "resolve", envelope.occurred_at)
    return view


@_apply.register
def _(payload: PolicyRecommended, view: View, envelope: EventEnvelope) -> View:
    view["policies"] = [
        *view["policies"],
        {"policy": payload.policy, "note": payload.note, "at": envelope.occurred_at},
    ]
    _step(view, "recommend", envelope.occurred_at)
    return view


@_apply.register
def _(payload: RatingCollected, view: View, envelope: EventEnvelope) -> View:
    view["rating"] = {"rating": payload.rating, "comment": payload.comment, "at": envelope.occurred_at}
    view["ratings"] = [*view.get("ratings", []), view["rating"]]  # a low rating reopens: keep each one
    view["status"] = CaseStatus.CLOSED.value
    _step(view, "review", envelope.occurred_at)
    return view


@_apply.register
def _(payload: CaseReopened, view: View, envelope: EventEnvelope) -> View:
    view["status"] = CaseStatus.REOPENED.value
    if view.get("concierge") is None:  # it never had one (resolved while waiting): it waits again
        view["waiting_since"] = envelope.occurred_at
    view["flagged_for_leadership"] = view["flagged_for_leadership"] or payload.flagged_for_leadership
    return view


async def ensure_view_indexes(collection: AsyncCollection) -> None:
    """Indexes behind the list filters; every query is scoped to one bureau."""
    await collection.create_index([("bureau", ASCENDING), ("opened_at", DESCENDING), ("_id", ASCENDING)])
    fields = ("status", "category", "channel", "enterprise.credit_code", "flagged_for_leadership")
    for field in (*fields, "concierge.staff_id", "waiting_since"):
        await collection.create_index([("bureau", ASCENDING), (field, ASCENDING), ("opened_at", DESCENDING)])


class ViewWriteRaced(ConcurrencyError):
    """Another writer created the view between our read and our insert inside a transaction: retry it."""


def _newer_than_stored(view: View) -> dict[str, Any]:
    # The version guard of every view write: a view only moves forward. Two writers folding the same
    # stream (the live consumer and a rebuild's catch-up) both write folds of a prefix of it, and the
    # fold is deterministic, so keeping the highest version is keeping the right one.
    return {"_id": view["_id"], "version": {"$lt": view["version"]}}


class CaseViews:
    """The case view collection, updated by the live consumer (one event) and by rebuild (pages).

    Every write is guarded by the stream version, so the two may run at once (a rebuild's catch-up
    while traffic flows) and a stale write never overwrites a newer view. The collection is resolved once per
    call (its generation, see generations.py), so a call reads and writes the same one.
    """

    def __init__(
        self, collection: AsyncCollection | ReadModel, recorder: EventRecorder, remember: int = 0
    ) -> None:
        self._model = read_model(collection)
        self._recorder = recorder
        # The live consumer remembers the views it wrote last (by collection, for a rebuild's new generation):
        # a case's next event usually follows one of them, and then the view need not be read back. Safe
        # because every write is guarded by the version: if another writer moved the view on, ours misses.
        self._remember = remember
        self._written: OrderedDict[tuple[str, str], View] = OrderedDict()

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None = None) -> None:
        """Apply an event; older versions are ignored and a gap is filled from the event store."""
        collection = await self._model.collection()
        current = await collection.find_one({"_id": envelope.stream_id}, session=session)
        pending = await self._pending(current, envelope)
        updated = fold_all(pending, current)
        if updated is None or updated is current:
            return  # nothing new: a redelivery or an event an earlier gap fill already applied
        if current is not None:
            await collection.replace_one(_newer_than_stored(updated), updated, session=session)
            return
        try:
            await collection.insert_one(updated, session=session)
        except DuplicateKeyError:
            if session is not None and session.in_transaction:
                # A write error aborts the transaction (and the dedupe marker with it): raise a
                # transient error so the consumer retries the whole message, which then finds the view.
                raise ViewWriteRaced(envelope.stream_id, 0) from None
            await collection.replace_one(_newer_than_stored(updated), updated)

    async def apply_batch(self, envelopes: list[EventEnvelope]) -> None:
        """Apply a page of events in global order with bulk writes (used by rebuild).

        A stream met at version 1 has no view yet: no read. Others are read one by one by _id, which is
        faster on SecantusDB than one `$in` query, and rare for cases.
        """
        collection = await self._model.collection()
        loaded: dict[str, View | None] = {}
        for envelope in envelopes:
            if envelope.stream_id not in loaded:
                loaded[envelope.stream_id] = (
                    None if envelope.version == 1 else await self._read(collection, envelope)
                )
        folded: dict[str, View] = {}
        for envelope in envelopes:
            view = folded.get(envelope.stream_id) or loaded[envelope.stream_id]
            if pending := await self._pending(view, envelope):
                updated = fold_all(pending, view)
                assert updated is not None  # pending holds at least this event
                folded[envelope.stream_id] = updated
        fresh = [v for s, v in folded.items() if loaded[s] is None]
        changed = [ReplaceOne(_newer_than_stored(v), v) for s, v in folded.items() if loaded[s] is not None]
        changed += [ReplaceOne(_newer_than_stored(v), v) for v in await _insert_fresh(collection, fresh)]
        if changed:
            await collection.bulk_write(changed, ordered=False)
        self._note(collection.name, folded.values())

    async def _read(self, collection: AsyncCollection, envelope: EventEnvelope) -> View | None:
        known = self._written.get((collection.name, envelope.stream_id))
        if known is not None and known["version"] == envelope.version - 1:
            return copy.deepcopy(known)  # the fold changes what it is given
        return await collection.find_one({"_id": envelope.stream_id})

    def _note(self, collection: str, views: Iterable[View]) -> None:
        if not self._remember:
            return
        for view in views:
            self._written[(collection, view["_id"])] = copy.deepcopy(view)
            self._written.move_to_end((collection, view["_id"]))
        while len(self._written) > self._remember:
            self._written.popitem(last=False)

    async def _pending(self, view: View | None, envelope: EventEnvelope) -> list[EventEnvelope]:
        """Return the events that bring a view up to this event: none if it is there, the gap if any."""
        version = view["version"] if view else 0
        if envelope.version <= version:
            return []
        if envelope.version == version + 1:
            return [envelope]
        missing = await self._recorder.read_stream(envelope.stream_id, from_version=version + 1)
        return [e for e in missing if e.version <= envelope.version]


async def _insert_fresh(collection: AsyncCollection, views: list[View]) -> list[View]:
    """Insert views not seen yet; return those another writer created meanwhile (to re-check)."""
    return await insert_new(collection, views)
