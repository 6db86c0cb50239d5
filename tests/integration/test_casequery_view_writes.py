"""Case view writes on a real SecantusDB: guarded by the stream version, idempotent under replay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.case_view import CASE_VIEW, CaseViews, ViewWriteRaced, fold_all
from services.intake.domain.case import open_case
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.casework import (
    CaseReopened,
    CaseResolved,
    ConciergeAssignedToCase,
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
from shared.contracts.envelope import Actor, EventEnvelope
from shared.contracts.events import event_type_of
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.recorder import NewEvent, Recording
from tests.support import case_body

pytestmark = pytest.mark.integration
T0 = datetime(2026, 10, 8, 9, tzinfo=UTC)


def scripted_steps(case_id: str, n: int = 1) -> list[BaseModel]:
    """A case's whole life: opened, assigned, clarified, tasks chased/recomputed/cancelled/closed, ...reopened."""
    request = OpenCaseRequest.model_validate(case_body(n))
    due = T0 + timedelta(days=7)
    return [
        open_case(case_id, request, source="http", request_ref=f"k-{case_id}"),
        ConciergeAssignedToCase(staff_id="s1", staff_name="张三", board_event_id="b1"),
        ProblemClarified(summary="补贴资金未到账", sections=["预算科", "国库科"]),
        CoordinationTaskOpened(
            task_id="t1",
            section="预算科",
            description="核对拨付",
            working_days=5,
            opened_at=T0,
            due_at=due,
            due_provisional=False,
        ),
        CoordinationTaskChased(task_id="t1", note="请尽快", overdue=False),
        CoordinationTaskOpened(
            task_id="t2",
            section="国库科",
            description="支付",
            working_days=3,
            opened_at=T0,
            due_at=due,
            due_provisional=True,
        ),
        CoordinationTaskDueRecomputed(
            task_id="t2",
            previous_due_at=due,
            due_at=due + timedelta(days=1),
            due_provisional=False,
            calendar_year=2027,
            calendar_version=1,
        ),
        CoordinationTaskChased(task_id="t1", note="再催", overdue=True),
        CoordinationTaskCancelled(task_id="t2", reason="并入t1办理"),
        CoordinationTaskClosed(task_id="t1", outcome="已拨付"),
        ProcedureHandled(description="代办拨付手续"),
        PolicyRecommended(policy="稳岗补贴", note="可申报"),
        CaseResolved(summary="资金已到账", settlement_intent=True),
        RatingCollected(rating=2, comment="太慢"),
        CaseReopened(reason="评价较低", flagged_for_leadership=True),
        ProcedureHandled(description="补充说明"),
        CaseResolved(summary="已向企业说明", settlement_intent=True),
        RatingCollected(rating=5, comment="满意"),
    ]


async def record_step(recorder: MongoRecorder, case_id: str, version: int, step: BaseModel) -> EventEnvelope:
    """Append one step as its own command (as the services do), at the given expected version."""
    event_type, schema = event_type_of(step)
    recording = Recording(
        stream_id=case_id,
        stream_type="case",
        expected_version=version,
        bureau="finance",
        actor=Actor(kind="service", id="test"),
        command_id=f"{case_id}:{version}",
        correlation_id=uuid.uuid4(),
    )
    [envelope] = (
        await recorder.append(recording, [NewEvent(event_type, schema, step.model_dump(mode="json"))])
    ).events
    return envelope


async def scripted_case(recorder: MongoRecorder, case_id: str, n: int = 1) -> list[EventEnvelope]:
    """Record a scripted case history; return its envelopes as the store holds them."""
    for version, step in enumerate(scripted_steps(case_id, n)):
        await record_step(recorder, case_id, version, step)
    return await recorder.read_stream(case_id)


async def stored(collection: AsyncCollection, case_id: str) -> dict[str, Any] | None:
    return await collection.find_one({"_id": case_id})


@pytest.fixture
def recorder(mongo_db: AsyncDatabase) -> MongoRecorder:
    return MongoRecorder(mongo_db.client, mongo_db)


async def test_given_a_scripted_case_when_every_event_is_delivered_twice_then_the_view_is_its_fold(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await scripted_case(recorder, "c-twice")
    views = CaseViews(mongo_db[CASE_VIEW], recorder)

    for envelope in events:
        await views.apply(envelope)
        await views.apply(envelope)
        assert (await stored(mongo_db[CASE_VIEW], "c-twice") or {})["version"] == envelope.version

    view = await stored(mongo_db[CASE_VIEW], "c-twice")
    assert view == fold_all(events)
    assert view is not None and [t["chased"] for t in view["tasks"]] == [2, 0]
    assert view["status"] == "closed" and view["flagged_for_leadership"]


async def test_given_a_view_that_moved_on_when_old_events_are_replayed_then_it_does_not_change(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await scripted_case(recorder, "c-replay")
    views = CaseViews(mongo_db[CASE_VIEW], recorder)
    for envelope in events:
        await views.apply(envelope)
    before = await stored(mongo_db[CASE_VIEW], "c-replay")

    for envelope in [*events, *reversed(events)]:  # the live consumer path, outside and inside a transaction
        await views.apply(envelope)
        async with mongo_db.client.start_session() as session:
            await session.with_transaction(lambda s, e=envelope: views.apply(e, s))  # type: ignore[misc]
    for page in (events, events[:5], events[3:9], events[-1:]):  # the rebuild path, old pages
        await views.apply_batch(page)

    assert await stored(mongo_db[CASE_VIEW], "c-replay") == before == fold_all(events)


async def test_given_a_newer_view_when_a_stale_catch_up_writes_then_the_newer_view_stays(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await scripted_case(recorder, "c-stale")
    views = CaseViews(mongo_db[CASE_VIEW], recorder)
    await views.apply(events[6])  # the live consumer is at version 7 (filled the gap from the store)

    await views.apply_batch(
        events[:6]
    )  # a catch-up page that met the case at version 1: a fresh insert loses
    await views.apply_batch(
        events[3:6]
    )  # a page that loaded the view: a guarded replace that matches nothing

    assert await stored(mongo_db[CASE_VIEW], "c-stale") == fold_all(events[:7])


@pytest.mark.parametrize("writer", ["catch-up", "consumer"])
async def test_given_a_view_moved_on_after_the_writers_read_when_it_writes_then_the_newer_view_stays(
    mongo_db: AsyncDatabase, recorder: MongoRecorder, writer: str
) -> None:
    events = await scripted_case(recorder, "c-moved")
    views = CaseViews(mongo_db[CASE_VIEW], recorder)
    await views.apply_batch(events[:3])
    snapshot = await stored(mongo_db[CASE_VIEW], "c-moved")  # the writer reads version 3 ...
    await views.apply(events[7])  # ... the other one writes version 8 ...
    late = CaseViews(RacedCollection(mongo_db[CASE_VIEW], snapshot), recorder)  # type: ignore[arg-type]

    if writer == "catch-up":  # ... and the writer folds 4..6 onto its snapshot and writes version 6
        await late.apply_batch(events[3:6])
    else:
        await late.apply(events[5])

    assert await stored(mongo_db[CASE_VIEW], "c-moved") == fold_all(events[:8])


async def test_given_an_older_view_created_meanwhile_when_catch_up_inserts_then_it_advances_it(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await scripted_case(recorder, "c-older")
    await scripted_case(recorder, "c-other", 2)
    other = await recorder.read_stream("c-other")
    views = CaseViews(mongo_db[CASE_VIEW], recorder)
    await views.apply(events[1])  # the live consumer created the view at version 2

    await views.apply_batch([events[0], other[0], *events[1:9], *other[1:3]])  # no error: re-checked

    assert await stored(mongo_db[CASE_VIEW], "c-older") == fold_all(events[:9])
    assert await stored(mongo_db[CASE_VIEW], "c-other") == fold_all(other[:3])


class RacedCollection:
    """A collection whose first find_one answers a stale snapshot, as when another writer moves right after."""

    def __init__(self, collection: AsyncCollection, snapshot: dict[str, Any] | None = None) -> None:
        self._collection, self._snapshot, self._missed = collection, snapshot, False

    async def find_one(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        if not self._missed:
            self._missed = True
            return self._snapshot
        return await self._collection.find_one(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


async def test_given_a_view_created_after_the_consumers_read_when_it_inserts_in_a_transaction_then_it_retries(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await scripted_case(recorder, "c-race")
    await CaseViews(mongo_db[CASE_VIEW], recorder).apply_batch(events[:4])  # catch-up wrote version 4
    raced = CaseViews(RacedCollection(mongo_db[CASE_VIEW]), recorder)  # type: ignore[arg-type]

    async with mongo_db.client.start_session() as session:
        with pytest.raises(ViewWriteRaced):  # transient: the consumer retries the message, never drops it
            await session.with_transaction(lambda s: raced.apply(events[4], s))
        await session.with_transaction(lambda s: raced.apply(events[4], s))

    assert await stored(mongo_db[CASE_VIEW], "c-race") == fold_all(events[:5])


async def test_given_a_view_created_after_a_plain_read_when_it_inserts_then_it_replaces_only_if_older(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await scripted_case(recorder, "c-plain")
    await CaseViews(mongo_db[CASE_VIEW], recorder).apply_batch(events[:8])

    await CaseViews(RacedCollection(mongo_db[CASE_VIEW]), recorder).apply(events[4])  # type: ignore[arg-type]
    assert await stored(mongo_db[CASE_VIEW], "c-plain") == fold_all(events[:8])
    await CaseViews(RacedCollection(mongo_db[CASE_VIEW]), recorder).apply(events[10])  # type: ignore[arg-type]
    assert await stored(mongo_db[CASE_VIEW], "c-plain") == fold_all(events[:11])


async def test_given_a_view_remembered_by_one_consumer_when_another_moved_it_on_then_nothing_is_lost(
    mongo_db: AsyncDatabase, recorder: MongoRecorder
) -> None:
    events = await scripted_case(recorder, "c-remembered")
    here = CaseViews(mongo_db[CASE_VIEW], recorder, remember=100)
    there = CaseViews(mongo_db[CASE_VIEW], recorder, remember=100)
    await here.apply_batch(events[:1])  # remembered here at version 1
    await there.apply_batch(events[:4])  # another instance (a rebalance) took the case to version 4

    await here.apply_batch(events[1:2])  # folded from what it remembers: the guard keeps version 4
    assert await stored(mongo_db[CASE_VIEW], "c-remembered") == fold_all(events[:4])

    await here.apply_batch(events[4:6])  # what it remembers no longer precedes these: it reads the view
    assert await stored(mongo_db[CASE_VIEW], "c-remembered") == fold_all(events[:6])
    await here.apply_batch(events[6:])  # and now it remembers the view it wrote, and goes on from there
    assert await stored(mongo_db[CASE_VIEW], "c-remembered") == fold_all(events)
