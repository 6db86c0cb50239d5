"""A rebuild swaps in a new generation of the read models by moving a pointer (real SecantusDB): nothing is copied,
the old generation is dropped, and live writes racing the flip are not lost."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.case_view import CASE_VIEW, CaseViews, fold_all
from services.casequery.projections.generations import GENERATIONS, Generations
from services.casequery.projections.money import CASE_MONEY
from services.casequery.projections.story_store import CASE_STORY
from services.casequery.rebuild import rebuild
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.sequencer import Sequencer
from tests.integration.test_casequery_view_writes import record_step, scripted_steps
from tests.support import current_collection

pytestmark = pytest.mark.integration


class Commands(monitoring.CommandListener):
    """Every command a client sends, with its target collection."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def sequenced(sequencer: Sequencer) -> None:
    """Number every pending event, as the relay does (one sequencer per test: it holds the lease)."""
    while await sequencer.sequence_once():
        pass


async def step_case(recorder: MongoRecorder, versions: dict[str, int], case_id: str) -> None:
    """Record the case's next scripted step (its opening when new)."""
    version = versions.get(case_id, 0)
    await record_step(recorder, case_id, version, scripted_steps(case_id)[version])
    versions[case_id] = version + 1


async def every_view_is_its_fold(db: AsyncDatabase, recorder: MongoRecorder, cases: list[str]) -> None:
    views = await current_collection(db, CASE_VIEW)
    for case_id in cases:
        assert await views.find_one({"_id": case_id}) == fold_all(await recorder.read_stream(case_id)), (
            case_id
        )


async def test_given_a_store_without_pointers_when_rebuilt_then_the_new_generation_is_read_and_nothing_was_copied(
    mongo_db: AsyncDatabase, infra: Any
) -> None:
    # Given cases projected live into the plain collection, as before generations existed
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    versions: dict[str, int] = {}
    for n in range(6):
        for _ in range(n + 1):
            await step_case(recorder, versions, f"case-{n}")
    await sequenced(sequencer)
    live = CaseViews(mongo_db[CASE_VIEW], recorder)
    for envelope in await recorder.read_all(0, 1000):
        await live.apply(envelope)
    live_views = [d async for d in mongo_db[CASE_VIEW].find().sort("_id", 1)]

    # When rebuilt, through a client that records every command it sends
    commands = Commands()
    client: AsyncMongoClient = AsyncMongoClient(
        infra.mongo_uri, tz_aware=True, tzinfo=UTC, event_listeners=[commands]
    )
    try:
        db = client[mongo_db.name]
        await rebuild(db, MongoRecorder(client, db), page=4, progress=False)
    finally:
        await client.close()

    # Then readers resolve the second generation, which holds the same views, and the plain one is gone
    pointer = await mongo_db[GENERATIONS].find_one({"_id": CASE_VIEW})
    assert pointer == {"_id": CASE_VIEW, "collection": "case_view__g2", "generation": 2}
    assert (await current_collection(mongo_db, CASE_VIEW)).name == "case_view__g2"
    assert [d async for d in mongo_db["case_view__g2"].find().sort("_id", 1)] == live_views
    names = set(await mongo_db.list_collection_names())
    assert CASE_VIEW not in names and {"case_view__g2", GENERATIONS} <= names
    # And nothing was copied: no rename, and each view was written once (by the replay itself)
    assert not [c for c in commands.sent if c[0] in ("renameCollection", "aggregate", "cloneCollection")]
    inserted = sum(1 for name, target in commands.sent if name == "insert" and target == "case_view__g2")
    assert inserted >= 1 and ("insert", CASE_VIEW) not in commands.sent

    # And a second rebuild moves on to the third generation and drops the second
    await rebuild(mongo_db, recorder, progress=False)
    assert (await current_collection(mongo_db, CASE_VIEW)).name == "case_view__g3"
    assert "case_view__g2" not in set(await mongo_db.list_collection_names())
    await every_view_is_its_fold(mongo_db, recorder, sorted(versions))


class EndOfReplay(MongoRecorder):
    """A recorder that runs a hook the first time a read finds nothing more: when the replay has ended."""

    def __init__(self, db: AsyncDatabase, hook: Any) -> None:
        super().__init__(db.client, db)
        self._hook, self._fired = hook, False

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, up_to: int | None = None
    ) -> list[EventEnvelope]:
        page = await super().read_all(after_position, limit, up_to)
        if not page and not self._fired:
            self._fired = True
            await self._hook()
        return page


async def test_given_live_writes_racing_the_flip_when_rebuilt_then_none_is_lost(
    mongo_db: AsyncDatabase,
) -> None:
    recorder, sequencer = MongoRecorder(mongo_db.client, mongo_db), Sequencer(mongo_db)
    versions: dict[str, int] = {}
    for n in range(5):
        await step_case(recorder, versions, f"case-{n}")
        await step_case(recorder, versions, f"case-{n}")
    await sequenced(sequencer)
    # The live consumer resolves the view through its own cached pointers, as the service does
    live_pointers = Generations(mongo_db)
    live = CaseViews(live_pointers.of(CASE_VIEW), recorder)
    for envelope in await recorder.read_all(0, 1000):
        await live.apply(envelope)
    written_to: list[str] = []

    async def live_traffic(cases: list[str]) -> None:
        head = await recorder.head_position()
        for case_id in cases:
            await step_case(recorder, versions, case_id)
        await sequenced(sequencer)
        written_to.append((await live_pointers.collection(CASE_VIEW)).name)
        for envelope in await recorder.read_all(head, 1000):
            await live.apply(envelope)

    # Given events recorded and applied by the live consumer after the replay read its last page: they go to
    # the old generation (the flip is yet to come) and must be applied again to the new one
    racing = EndOfReplay(mongo_db, lambda: live_traffic(["case-0", "case-1", "new-a"]))

    # When rebuilt; and once the live consumer writes the new generation, traffic gets ahead of the catch-up
    await rebuild(
        mongo_db, racing, page=3, progress=False, swapped=lambda: live_traffic(["case-1", "case-2", "new-b"])
    )

    # Then the race happened as described, and every case (the new ones too) shows its whole history
    assert written_to == [CASE_VIEW, "case_view__g2"]
    await every_view_is_its_fold(mongo_db, recorder, sorted(versions))
    assert await (await current_collection(mongo_db, CASE_VIEW)).count_documents({}) == len(versions) == 7
    assert CASE_VIEW not in set(await mongo_db.list_collection_names())  # the old generation is dropped


async def test_given_a_moved_pointer_then_a_resolver_keeps_the_old_one_no_longer_than_its_ttl(
    mongo_db: AsyncDatabase,
) -> None:
    now = [0.0]
    reader = Generations(mongo_db, ttl=1.0, clock=lambda: now[0])
    assert (await reader.collection(CASE_MONEY)).name == CASE_MONEY  # no pointer: the plain name

    current = await Generations(mongo_db).current(CASE_MONEY)
    await Generations(mongo_db).flip([current.next()])

    now[0] = 0.9
    assert (await reader.collection(CASE_MONEY)).name == CASE_MONEY  # cached: at most a second old
    now[0] = 1.0
    assert (await reader.collection(CASE_MONEY)).name == "case_money__g2"
    assert (await reader.collection(CASE_STORY)).name == CASE_STORY  # other read models keep their own
