"""A rebuild run while cases are opened and stepped converges to the live result (real SecantusDB).

The live consumer here is the real projection code behind the real dedupe transaction, fed by tailing the
store's global order (what the relay publishes) instead of Kafka, so the race with catch-up is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import AsyncIterator, Callable, Coroutine

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.casequery.projections.case_view import CASE_VIEW, CaseViews, fold_all
from services.casequery.projections.generations import Generations
from services.casequery.rebuild import rebuild
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.sequencer import LeaseLost, Sequencer
from shared.messaging.consumer import Deduplicator, is_transient
from tests.integration.test_casequery_view_writes import record_step, scripted_steps
from tests.support import current_collection, eventually

# Quarantined from `make test` (run it with `make test-soak`): in some full-suite runs it failed and then hung past
# pytest's timeout, while it passes alone in seconds; the version guard it exercises is also pinned by
# tests/integration/test_casequery_view_writes.py, which always runs.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("RUN_SOAK") != "1", reason="quarantined soak test: make test-soak"),
]
log = logging.getLogger(__name__)
STEPS = len(scripted_steps("any"))


class LiveConsumer:
    """Applies every case event in global order once per event id, retrying transient failures."""

    def __init__(self, db: AsyncDatabase, recorder: MongoRecorder) -> None:
        self._recorder = recorder
        self._views = CaseViews(Generations(db).of(CASE_VIEW), recorder)  # as the service resolves it
        self._dedupe = Deduplicator(db.client, db, "case-view-test")
        self.position = 0
        self.retries = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self._recorder.read_all(self.position, 50)
            for envelope in batch:
                if envelope.stream_type == "case":
                    await self._handle(envelope)
                self.position = envelope.position or self.position
            if not batch:
                await asyncio.sleep(0.01)

    async def _handle(self, envelope: EventEnvelope) -> None:
        while True:
            try:
                await self._dedupe.once(str(envelope.event_id), lambda s: self._views.apply(envelope, s))
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.retries += 1
                await asyncio.sleep(0.01)


class Traffic:
    """Opens cases and takes their next step, at random, until stopped."""

    def __init__(self, recorder: MongoRecorder) -> None:
        self._recorder = recorder
        self.versions: dict[str, int] = {}
        self._random = random.Random(7)

    async def step(self) -> None:
        """Open a case or step one that still has steps to take."""
        stepping = [c for c, v in self.versions.items() if v < STEPS]
        if not stepping or self._random.random() < 0.3:
            case_id = f"case-{len(self.versions):04d}"
            self.versions[case_id] = 0
        else:
            case_id = self._random.choice(stepping)
        version = self.versions[case_id]
        await record_step(self._recorder, case_id, version, scripted_steps(case_id)[version])
        self.versions[case_id] = version + 1

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()
            # A steady rate the live consumer keeps up with on a loaded machine (it runs one transaction
            # per event), while still opening and stepping cases throughout both rebuilds. A CI machine runs
            # the rest of the suite's servers beside it: leave the consumer room to keep up.
            await asyncio.sleep(0.03)


@contextlib.asynccontextmanager
async def running(
    *loops: Callable[[asyncio.Event], Coroutine[None, None, None]],
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run loops as tasks; on exit ask them to stop between two operations, cancel only a stuck one."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop(stop)) for loop in loops]
    try:
        yield tasks
    finally:
        # Cancelling mid-transaction could leave it open on the server, and dropping the test's database
        # would then wait for it: stop cleanly instead.
        stop.set()
        _, stuck = await asyncio.wait(tasks, timeout=120)
        for task in stuck:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def keep_sequencing(db: AsyncDatabase, stop: asyncio.Event) -> None:
    """Number committed events, as the relay does in production."""
    sequencer = Sequencer(db)
    while not stop.is_set():
        try:
            if await sequencer.sequence_once():
                continue
        except (LeaseLost, BulkWriteError) as exc:  # as the relay: read the truth again next round
            log.warning("sequencer: %r", exc)
        await asyncio.sleep(0.005)


async def test_given_cases_opened_and_stepped_during_a_rebuild_then_every_view_equals_the_fold_of_its_events(
    mongo_db: AsyncDatabase,
) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    traffic, consumer = Traffic(recorder), LiveConsumer(mongo_db, recorder)
    for _ in range(120):  # history before the rebuild, so its replay takes a while
        await traffic.step()
    opened_before = len(traffic.versions)

    async def caught_up(cases: int) -> str | None:
        if died := [t.exception() for t in background if t.done()]:
            raise AssertionError(f"a background loop died: {died!r}")
        head = await recorder.head_position()
        shown = await (await current_collection(mongo_db, CASE_VIEW)).count_documents({})
        appended = sum(traffic.versions.values())  # only this test writes: positions run 1..appended
        # Named (not True) so a timeout says how far each side got.
        state = f"head {head} of {appended}, consumer at {consumer.position}, {shown} views of {cases} cases"
        caught_up.last = state  # type: ignore[attr-defined]
        return state if head == appended and consumer.position >= head and shown == cases else None

    async def live_gets_ahead(cases: int) -> None:
        # Between swap and catch-up: cases are opened and the live consumer writes them into the
        # swapped-in view first, so the catch-up meets views it did not write (and, later, newer ones).
        last = f"case-{len(traffic.versions) + cases - 1:04d}"

        async def shown() -> object:
            return await (await current_collection(mongo_db, CASE_VIEW)).find_one({"_id": last}, {"_id": 1})

        await eventually(shown, 60, f"the live consumer to show {last}")

    async with running(lambda stop: keep_sequencing(mongo_db, stop), consumer.run) as background:
        await eventually(lambda: caught_up(opened_before), 120, "the live view of the history")
        async with running(traffic.run) as writers:
            # Small pages stretch both the replay and the catch-up, so traffic interleaves with each page.
            for _ in range(2):
                replayed = await rebuild(
                    mongo_db, recorder, page=10, progress=False, swapped=lambda: live_gets_ahead(3)
                )
            died = [t.exception() for t in [*background, *writers] if t.done()]
            assert not died, f"a background loop died: {died!r}"
        opened_during = len(traffic.versions)
        try:
            await eventually(lambda: caught_up(opened_during), 150, "the live consumer to reach the head")
        except AssertionError:
            views = await current_collection(mongo_db, CASE_VIEW)
            ids = [d["_id"] async for d in views.find({}, {"_id": 1})]
            missing = sorted(set(traffic.versions) - set(ids))
            extra = sorted(i for i in set(ids) if ids.count(i) > 1 or i not in traffic.versions)
            raise AssertionError(f"{caught_up.last}; missing {missing[:10]}, extra {extra[:10]}") from None  # type: ignore[attr-defined]

    assert replayed > 120
    assert opened_during > opened_before  # cases were opened while rebuilding, not only before
    views = await current_collection(mongo_db, CASE_VIEW)
    for case_id in traffic.versions:
        view = await views.find_one({"_id": case_id})
        assert view == fold_all(await recorder.read_stream(case_id)), case_id
