"""Assignment's own summary of each case, folded from the case events it sees (never another service's view).

It serves the figures assignment reports (statistics, each concierge's open and overdue tasks) and the
question "which cases hold open tasks?" when a calendar year is published. Each fold reads the case's
stream from the version the summary last reached, so a missed, reordered or replayed delivery cannot
leave it wrong: a replay is older than the summary and changes nothing, a gap is read from the store.
A task opened just before a calendar year is published is covered from the other side as well: when its
event arrives, the policy checks its due date against the calendar in force
(`recompute_due_date_when_task_opened`).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import singledispatch
from typing import Any, Protocol

from pydantic import BaseModel
from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.bulk_writes import write_unordered
from shared.contracts.casework import (
    CaseReopened,
    CaseResolved,
    ConciergeAssignedToCase,
    ConciergeWithdrawnFromCase,
    CoordinationTaskCancelled,
    CoordinationTaskClosed,
    CoordinationTaskDueRecomputed,
    CoordinationTaskOpened,
    ProblemClarified,
    RatingCollected,
)
from shared.contracts.envelope import EventEnvelope
from shared.contracts.events import CaseOpened, parse_event_data
from shared.eventstore.recorder import EventRecorder

CASE_SUMMARIES = "assignment_cases"
SUMMARY_SHAPE = 2  # 2: dated resolutions, ratings and reopenings; a summary of another shape is refolded
Summary = dict[str, Any]


class CaseSummaries(Protocol):
    """Port: assignment's case summaries."""

    async def fold(self, envelope: EventEnvelope) -> None:
        """Bring the event's case summary up to at least the event's version."""
        ...

    async def fold_all(self, envelopes: list[EventEnvelope]) -> None:
        """Fold a batch of events (in order per case), as `fold` would one after the other."""
        ...

    def cases(self) -> AsyncIterator[tuple[str, str]]:
        """Yield (case id, bureau) of every case holding an open task."""
        ...

    def of_bureau(self, bureau: str) -> AsyncIterator[Summary]:
        """Yield the summaries of a bureau's cases."""
        ...


def fold_events(summary: Summary | None, envelopes: list[EventEnvelope]) -> Summary | None:
    """Fold case events onto a summary (None until the case is opened)."""
    for envelope in envelopes:
        event = parse_event_data(envelope.event_type, envelope.schema_version, envelope.data)
        if summary is None and not isinstance(event, CaseOpened):
            return None  # not a case stream
        summary = _apply(event, summary or {}, envelope)
        summary["version"], summary["shape"] = envelope.version, SUMMARY_SHAPE
        summary["open_tasks"] = sum(t["state"] == "open" for t in summary.get("tasks", []))
    return summary


@singledispatch
def _apply(event: BaseModel, s: Summary, envelope: EventEnvelope) -> Summary:
    return s


@_apply.register
def _(e: CaseOpened, s: Summary, envelope: EventEnvelope) -> Summary:
    return {
        "_id": envelope.stream_id,
        "bureau": envelope.bureau,
        "category": e.category.value,
        "enterprise": {"credit_code": e.enterprise.credit_code},
        "status": "open",
        "opened_at": envelope.occurred_at,
        "assigned_at": None,  # when a concierge was first recorded on the case
        "concierge": None,
        "steps": {"clarify": None},
        "resolution": None,  # the resolution in force: a reopening undoes it
        "rating": None,  # the rating in force: a reopening undoes it
        "resolutions": [],  # every resolution ever recorded, dated (history for period figures)
        "ratings": [],  # every rating ever collected, dated
        "reopenings": [],  # when it was reopened
        "tasks": [],
    }


@_apply.register
def _(e: ConciergeAssignedToCase, s: Summary, envelope: EventEnvelope) -> Summary:
    s["concierge"] = {"staff_id": e.staff_id}
    s["assigned_at"] = s.get("assigned_at") or envelope.occurred_at
    s["status"] = "in_progress" if s["status"] == "open" else s["status"]
    return s


@_apply.register
def _(e: ConciergeWithdrawnFromCase, s: Summary, envelope: EventEnvelope) -> Summary:
    s["concierge"] = None  # it waits in the queue; its status stays what its steps made it
    return s


@_apply.register
def _(e: ProblemClarified, s: Summary, envelope: EventEnvelope) -> Summary:
    s["steps"]["clarify"] = s["steps"]["clarify"] or envelope.occurred_at
    return s


@_apply.register
def _(e: CoordinationTaskOpened, s: Summary, envelope: EventEnvelope) -> Summary:
    s["tasks"].append({"task_id": e.task_id, "state": "open", "due_at": e.due_at})
    return s


def _task(s: Summary, task_id: str, **changes: Any) -> Summary:
    s["tasks"] = [t | changes if t["task_id"] == task_id else t for t in s["tasks"]]
    return s


@_apply.register
def _(e: CoordinationTaskClosed, s: Summary, envelope: EventEnvelope) -> Summary:
    return _task(s, e.task_id, state="closed")


@_apply.register
def _(e: CoordinationTaskCancelled, s: Summary, envelope: EventEnvelope) -> Summary:
    return _task(s, e.task_id, state="cancelled")


@_apply.register
def _(e: CoordinationTaskDueRecomputed, s: Summary, envelope: EventEnvelope) -> Summary:
    return _task(s, e.task_id, due_at=e.due_at)


@_apply.register
def _(e: CaseResolved, s: Summary, envelope: EventEnvelope) -> Summary:
    s["resolution"], s["status"] = {"settlement_intent": e.settlement_intent}, "resolved"
    s["resolutions"].append({"at": envelope.occurred_at, "settlement_intent": e.settlement_intent})
    return s


@_apply.register
def _(e: RatingCollected, s: Summary, envelope: EventEnvelope) -> Summary:
    s["rating"], s["status"] = {"rating": e.rating}, "closed"
    s["ratings"].append({"at": envelope.occurred_at, "rating": e.rating})
    return s


@_apply.register
def _(e: CaseReopened, s: Summary, envelope: EventEnvelope) -> Summary:
    # Reopened work is not resolved: its resolution (and settlement intent) and rating no longer stand.
    s["status"], s["resolution"], s["rating"] = "reopened", None, None
    s["reopenings"].append(envelope.occurred_at)
    return s


@dataclass(frozen=True)
class _Write:
    """A summary folded in memory, to be written if the stored one is still at the version it was folded from."""

    case_id: str
    summary: Summary
    read_version: int
    last: EventEnvelope  # the case's newest event in the batch: folded from the store if the write misses


class MongoCaseSummaries:
    """The summaries in a MongoDB collection owned by the assignment service."""

    def __init__(
        self, collection: AsyncCollection, recorder: EventRecorder, remembered: int = 10_000
    ) -> None:
        self._collection = collection
        self._recorder = recorder
        # The summaries this process wrote last: the next event of a case usually follows one of them, and
        # then neither the summary nor the stream needs reading. Every write is guarded by the version it
        # read, so a summary another process moved on makes the write miss, and the fold reads the store.
        self._written: OrderedDict[str, Summary] = OrderedDict()
        self._remembered = remembered

    async def fold(self, envelope: EventEnvelope) -> None:
        """Bring the event's case summary up to the event's version and save it, guarded by the version read."""
        await self.fold_all([envelope])

    async def fold_all(self, envelopes: list[EventEnvelope]) -> None:
        """Fold a batch: one bulk write for the summaries this process can fold from what it wrote last.

        Each write is guarded by the version it folded from, as `fold`'s is; a case whose write misses (another
        process moved it on), or whose events do not follow what this process wrote, is folded from the store.
        """
        by_case: dict[str, list[EventEnvelope]] = {}
        for envelope in envelopes:
            if envelope.stream_type == "case":
                by_case.setdefault(envelope.stream_id, []).append(envelope)
        writes: list[_Write] = []
        from_store: list[EventEnvelope] = []
        for case_id, events in by_case.items():
            events.sort(key=lambda e: e.version)  # events appended while handling the batch come after it
            folded = self._folded_in_memory(case_id, events)
            newest = events[-1]  # what the store fold must reach
            if folded is None:
                from_store.append(newest)
            elif folded[0] is not None:
                writes.append(_Write(case_id, folded[0], folded[1], newest))
        from_store += await self._save_all(writes)
        for envelope in from_store:
            await self._fold_from_store(envelope)

    def _folded_in_memory(
        self, case_id: str, events: list[EventEnvelope]
    ) -> tuple[Summary | None, int] | None:
        """Return (the new summary, the version it folded from), or None when the store must be read."""
        known = self._written.get(case_id)
        summary, start = copy.deepcopy(known), known["version"] if known else 0
        version = start
        for envelope in events:
            if envelope.version <= version:
                continue  # a repeat within the batch, or of what this process wrote
            if envelope.version != version + 1:
                return None  # a gap (or nothing remembered): read the stream
            summary = fold_events(summary, [envelope])
            if summary is None:
                return None, start  # not a case stream: nothing to keep
            version = envelope.version
        return (summary if version > start else None), start

    async def _save_all(self, writes: list[_Write]) -> list[EventEnvelope]:
        """Write the summaries, each guarded by its read version; return the last events of those that missed."""
        operations = [
            ReplaceOne({"_id": w.case_id, "version": w.read_version}, w.summary, upsert=True) for w in writes
        ]
        missed = await write_unordered(self._collection, operations)  # another process got there first
        for index, write in enumerate(writes):
            if index in missed:
                self._written.pop(write.case_id, None)
            else:
                self._remember(write.case_id, write.summary)
        return [writes[index].last for index in sorted(missed)]

    async def _fold_from_store(self, envelope: EventEnvelope) -> None:
        stored = await self._collection.find_one({"_id": envelope.stream_id})
        old = stored if stored and stored.get("shape") == SUMMARY_SHAPE else None
        version = old["version"] if old else 0
        if envelope.version <= version:
            return  # a replay: the summary is already past it
        tail = (
            [envelope]
            if envelope.version == version + 1
            else await self._recorder.read_stream(envelope.stream_id, from_version=version + 1)
        )
        new = fold_events(old, tail)
        if new is None:
            return
        # A summary of an older shape is refolded from the case's first event and replaced whatever its version.
        await self._save(envelope.stream_id, new, version if old or stored is None else stored["version"])

    async def _save(self, case_id: str, new: Summary, read_version: int) -> bool:
        """Write the summary if the stored one is still at the version read; return whether it was."""
        try:
            result = await self._collection.replace_one(
                {"_id": case_id, "version": read_version}, new, upsert=True
            )
        except DuplicateKeyError:
            self._written.pop(case_id, None)
            return False  # a concurrent fold got there first
        self._remember(case_id, new)
        return bool(result.matched_count or result.upserted_id is not None)

    def _remember(self, case_id: str, summary: Summary) -> None:
        self._written[case_id] = summary
        self._written.move_to_end(case_id)
        while len(self._written) > self._remembered:
            self._written.popitem(last=False)

    async def cases(self) -> AsyncIterator[tuple[str, str]]:
        """Yield (case id, bureau) of every case holding an open task."""
        async for doc in self._collection.find({"open_tasks": {"$gt": 0}}, {"bureau": 1}):
            yield str(doc["_id"]), str(doc["bureau"])

    async def of_bureau(self, bureau: str) -> AsyncIterator[Summary]:
        """Yield the summaries of a bureau's cases."""
        async for doc in self._collection.find({"bureau": bureau}):
            yield doc


class InMemoryCaseSummaries:
    """The same summaries in a dict, for unit tests."""

    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder
        self.summaries: dict[str, Summary] = {}

    async def fold(self, envelope: EventEnvelope) -> None:
        """Bring the case's summary up to date from the store."""
        old = self.summaries.get(envelope.stream_id)
        version = old["version"] if old else 0
        if envelope.stream_type != "case" or envelope.version <= version:
            return
        tail = await self._recorder.read_stream(envelope.stream_id, from_version=version + 1)
        new = fold_events(old, tail)
        if new is not None:
            self.summaries[envelope.stream_id] = new

    async def fold_all(self, envelopes: list[EventEnvelope]) -> None:
        """Fold each event in turn."""
        for envelope in envelopes:
            await self.fold(envelope)

    async def cases(self) -> AsyncIterator[tuple[str, str]]:
        """Yield (case id, bureau) of every case holding an open task."""
        for case_id, summary in list(self.summaries.items()):
            if summary["open_tasks"]:
                yield case_id, summary["bureau"]

    async def of_bureau(self, bureau: str) -> AsyncIterator[Summary]:
        """Yield the summaries of a bureau's cases."""
        for summary in list(self.summaries.values()):
            if summary["bureau"] == bureau:
                yield summary
