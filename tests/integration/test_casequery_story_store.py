"""Case stories and the leadership filters on a real SecantusDB: guarded writes, gaps, replays, rebuild, queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.application.filters import CaseFilter
from services.casequery.application.queries import list_cases
from services.casequery.application.stories import MongoStories
from services.casequery.projections.story_store import (
    CASE_STORY,
    CASE_STORY_BOARDS,
    CASE_STORY_QUEUE,
    CaseStories,
)
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.recorder import NewEvent, Recording
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


LIVE = (CASE_STORY, CASE_STORY_BOARDS, CASE_STORY_QUEUE)
REBUILT = ("s_rebuild", "b_rebuild", "q_rebuild")
WAITING = {"c2": credit_code(2), "c3": credit_code(3)}  # the cases that queued, by their enterprises


def stories_in(
    db: AsyncDatabase, names: tuple[str, str, str], recorder: MongoRecorder, **kw: Any
) -> CaseStories:
    return CaseStories(db[names[0]], db[names[1]], db[names[2]], recorder, **kw)


def reader_of(db: AsyncDatabase, names: tuple[str, str, str] = LIVE) -> MongoStories:
    return MongoStories(db[names[0]], db[names[1]], db[names[2]])


async def snapshot(db: AsyncDatabase, names: tuple[str, str, str]) -> list[list[Any]]:
    return [[d async for d in db[name].find({}).sort("_id", 1)] for name in names]


async def test_given_board_events_delivered_twice_and_out_of_order_then_stories_and_queue_are_the_fold(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await record_board(recorder, "board-finance")
    live = stories_in(mongo_db, LIVE, recorder)

    # When the fourth event arrives first (a gap: filled from the store), then all of them one by one, twice
    await live.apply(events[3])
    for envelope in [*events, *events]:
        await live.apply(envelope)

    # Then the waiting case is first in the queue, the served one has its explanation, nothing doubled
    reader = reader_of(mongo_db)
    found = await reader.of_cases("finance", ["c1", "c2", "c3"])
    places = await reader.queue_places("finance", WAITING)
    assert {case: place["position"] for case, place in places.items()} == {"c3": 1}
    assert [e["decision"]["kind"] for e in found["c2"]["entries"]] == ["queued", "assigned"]
    assert [e["decision"]["kind"] for e in found["c1"]["entries"]] == ["assigned", "left_enterprise"]
    assert found["c1"]["assignment"]["candidates"][0]["name"] == "王科长"
    assert await reader.of_cases("innovation", ["c1"]) == {}  # another bureau's case is not found

    # And a rebuild of the same events in pages gives the same documents
    rebuilt = stories_in(mongo_db, REBUILT, recorder)
    await rebuilt.apply_batch(events[:3])
    await rebuilt.apply_batch(events[3:])
    assert await snapshot(mongo_db, REBUILT) == await snapshot(mongo_db, LIVE)


async def test_given_the_live_consumer_one_event_at_a_time_and_again_then_existing_stories_keep_their_notes(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    """The live consumer takes a note's story as new without reading it; a story that exists is folded onto."""
    events = await record_board(recorder, "board-finance")
    rebuilt = stories_in(mongo_db, REBUILT, recorder)
    await rebuilt.apply_batch(events)  # the fold of every event, for comparison

    # Every event once, then again, each time by a consumer that just started (nothing remembered).
    for _delivery in range(2):
        live = stories_in(mongo_db, LIVE, recorder, remember_boards=10)
        for envelope in events:
            await live.apply_batch([envelope])

    assert await snapshot(mongo_db, LIVE) == await snapshot(mongo_db, REBUILT)
    found = await reader_of(mongo_db).of_cases("finance", ["c1", "c2"])
    assert [e["decision"]["kind"] for e in found["c2"]["entries"]] == [
        "queued",
        "assigned",
    ]  # two batches, one story
    assert [e["decision"]["kind"] for e in found["c1"]["entries"]] == ["assigned", "left_enterprise"]


async def test_given_a_batch_that_died_after_its_queue_entries_before_its_board_then_the_next_one_folds_right(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    """Entries newer than the board cannot be paired with it: the board stream is folded again in memory."""
    events = await record_board(recorder, "board-finance")
    await stories_in(mongo_db, REBUILT, recorder).apply_batch(events)  # what a clean fold writes

    # Given a consumer that wrote the first two events, then a batch of the rest that wrote its stories and queue
    # entries and died before its board
    first = stories_in(mongo_db, LIVE, recorder, remember_boards=10)
    await first.apply_batch(events[:2])
    for rebuilt, live in zip(REBUILT[::2], LIVE[::2], strict=True):  # stories and entries, not the board
        async for doc in mongo_db[rebuilt].find({}):
            await mongo_db[live].replace_one({"_id": doc["_id"]}, doc, upsert=True)

    # When the batch comes again to a consumer that just started
    await stories_in(mongo_db, LIVE, recorder, remember_boards=10).apply_batch(events[2:])

    # Then every document is the clean fold's, and the waiting case has its place
    assert await snapshot(mongo_db, LIVE) == await snapshot(mongo_db, REBUILT)
    places = await reader_of(mongo_db).queue_places("finance", WAITING)
    assert {case: place["position"] for case, place in places.items()} == {"c3": 1}


class Sizes(monitoring.CommandListener):
    """The bytes each command sends and gets back, by command name and collection."""

    def __init__(self) -> None:
        self.sent: dict[int, tuple[str, int]] = {}
        self.moved: list[tuple[str, int]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = f"{event.command_name} {event.command.get(event.command_name)}"
        self.sent[event.request_id] = (name, len(bson.encode(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        name, size = self.sent.pop(event.request_id, ("?", 0))
        self.moved.append((name, size + len(bson.encode(event.reply))))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.sent.pop(event.request_id, None)

    def take(self) -> list[tuple[str, int]]:
        moved, self.moved = self.moved, []
        return moved


async def test_given_a_long_queue_then_a_board_event_and_a_place_move_as_few_bytes_as_with_a_short_one(
    infra: Any, mongo_db: AsyncDatabase
) -> None:
    """Each waiting enterprise is a document of its own: nothing rewrites or reads the whole queue."""
    sizes = Sizes()
    client = AsyncMongoClient(infra.mongo_uri, tz_aware=True, tzinfo=UTC, event_listeners=[sizes])
    db = client[mongo_db.name]
    recorder = MongoRecorder(client, db)
    live = stories_in(db, LIVE, recorder, remember_boards=10)
    reader = reader_of(db)
    try:
        for n in range(1, 302):
            recording = Recording(
                stream_id="board-finance",
                stream_type="board",
                expected_version=n - 1,
                bureau="finance",
                actor=Actor(kind="service", id="test"),
                command_id=uuid.uuid4().hex,
                correlation_id=uuid.uuid4(),
            )
            data = {
                "enterprise": enterprise(n),
                "case_id": f"c{n}",
                "category": "statistics",
                "reason": "busy",
            }
            await recorder.append(recording, [NewEvent("EnterpriseQueued", 1, data)])
        events = await recorder.read_stream("board-finance")
        await live.apply_batch(events[:1])
        await live.apply_batch(events[1:2])
        sizes.take()

        async def cost(*step: Any) -> tuple[int, int]:
            """Return the commands and bytes of one step."""
            await step[0](*step[1:])
            moved = sizes.take()
            return len(moved), sum(size for _, size in moved)

        # When the second enterprise is queued and read, and then the 301st (300 ahead of it)
        short_write = await cost(live.apply_batch, events[2:3])
        short_read = await cost(reader.queue_places, "finance", {"c3": credit_code(3)})
        await live.apply_batch(events[3:300])
        sizes.take()
        long_write = await cost(live.apply_batch, events[300:301])
        long_read = await cost(reader.queue_places, "finance", {"c301": credit_code(301)})

        # Then both cost as many commands and about as many bytes
        assert (await reader.queue_places("finance", {"c301": credit_code(301)}))["c301"]["position"] == 301
        assert long_write[0] == short_write[0] and long_read[0] == short_read[0]
        assert long_write[1] < 1.5 * short_write[1] and long_read[1] < 1.5 * short_read[1], (
            short_write,
            long_write,
        )
    finally:
        await client.close()


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
