"""Assignment's own MongoDB stores behave as their in-memory fakes: idempotency answers, snapshots, summaries."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from services.assignment.adapters.board_snapshots import InMemoryBoardSnapshots, MongoBoardSnapshots
from services.assignment.adapters.notice_prefixes import (
    NOTICE_PREFIXES,
    MemoryNoticePrefixes,
    MongoNoticePrefixes,
)
from services.assignment.application.policies import record_concierge_on_cases_when_assigned
from services.assignment.entrypoints.kafka import case_events_handler
from services.assignment.projections.case_summaries import (
    CaseSummaries,
    InMemoryCaseSummaries,
    MongoCaseSummaries,
    fold_events,
)
from shared.contracts.casework import CaseResolved, ProblemClarified
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.recorder import EventRecorder
from shared.idempotency import InMemoryIdempotencyStore, MongoIdempotencyStore, RecordedAnswer
from tests.conftest import Servers
from tests.unit.test_assignment_support import app_with, auth, open_case, record

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "mongo"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_the_first_recorded_answer_wins(kind: str, mongo_db: AsyncDatabase) -> None:
    store = InMemoryIdempotencyStore() if kind == "memory" else MongoIdempotencyStore(mongo_db["idem"])
    first = RecordedAnswer("finance POST /x k", "f1", 201, {"recorded": ["A"], "detail": {"名": "一"}})
    second = RecordedAnswer("finance POST /x k", "f2", 201, {"recorded": ["B"]})

    assert await store.record(first) == first
    assert await store.record(second) == first
    assert await store.find("finance POST /x k") == first and await store.find("other") is None


async def test_a_newer_snapshot_replaces_an_older_one_and_never_the_reverse(
    kind: str, mongo_db: AsyncDatabase
) -> None:
    store = InMemoryBoardSnapshots() if kind == "memory" else MongoBoardSnapshots(mongo_db["snapshots"])
    await store.save("finance", 5, {"v": 5})
    await store.save("finance", 9, {"v": 9})
    await store.save("finance", 7, {"v": 7})
    assert await store.load("finance") == {"v": 9} and await store.load("innovation") is None


async def test_a_summary_is_folded_from_the_store_and_ignores_replays(
    kind: str, mongo_db: AsyncDatabase
) -> None:
    recorder: EventRecorder = (
        InMemoryRecorder() if kind == "memory" else MongoRecorder(mongo_db.client, mongo_db)
    )
    summaries: CaseSummaries = (
        InMemoryCaseSummaries(recorder)
        if kind == "memory"
        else MongoCaseSummaries(mongo_db["summaries"], recorder)
    )
    opened = await open_case(recorder, "c1", "finance", 1)
    await record(recorder, "c1", "finance", [ProblemClarified(summary="x", sections=["国库科"])])
    [resolved] = await record(recorder, "c1", "finance", [CaseResolved(summary="好", settlement_intent=True)])

    await summaries.fold(resolved)
    await summaries.fold(opened)

    [summary] = [s async for s in summaries.of_bureau("finance")]
    assert (summary["version"], summary["status"], summary["resolution"]) == (
        3,
        "resolved",
        {"settlement_intent": True},
    )
    assert [c async for c in summaries.cases()] == []


async def test_a_batch_of_case_events_folds_as_one_by_one_would_even_when_another_process_moved_a_case_on(
    kind: str, mongo_db: AsyncDatabase
) -> None:
    recorder: EventRecorder = (
        InMemoryRecorder() if kind == "memory" else MongoRecorder(mongo_db.client, mongo_db)
    )

    def summaries_of_a_process() -> CaseSummaries:
        if kind == "memory":
            return shared_memory
        return MongoCaseSummaries(mongo_db["summaries"], recorder)

    shared_memory = InMemoryCaseSummaries(recorder)
    here, elsewhere = summaries_of_a_process(), summaries_of_a_process()
    c1 = await open_case(recorder, "c1", "finance", 1)
    c2 = await open_case(recorder, "c2", "finance", 2)
    [clarified] = await record(
        recorder, "c1", "finance", [ProblemClarified(summary="x", sections=["国库科"])]
    )
    await here.fold_all([c1, c2, clarified, c1])  # two cases, one event repeated within the batch

    # Another instance folds c2 onwards; this process still remembers c2 at version 1.
    [resolved] = await record(recorder, "c2", "finance", [CaseResolved(summary="好", settlement_intent=True)])
    await elsewhere.fold_all([resolved])
    [reopened_c1] = await record(
        recorder, "c1", "finance", [CaseResolved(summary="办结", settlement_intent=False)]
    )
    [ask] = await record(recorder, "c2", "finance", [ProblemClarified(summary="再问", sections=["预算科"])])
    await here.fold_all(
        [resolved, ask, reopened_c1]
    )  # c2 from version 1 here: the write misses, so from the store

    by_case = {s["_id"]: s async for s in here.of_bureau("finance")}
    for case_id in ("c1", "c2"):
        expected = fold_events(None, await recorder.read_stream(case_id))
        assert expected is not None and expected["version"] == 3
        fields = ("version", "status", "resolution", "open_tasks")
        assert {f: by_case[case_id].get(f) for f in fields} == {f: expected.get(f) for f in fields}, case_id


class CountedWrites:
    """A collection that counts the writes sent to it (everything else passes through)."""

    def __init__(self, collection: Any) -> None:
        self._collection, self.writes = collection, 0

    async def bulk_write(self, *args: Any, **kwargs: Any) -> Any:
        self.writes += 1
        return await self._collection.bulk_write(*args, **kwargs)

    async def replace_one(self, *args: Any, **kwargs: Any) -> Any:
        self.writes += 1
        return await self._collection.replace_one(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


async def test_a_new_cases_summary_is_written_once_with_its_concierge_and_the_event_coming_back_writes_nothing(
    mongo_db: AsyncDatabase,
) -> None:
    """The case event assignment appended is folded with the batch that caused it, not a second time later."""
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    app = app_with(recorder)  # type: ignore[arg-type]
    state, collection = app.state, CountedWrites(mongo_db["summaries"])
    summaries = MongoCaseSummaries(collection, recorder)  # type: ignore[arg-type]
    handle = case_events_handler(
        boards=state.boards, cases=state.cases, calendars=state.calendars, summaries=summaries
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as http:
        staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
        assert (
            await http.post("/api/v1/staff", json=staff, headers=auth("finance-admin"))
        ).status_code == 201
    opened = await open_case(recorder, "c1", "finance", 1)

    # When the case's opening is handled: the board assigns 王科长 and the case records its concierge
    await handle([opened])
    [_, assigned] = await recorder.read_stream("c1")

    # Then its summary is written once, at the case's newest version, with the concierge
    summary = await mongo_db["summaries"].find_one({"_id": "c1"})
    assert (
        summary is not None
        and summary["version"] == 2
        and summary["concierge"] == {"staff_id": assigned.data["staff_id"]}
    )
    assert collection.writes == 1

    # And the case's own event coming back through Kafka (twice) writes nothing more
    await handle([assigned])
    await handle([assigned])
    assert collection.writes == 1
    assert (await mongo_db["summaries"].find_one({"_id": "c1"})) == summary


class Inserts(monitoring.CommandListener):
    """The documents of each insert command a client sends to the events collection."""

    def __init__(self) -> None:
        self.into_events: list[list[str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert" and event.command.get("insert") == "events":
            self.into_events.append([d["stream_id"] for d in event.command.get("documents", [])])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def with_one_section_chief(recorder: MongoRecorder) -> tuple[Any, Any]:
    """Assignment over this recorder with 王科长 on the finance roster: its state and its case-event handler."""
    app = app_with(recorder)  # type: ignore[arg-type]
    state = app.state
    handle = case_events_handler(
        boards=state.boards, cases=state.cases, calendars=state.calendars, summaries=state.summaries
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as http:
        staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
        hired = await http.post("/api/v1/staff", json=staff, headers=auth("finance-admin"))
        assert hired.status_code == 201, hired.text
    return state, handle


async def test_a_new_cases_concierge_goes_out_in_the_same_insert_as_the_boards_decision(
    infra: Servers, mongo_db: AsyncDatabase
) -> None:
    """One round trip for the board's decision and the case's record of it; the board event adds none."""
    inserts = Inserts()
    client = AsyncMongoClient(infra.mongo_uri, tz_aware=True, tzinfo=UTC, event_listeners=[inserts])
    try:
        recorder = MongoRecorder(client, client[mongo_db.name])
        state, handle = await with_one_section_chief(recorder)
        opened = await open_case(recorder, "c1", "finance", 1)
        second = await open_case(recorder, "c2", "finance", 1)  # the same enterprise: it joins 王科长
        inserts.into_events.clear()

        # When each opening is handled
        await handle([opened])
        await handle([second])

        # Then each board decision and the case's record of it went out in one insert, board first
        assert inserts.into_events == [["board-finance", "c1"], ["board-finance", "c2"]]
        for case_id in ("c1", "c2"):
            [_, assigned] = await recorder.read_stream(case_id)
            assert (assigned.event_type, assigned.data["staff_name"]) == ("ConciergeAssignedToCase", "王科长")
        # And the board events coming back through Kafka write nothing more
        for envelope in await recorder.read_stream("board-finance"):
            await record_concierge_on_cases_when_assigned(envelope, boards=state.boards, cases=state.cases)
        assert inserts.into_events == [["board-finance", "c1"], ["board-finance", "c2"]]
    finally:
        await client.close()


async def test_a_case_moved_on_by_another_process_gets_its_concierge_by_the_usual_way(
    mongo_db: AsyncDatabase,
) -> None:
    """The board's decision is stored; the case's record, refused in the joint insert, is decided again."""
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    state, handle = await with_one_section_chief(recorder)
    opened = await open_case(recorder, "c1", "finance", 1)
    state.cases.observe(opened)  # followed here at version 1 ...
    other = MongoRecorder(mongo_db.client, mongo_db)  # ... while another process records a step meanwhile
    await record(other, "c1", "finance", [ProblemClarified(summary="补贴未到账", sections=["国库科"])])

    await handle([opened])

    stream = await recorder.read_stream("c1")
    assert [e.event_type for e in stream] == ["CaseOpened", "ProblemClarified", "ConciergeAssignedToCase"]
    assert [e.event_type for e in await recorder.read_stream("board-finance")][-1] == "ConciergeAssigned"


async def test_a_notice_prefix_is_held_by_the_first_bureau_that_claims_it(
    kind: str, mongo_db: AsyncDatabase
) -> None:
    prefixes = MemoryNoticePrefixes() if kind == "memory" else MongoNoticePrefixes(mongo_db[NOTICE_PREFIXES])
    claims = await asyncio.gather(*(prefixes.claim("高新联合", b) for b in ("finance", "innovation") * 3))
    assert (
        len({holder for holder, _ in claims}) == 1
    )  # whichever came first, everyone is told the same holder
    assert [new for _, new in claims].count(True) == 1
    holder = claims[0][0]
    assert await prefixes.holder("高新联合") == holder and await prefixes.holder("高新无人") is None
    assert await prefixes.claim("高新联合", "planning") == (holder, False)
    assert await prefixes.claim("高新联合", holder) == (holder, False)  # the holder numbers under it again
    await prefixes.release("高新联合", "planning")  # not its claim: nothing changes
    assert (await prefixes.claim("高新联合", "planning"))[0] == holder
    await prefixes.release("高新联合", holder)
    assert await prefixes.claim("高新联合", "planning") == ("planning", True)


async def test_a_notice_prefix_claim_passes_on_only_from_its_holder_and_only_when_old(
    kind: str, mongo_db: AsyncDatabase
) -> None:
    prefixes = MemoryNoticePrefixes() if kind == "memory" else MongoNoticePrefixes(mongo_db[NOTICE_PREFIXES])
    await prefixes.claim("高新遗留", "innovation")
    assert not await prefixes.take_over(
        "高新遗留", "innovation", "finance", timedelta(minutes=2)
    )  # too fresh
    assert not await prefixes.take_over("高新遗留", "planning", "finance", timedelta(0))  # not the holder
    moves = await asyncio.gather(
        *(prefixes.take_over("高新遗留", "innovation", b, timedelta(0)) for b in ("finance", "planning"))
    )
    assert moves.count(True) == 1  # compare-and-set: one taker
    assert await prefixes.holder("高新遗留") == ("finance", "planning")[moves.index(True)]
