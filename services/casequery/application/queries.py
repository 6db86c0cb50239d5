"""Read use cases: list, get (now or as of a moment), history. Every read is scoped to one bureau."""

from __future__ import annotations

from datetime import datetime
from itertools import takewhile

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.application.filters import CaseFilter
from services.casequery.application.stories import Stories
from services.casequery.projections.case_view import View, fold_all
from services.casequery.projections.story import CURRENT
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.recorder import EventRecorder
from shared.workdays.calendar import WorkdayCalendar

__all__ = [
    "CaseFilter",
    "CaseNotFound",
    "case_history",
    "get_case",
    "get_case_as_of",
    "list_cases",
    "with_story",
]

CASE_STREAM, OPENED = "case", "CaseOpened"  # every case stream, and only they, start with CaseOpened


class CaseNotFound(Exception):
    """No such case in the caller's bureau (another bureau's case is not found either)."""


async def list_cases(
    bureau: str,
    filters: CaseFilter,
    limit: int,
    offset: int,
    *,
    views: AsyncCollection,
    now: datetime | None = None,
    calendar: WorkdayCalendar | None = None,
) -> tuple[list[View], int]:
    """Return one page of the bureau's cases, newest first, and the total that match."""
    query = filters.query(bureau, now, calendar)
    cursor = views.find(query).sort([("opened_at", DESCENDING), ("_id", ASCENDING)]).skip(offset).limit(limit)
    return [d async for d in cursor], await views.count_documents(query)


async def get_case(bureau: str, case_id: str, *, views: AsyncCollection) -> View:
    """Return the case as the projection shows it now."""
    view = await views.find_one({"_id": case_id, "bureau": bureau})
    if view is None:
        raise CaseNotFound(case_id)
    return view


async def with_story(bureau: str, views: list[View], *, stories: Stories) -> list[View]:
    """Add to each case its current assignment decision (with its explanation) and its place in the queue."""
    found = await stories.of_cases(bureau, [v["case_id"] for v in views])
    waiting = {  # only a case with no concierge can wait
        v["case_id"]: code
        for v in views
        if v.get("concierge") is None and (code := (v.get("enterprise") or {}).get("credit_code"))
    }
    places = await stories.queue_places(bureau, waiting)
    return [
        {
            **view,
            "assignment": (found.get(view["case_id"]) or {}).get("assignment"),
            "queue": places.get(view["case_id"]),
        }
        for view in views
    ]


async def get_case_as_of(
    bureau: str, case_id: str, as_of: datetime, *, recorder: EventRecorder, stories: Stories | None = None
) -> View:
    """Return the case as it stood at a moment, folded from the events recorded until then.

    With the stories, it carries the board decision in force then too (its queue place is shown for now only).
    """
    events = await case_history(bureau, case_id, recorder=recorder)
    # A prefix, never a filter: writers' clocks may disagree, so version n+1 can carry a recorded_at
    # earlier than version n's; filtering would skip n and fold a stream with a hole in it.
    view = fold_all(takewhile(lambda e: e.recorded_at <= as_of, events))
    if view is None:
        raise CaseNotFound(case_id)
    if stories is None:
        return view
    story = (await stories.of_cases(bureau, [case_id])).get(case_id) or {}
    then = list(takewhile(lambda e: e["recorded_at"] <= as_of, story.get("entries", [])))
    in_force = [e["decision"] for e in then if e["decision"]["kind"] in CURRENT]
    return {**view, "assignment": in_force[-1] if in_force else None}


async def case_history(bureau: str, case_id: str, *, recorder: EventRecorder) -> list[EventEnvelope]:
    """Return the case's events in order."""
    events = await recorder.read_stream(case_id)
    if not events or not is_case_of(events[0], bureau):
        raise CaseNotFound(case_id)
    return events


def is_case_of(first: EventEnvelope, bureau: str) -> bool:
    """Tell whether a stream's first event opens a case of this bureau (not a board or a calendar)."""
    return first.stream_type == CASE_STREAM and first.event_type == OPENED and first.bureau == bureau
