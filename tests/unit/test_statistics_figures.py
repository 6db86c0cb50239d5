"""Every statistics figure against a scripted history with known dates, over all time and over a period."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import httpx
import pytest
from pydantic import BaseModel

from services.assignment.application.boards import new_events
from services.assignment.application.statistics import (
    BureauStatistics,
    Period,
    PeriodRefused,
    bureau_statistics,
)
from services.assignment.domain.board import AssignmentBoard
from services.assignment.projections.case_summaries import InMemoryCaseSummaries
from shared.contracts.cases import Category, Channel
from shared.contracts.casework import (
    CaseReopened,
    CaseResolved,
    ConciergeAssignedToCase,
    ProblemClarified,
    RatingCollected,
)
from shared.contracts.envelope import Actor
from shared.contracts.events import CaseOpened
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import Recording
from tests.unit.test_assignment_support import app_with, auth, enterprise

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
OCTOBER = Period.of(date(2026, 10, 1), date(2026, 10, 31))


def at(month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class History:
    """Case streams written with chosen times, folded into assignment's summaries."""

    def __init__(self) -> None:
        self.recorder = InMemoryRecorder()
        self.summaries = InMemoryCaseSummaries(self.recorder)

    async def record(self, case_id: str, when: datetime, *events: BaseModel) -> None:
        version = await self.recorder.stream_version(case_id)
        recording = Recording(
            stream_id=case_id,
            stream_type="case",
            expected_version=version,
            bureau="finance",
            actor=Actor(kind="api_key", id="test", bureau="finance"),
            command_id=uuid.uuid4().hex,
            correlation_id=uuid.uuid4(),
        )
        stamped = [replace(n, occurred_at=when) for n in new_events(list(events))]
        for envelope in (await self.recorder.append(recording, stamped)).events:
            await self.summaries.fold(envelope)

    async def open(self, case_id: str, n: int, when: datetime) -> None:
        opened = CaseOpened(
            case_id=case_id,
            enterprise=enterprise(n),
            category=Category.FISCAL_POLICY,
            title="历史遗留问题",
            description="x",
            channel=Channel.LEGACY_LIST,
            legacy=True,
            source="http",
            request_ref=case_id,
            request_hash="0" * 64,
        )
        await self.record(case_id, when, opened)

    async def assign(self, case_id: str, when: datetime) -> None:
        await self.record(
            case_id, when, ConciergeAssignedToCase(staff_id="a", staff_name="a", board_event_id="e")
        )

    async def clarify(self, case_id: str, when: datetime) -> None:
        await self.record(case_id, when, ProblemClarified(summary="x", sections=["预算科"]))

    async def resolve(self, case_id: str, when: datetime, intent: bool) -> None:
        await self.record(case_id, when, CaseResolved(summary="x", settlement_intent=intent))

    async def rate(self, case_id: str, when: datetime, rating: int) -> None:
        await self.record(case_id, when, RatingCollected(rating=rating, comment="x"))
        if rating <= 2:
            await self.record(case_id, when, CaseReopened(reason="low", flagged_for_leadership=True))


async def scripted() -> History:
    """Six cases of five enterprises in September to November (times in UTC; Shanghai is UTC+8)."""
    h = History()
    # c1, enterprise 1: opened 00:30 on 1 October in Shanghai (still 30 September in UTC), resolved with an
    # intent, rated 1: reopened and not resolved again.
    await h.open("c1", 1, at(9, 30, 16, 30))
    await h.assign("c1", at(10, 1))
    await h.clarify("c1", at(10, 2))
    await h.resolve("c1", at(10, 5), True)
    await h.rate("c1", at(10, 6), 1)
    # c2, enterprise 2: resolved with an intent, rated 5: closed.
    await h.open("c2", 2, at(10, 2))
    await h.assign("c2", at(10, 2))
    await h.clarify("c2", at(10, 3))
    await h.resolve("c2", at(10, 10), True)
    await h.rate("c2", at(10, 11), 5)
    # c3, enterprise 3: resolved without an intent, not rated yet.
    await h.open("c3", 3, at(10, 3))
    await h.assign("c3", at(10, 3))
    await h.clarify("c3", at(10, 4))
    await h.resolve("c3", at(10, 12), False)
    # c4, enterprise 4: September work rated 2 (reopened), resolved again in October and rated 4.
    await h.open("c4", 4, at(9, 20))
    await h.assign("c4", at(9, 20))
    await h.clarify("c4", at(9, 21))
    await h.resolve("c4", at(9, 25), True)
    await h.rate("c4", at(9, 26), 2)
    await h.resolve("c4", at(10, 15), True)
    await h.rate("c4", at(10, 16), 4)
    # c5, enterprise 5: opened at 00:30 on 1 November in Shanghai, no concierge yet.
    await h.open("c5", 5, at(10, 31, 16, 30))
    # c6, enterprise 1 again: opened and assigned in October, not clarified.
    await h.open("c6", 1, at(10, 21))
    await h.assign("c6", at(10, 21))
    return h


async def figures(h: History, period: Period | None = None) -> BureauStatistics:
    return await bureau_statistics(AssignmentBoard("finance"), h.summaries.of_bureau("finance"), NOW, period)


async def test_state_figures_count_reopened_work_as_not_resolved() -> None:
    stats = await figures(await scripted())

    assert stats.cases_total == 6 and stats.cases_by_category == {"fiscal_policy": 6}
    assert stats.cases_by_status == {"open": 1, "in_progress": 1, "resolved": 1, "closed": 2, "reopened": 1}
    assert stats.cases_resolved == stats.cases_by_status["resolved"] + stats.cases_by_status["closed"] == 3
    assert stats.cases_reopened == 1
    assert stats.enterprises_in_resolution == 4  # 1, 2, 3, 4 clarified; 5 not yet
    # Enterprise 1's intent was undone by the reopening; 3 had none; 4's second resolution stands.
    assert stats.enterprises_with_settlement_intent == 2
    assert (stats.waiting_enterprises, stats.open_tasks, stats.overdue_tasks) == (0, 0, 0)


async def test_event_figures_over_all_time_count_every_resolution_rating_and_reopening() -> None:
    stats = await figures(await scripted())

    assert (stats.period_from, stats.period_to) == (None, None)
    assert stats.cases_opened == 6 and stats.enterprises_assigned == 4
    assert (stats.resolutions, stats.resolutions_with_settlement_intent) == (5, 4)
    assert stats.reopenings == 2
    assert (stats.ratings, stats.average_rating) == (4, 3.0)


async def test_event_figures_of_a_period_count_whole_days_in_shanghai() -> None:
    stats = await figures(await scripted(), OCTOBER)

    assert (stats.period_from, stats.period_to) == (date(2026, 10, 1), date(2026, 10, 31))
    assert stats.cases_opened == 4  # c1 (1 October in Shanghai), c2, c3, c6; c5 is 1 November there
    assert stats.enterprises_assigned == 3  # 1, 2, 3; enterprise 4 was assigned in September
    assert (stats.resolutions, stats.resolutions_with_settlement_intent) == (4, 3)
    assert stats.reopenings == 1
    assert (stats.ratings, stats.average_rating) == (3, 3.33)
    assert stats.cases_total == 6 and stats.enterprises_with_settlement_intent == 2  # state: not limited


@pytest.mark.parametrize(
    ("first", "last", "why"),
    [
        (date(2026, 10, 2), date(2026, 10, 1), "before from"),
        (date(2020, 1, 1), date(2025, 1, 1), "at most 5 years"),
        (date(2026, 10, 1), None, "both"),
        (None, date(2026, 10, 1), "both"),
        (date(1900, 1, 1), date(1900, 1, 2), "dates from"),
    ],
)
def test_a_period_is_bounded(first: date | None, last: date | None, why: str) -> None:
    with pytest.raises(PeriodRefused, match=why):
        Period.of(first, last)


def test_a_period_of_just_under_five_years_is_accepted() -> None:
    assert Period.of(date(2020, 1, 1), date(2024, 12, 31)).last_day == date(2024, 12, 31)


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-10-02", "to": "2026-10-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "2026-13-01", "to": "2026-12-01"},
        {"from": "yesterday", "to": "2026-12-01"},
        {"from": "2026-10-01"},
    ],
)
async def test_statistics_with_a_bad_period_answer_422(query: dict[str, str]) -> None:
    transport = httpx.ASGITransport(app=app_with(InMemoryRecorder()))
    async with httpx.AsyncClient(transport=transport, base_url="http://a") as http:
        answer = await http.get("/api/v1/statistics", params=query, headers=auth("finance-staff"))
    assert answer.status_code == 422, answer.text
