"""Read use cases: list, get (now or as of a moment), history. Every read is scoped to one bureau."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import takewhile
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.projections.case_view import View, fold_all
from shared.contracts.cases import CaseStatus, Category, Channel
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.recorder import EventRecorder

CASE_STREAM, OPENED = "case", "CaseOpened"  # every case stream, and only they, start with CaseOpened


class CaseNotFound(Exception):
    """No such case in the caller's bureau (another bureau's case is not found either)."""


@dataclass(frozen=True)
class CaseFilter:
    """Optional filters of the case list."""

    status: CaseStatus | None = None
    category: Category | None = None
    enterprise: str | None = None
    channel: Channel | None = None

    def query(self, bureau: str) -> dict[str, Any]:
        """Return the MongoDB query for this filter within a bureau."""
        q: dict[str, Any] = {"bureau": bureau}
        for field, value in (("status", self.status), ("category", self.category), ("channel", self.channel)):
            if value is not None:
                q[field] = value.value
        if self.enterprise:
            q["enterprise.credit_code"] = self.enterprise.strip().upper()
        return q


async def list_cases(
    bureau: str, filters: CaseFilter, limit: int, offset: int, *, views: AsyncCollection
) -> tuple[list[View], int]:
    """Return one page of the bureau's cases, newest first, and the total that match."""
    query = filters.query(bureau)
    cursor = views.find(query).sort([("opened_at", DESCENDING), ("_id", ASCENDING)]).skip(offset).limit(limit)
    return [d async for d in cursor], await views.count_documents(query)


async def get_case(bureau: str, case_id: str, *, views: AsyncCollection) -> View:
    """Return the case as the projection shows it now."""
    view = await views.find_one({"_id": case_id, "bureau": bureau})
    if view is None:
        raise CaseNotFound(case_id)
    return view


async def get_case_as_of(bureau: str, case_id: str, as_of: datetime, *, recorder: EventRecorder) -> View:
    """Return the case as it stood at a moment, folded from the events recorded until then."""
    events = await case_history(bureau, case_id, recorder=recorder)
    # A prefix, never a filter: writers' clocks may disagree, so version n+1 can carry a recorded_at
    # earlier than version n's; filtering would skip n and fold a stream with a hole in it.
    view = fold_all(takewhile(lambda e: e.recorded_at <= as_of, events))
    if view is None:
        raise CaseNotFound(case_id)
    return view


async def case_history(bureau: str, case_id: str, *, recorder: EventRecorder) -> list[EventEnvelope]:
    """Return the case's events in order."""
    events = await recorder.read_stream(case_id)
    if not events or not is_case_of(events[0], bureau):
        raise CaseNotFound(case_id)
    return events


def is_case_of(first: EventEnvelope, bureau: str) -> bool:
    """Tell whether a stream's first event opens a case of this bureau (not a board or a calendar)."""
    return first.stream_type == CASE_STREAM and first.event_type == OPENED and first.bureau == bureau
