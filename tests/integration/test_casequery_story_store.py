"""Case stories and the leadership filters on a real SecantusDB: guarded writes, gaps, replays, rebuild, queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.application.filters import CaseFilter
from services.casequery.application.queries import list_cases
from services.casequery.application.stories import MongoStories
from services.casequery.projections.story_store import CASE_STORY, CASE_STORY_BOARDS, CaseStories
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.recorder import NewEvent, Recording
from shared.messaging.consumer import Deduplicator
from shared.workdays.seed import default_calendar
from tests.support import credit_code

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 9, 2, tzinfo=UTC)  # Monday 10:00 in Shanghai


@pytest.fixture
def recorder(mongo_db: AsyncDatabase) -> MongoRecorder:
    return MongoRecorder(mongo_db.client, mongo_db)


def enterprise(n: int) -> dict[str, str]:
    return {"name": f"测试企业{n}有限公司", "credit_code": credit_code(n)}


def board_script() -> list[tuple[str, dict[str, Any]]]:
    """A board: one person, an enterprise served, two waiting, the first waiting served when the first resolves."""

    def queued(n: int, case_id: str) -> dict[str, Any]:
        reason = "no management-post person is free"
        return {"enterprise": enterprise(n), "case_id": case_id, "category": "statistics", "reason": reason}

    def assigned(n: int, case_id: str) -> dict[str, Any]:
        candidate = {"staff_id": "s1", "eligible": True, "reason": "eligible", "enterprises_served": 0}
        return {
            "enterprise": enterprise(n),
            "staff_id": "s1",
            "staff_name": "王科长",
            "post": "section_chief",
            "case_ids": [case_id],
            "category": "statistics",
            "candidates": [candidate],
            "rule_version": "2026.11-2",
            "reason": "王科长: eligible",
        }

    return [
        (
            "StaffMemberAdded",
            {"staff_id": "s1", "name": "王科长", "post": "section_chief", "section": "预算科"},
        ),
        ("ConciergeAssigned", assigned(1, "c1")),
        ("EnterpriseQueued", queued(2, "c2")),
        ("EnterpriseQueued", queued(3, "c3")),
        ("CaseLeftEnterprise", {"enterprise": enterprise(1), "case_id": "c1", "staff_id": "s1"}),
        ("ConciergeReleased", {"enterprise": enterprise(1), "staff_id": "s1"}),
        ("ConciergeAssigned", assigned(2, "c2")),
    ]


async def record_board(recorder: MongoRecorder, stream_id: str) -> list[EventEnvelope]:
    for version, (event_type, data) in enumerate(board_script()):
        recording = Recording(
            stream_id=stream_id,
            stream_type="board",
            expected_version=version,
            bureau="finance",
            actor=Actor(kind="service", id="test"),
            command_id=uuid.uuid4().hex,
            correlation_id=uuid.uuid4(),
        )
        await recorder.append(recording, [NewEvent(event_type, 1, data)])
    return await recorder.read_stream(stream_id)


async def apply_in(stories: CaseStories, envelope: EventEnvelope, session: AsyncClientSession) -> None:
    await stories.apply(envelope, session)


async def snapshot(db: AsyncDatabase, stories: str, boards: str) -> tuple[list[Any], list[Any]]:
    return (
        [d async for d in db[stories].find({}).sort("_id", 1)],
        [d async for d in db[boards].find({}).sort("_id", 1)],
    )


async def test_given_board_events_delivered_twice_out_of_order_and_in_a_transaction_then_stories_are_the_fold(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await record_board(recorder, "board-finance")
    live = CaseStories(mongo_db[CASE_STORY], mongo_db[CASE_STORY_BOARDS], recorder)
    dedupe = Deduplicator(mongo_db.client, mongo_db, "story-test")

    # When the fourth event arrives first (a gap: filled from the store), then all of them, twice, in transactions
    await live.apply(events[3])
    for envelope in [*events, *events]:
        await dedupe.once(uuid.uuid4().hex, partial(apply_in, live, envelope))

    # Then the waiting case is first in the queue, the served one has its explanation, nothing doubled
    reader = MongoStories(mongo_db[CASE_STORY], mongo_db[CASE_STORY_BOARDS])
    board = await reader.board("finance")
    found = await reader.of_cases("finance", ["c1", "c2", "c3"])
    assert board is not None and [w["case_ids"] for w in board["queue"]] == [["c3"]]
    assert [e["decision"]["kind"] for e in found["c2"]["entries"]] == ["queued", "assigned"]
    assert [e["decision"]["kind"] for e in found["c1"]["entries"]] == ["assigned", "left_enterprise"]
    assert found["c1"]["assignment"]["candidates"][0]["name"] == "王科长"
    assert await reader.of_cases("innovation", ["c1"]) == {}  # another bureau's case is not found

    # And a rebuild of the same events in pages gives the same documents
    rebuilt = CaseStories(mongo_db["s_rebuild"], mongo_db["b_rebuild"], recorder)
    await rebuilt.apply_batch(events[:3])
    await rebuilt.apply_batch(events[3:])
    assert await snapshot(mongo_db, "s_rebuild", "b_rebuild") == await snapshot(
        mongo_db, CASE_STORY, CASE_STORY_BOARDS
    )


async def test_given_the_live_consumer_one_event_at_a_time_and_again_then_existing_stories_keep_their_notes(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    """The live consumer takes a note's story as new without reading it; a story that exists is folded onto."""
    events = await record_board(recorder, "board-finance")
    rebuilt = CaseStories(mongo_db["s_rebuild"], mongo_db["b_rebuild"], recorder)
    await rebuilt.apply_batch(events)  # the fold of every event, for comparison

    # Every event once, then again, each time by a consumer that just started (nothing remembered).
    for _delivery in range(2):
        live = CaseStories(mongo_db[CASE_STORY], mongo_db[CASE_STORY_BOARDS], recorder, remember_boards=10)
        for envelope in events:
            await live.apply_batch([envelope])

    assert await snapshot(mongo_db, CASE_STORY, CASE_STORY_BOARDS) == await snapshot(
        mongo_db, "s_rebuild", "b_rebuild"
    )
    found = await MongoStories(mongo_db[CASE_STORY], mongo_db[CASE_STORY_BOARDS]).of_cases(
        "finance", ["c1", "c2"]
    )
    assert [e["decision"]["kind"] for e in found["c2"]["entries"]] == [
        "queued",
        "assigned",
    ]  # two batches, one story
    assert [e["decision"]["kind"] for e in found["c1"]["entries"]] == ["assigned", "left_enterprise"]


def view(case_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_id": case_id,
        "case_id": case_id,
        "bureau": "finance",
        "opened_at": NOW - timedelta(days=30),
        "concierge": None,
        "waiting_since": None,
        "tasks": [],
        "flagged_for_leadership": False,
    }
    return {**base, **fields}


async def test_given_cases_in_every_situation_when_filtered_by_leadership_filters_then_the_right_ones_answer(
    mongo_db: AsyncDatabase,
) -> None:
    views = mongo_db["case_view"]
    due_past, due_later = NOW - timedelta(days=1), NOW + timedelta(days=1)
    await views.insert_many(
        [
            view("flagged", flagged_for_leadership=True, concierge={"staff_id": "s1"}),
            view("overdue", concierge={"staff_id": "s2"}, tasks=[{"state": "open", "due_at": due_past}]),
            view(
                "closed-late", concierge={"staff_id": "s2"}, tasks=[{"state": "closed", "due_at": due_past}]
            ),
            view("on-time", concierge={"staff_id": "s2"}, tasks=[{"state": "open", "due_at": due_later}]),
            view("waiting-long", waiting_since=NOW - timedelta(days=14)),
            view("waiting-today", waiting_since=NOW - timedelta(hours=1)),
            view("other-bureau", bureau="innovation", flagged_for_leadership=True),
        ]
    )

    async def ids(**filters: Any) -> set[str]:
        found, total = await list_cases(
            "finance", CaseFilter(**filters), 200, 0, views=views, now=NOW, calendar=default_calendar()
        )
        assert total == len(found)
        return {d["case_id"] for d in found}

    assert await ids(flagged_for_leadership=True) == {"flagged"}
    assert "flagged" not in await ids(flagged_for_leadership=False)
    assert await ids(overdue=True) == {"overdue"}
    assert "overdue" not in await ids(overdue=False) and "on-time" in await ids(overdue=False)
    assert await ids(waiting_more_than=5) == {"waiting-long"}
    assert await ids(waiting_more_than=0) == {"waiting-long"}
    assert await ids(concierge="s2") == {"overdue", "closed-late", "on-time"}
    assert await ids(concierge="s2", overdue=True) == {"overdue"}
