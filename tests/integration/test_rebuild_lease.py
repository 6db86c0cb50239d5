"""One rebuild at a time, and no rebuild left half-done (real SecantusDB): the rebuild lease.

Overlapping rebuilds once left the pointers on a half-built generation (a bureau's list fell from 211 cases to
66); a rebuild killed after its flip left the cases recorded meanwhile missing until someone ran it again.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.case_view import CASE_VIEW, fold_all
from services.casequery.projections.generations import GENERATIONS
from services.casequery.projections.generations import Generations as CaseGenerations
from services.casequery.rebuild import catch_up_alarm, rebuild
from services.casequery.rebuild_watch import interrupted_rebuilds
from shared.readmodels.generations import FlipRefused, Generation
from shared.readmodels.lease import LEASE_ID, RebuildAbandoned, RebuildLease, RebuildRunning
from tests.integration.rebuild_lease_support import (
    Paused,
    killed_after_its_flip,
    started,
    store_with_cases,
)
from tests.integration.test_casequery_rebuild_generations import (
    every_view_is_its_fold,
)
from tests.support import current_collection

pytestmark = pytest.mark.integration


async def test_given_a_rebuild_running_when_another_starts_then_it_refuses_at_once_naming_the_holder(
    mongo_db: AsyncDatabase, infra: Any
) -> None:
    recorder, versions = await store_with_cases(mongo_db)
    slow = Paused(mongo_db)
    first = await started(mongo_db, slow, lease=RebuildLease(mongo_db, GENERATIONS, holder="rebuild-A"))
    names_before = set(await mongo_db.list_collection_names())

    # When a second rebuild starts, in process and from the command line
    with pytest.raises(RebuildRunning) as refused:
        await asyncio.wait_for(rebuild(mongo_db, recorder, progress=False), 5)
    env = {**os.environ, "MONGODB_URI": infra.mongo_uri, "MONGODB_DATABASE": mongo_db.name}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.casequery.rebuild", "--no-progress", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)

    # Then both refuse, naming the holder and when it started, and touch nothing
    assert refused.value.holder == "rebuild-A" and "held by rebuild-A since 20" in str(refused.value)
    assert proc.returncode != 0 and "another rebuild is running" in err.decode()
    assert "held by rebuild-A" in err.decode()
    assert set(await mongo_db.list_collection_names()) == names_before
    assert await mongo_db[GENERATIONS].count_documents({"collection": {"$exists": True}}) == 0

    # And the first one completes into its own generation, every case whole
    slow.go.set()
    await asyncio.wait_for(first, 30)
    assert (await current_collection(mongo_db, CASE_VIEW)).name == "case_view__g2"
    assert await (await current_collection(mongo_db, CASE_VIEW)).count_documents({}) == len(versions)
    await every_view_is_its_fold(mongo_db, recorder, sorted(versions))
    assert (await mongo_db[GENERATIONS].find_one({"_id": LEASE_ID}) or {}).get("holder") is None  # released


async def test_given_a_stalled_rebuild_whose_lease_was_taken_over_then_it_moves_no_pointer(
    mongo_db: AsyncDatabase,
) -> None:
    recorder, versions = await store_with_cases(mongo_db)
    slow = Paused(mongo_db)
    first = await started(mongo_db, slow, lease=RebuildLease(mongo_db, GENERATIONS, holder="stalled"))
    # Given its lease expired (it stalled, as if dead), and another rebuild took over and finished
    past = datetime.now(UTC) - timedelta(seconds=1)
    await mongo_db[GENERATIONS].update_one({"_id": LEASE_ID}, {"$set": {"expires": past}})
    await rebuild(mongo_db, recorder, progress=False, settle=0.0)
    taken_over = (await current_collection(mongo_db, CASE_VIEW)).name
    assert taken_over == "case_view__g3"  # past the generation the stalled one was writing

    # When the stalled one wakes up and reaches its flip
    slow.go.set()
    with pytest.raises(RebuildAbandoned, match="case_view__g2"):
        await asyncio.wait_for(first, 30)

    # Then the pointers stay on the complete generation and the stalled one's is gone
    assert (await current_collection(mongo_db, CASE_VIEW)).name == taken_over
    assert "case_view__g2" not in set(await mongo_db.list_collection_names())
    await every_view_is_its_fold(mongo_db, recorder, sorted(versions))


async def test_a_flip_from_generations_no_longer_current_moves_no_pointer(mongo_db: AsyncDatabase) -> None:
    generations = CaseGenerations(mongo_db)
    g2 = Generation(CASE_VIEW, "case_view__g2", 2)
    await generations.flip([g2])
    with pytest.raises(FlipRefused):
        await generations.flip([g2.next()], replacing=[Generation(CASE_VIEW, CASE_VIEW, 1)])
    assert (await CaseGenerations(mongo_db).current(CASE_VIEW)) == g2
    await generations.flip([g2.next()], replacing=[g2])
    assert (await CaseGenerations(mongo_db).current(CASE_VIEW)).collection == "case_view__g3"


async def test_given_a_rebuild_killed_after_its_flip_then_the_service_finishes_its_catch_up(
    mongo_db: AsyncDatabase,
) -> None:
    recorder, versions = await store_with_cases(mongo_db)
    await killed_after_its_flip(mongo_db, recorder, versions, "new-a")
    watch = interrupted_rebuilds(mongo_db, recorder)

    # While the dead rebuild's lease lasts, nothing is done (a live holder would be catching up itself)
    assert await watch.check_once() is None and watch.health() == {}
    await asyncio.sleep(1.1)
    lease = RebuildLease(mongo_db, GENERATIONS)
    alarm = catch_up_alarm(await lease.read(), lease)  # /healthz, should the service fail to finish it
    assert alarm is not None and "killed" in alarm and "stopped after its flip" in alarm

    # Once it lapses, the service applies what the catch-up had left and clears the mark
    assert await watch.check_once() is not None
    assert watch.health() == {}
    await every_view_is_its_fold(mongo_db, recorder, sorted(versions))
    assert "catch_up" not in (await mongo_db[GENERATIONS].find_one({"_id": LEASE_ID}) or {})


async def test_given_a_rebuild_killed_after_its_flip_then_a_rerun_first_finishes_its_catch_up(
    mongo_db: AsyncDatabase,
) -> None:
    recorder, versions = await store_with_cases(mongo_db)
    flipped = await killed_after_its_flip(mongo_db, recorder, versions, "new-b")
    await asyncio.sleep(1.1)  # the dead one's lease lapses

    # When rebuilt again: readers keep the flipped generation during the replay, so it is completed first
    seen: list[Any] = []

    async def look() -> None:
        seen.append(await mongo_db[flipped].find_one({"_id": "new-b"}))

    swapped: Callable[[], Awaitable[object]] = look
    await rebuild(mongo_db, recorder, progress=False, settle=0.0, swapped=swapped)

    assert seen == [fold_all(await recorder.read_stream("new-b"))]
    await every_view_is_its_fold(mongo_db, recorder, sorted(versions))
    assert "catch_up" not in (await mongo_db[GENERATIONS].find_one({"_id": LEASE_ID}) or {})
