"""The rebuild lease at its edges (real SecantusDB): clocks off, unreadable or impossible lease documents."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.case_view import CASE_VIEW
from services.casequery.projections.generations import GENERATIONS
from services.casequery.rebuild import catch_up_alarm, finish_interrupted, rebuild
from services.casequery.rebuild_watch import interrupted_rebuilds
from services.disbursement.projections.store import POINTERS
from shared.eventstore.mongo import MongoRecorder
from shared.readmodels import lease as lease_module
from shared.readmodels.lease import LEASE_ID, RebuildLease, RebuildRunning
from shared.readmodels.watch import InterruptedRebuilds
from tests.integration.rebuild_lease_support import (
    IMPOSSIBLE,
    clock_off_by,
    killed_after_its_flip,
    store_with_cases,
)
from tests.integration.test_casequery_rebuild_generations import (
    every_view_is_its_fold,
)
from tests.support import current_collection

pytestmark = pytest.mark.integration


async def test_a_rebuild_whose_clock_is_60_s_behind_keeps_its_lease_from_the_service(
    mongo_db: AsyncDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    watch = interrupted_rebuilds(mongo_db, recorder)  # the casequery service, its clock right

    # Given a rebuild on a machine 60 s behind, catching up after its flip (alive: it renews)
    behind = RebuildLease(mongo_db, GENERATIONS, holder="rebuild-behind")
    with clock_off_by(monkeypatch, -60):
        await behind.acquire()
        await behind.mark_catch_up(0, [])
    # Then the service neither judges it dead nor takes it over, and it keeps its lease
    assert await watch.check_once() is None and watch.health() == {}
    with clock_off_by(monkeypatch, -60):
        await behind.renew()
    assert not behind.lost
    assert (await mongo_db[GENERATIONS].find_one({"_id": LEASE_ID}) or {})["holder"] == "rebuild-behind"


async def test_a_client_clock_60_s_ahead_neither_takes_over_a_live_lease_nor_sees_it_dead(
    mongo_db: AsyncDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    # Given a live rebuild with the right clock, and a rebuild and a service on a machine 60 s ahead
    live = RebuildLease(mongo_db, GENERATIONS, holder="rebuild-live")
    await live.acquire()
    await live.mark_catch_up(0, [])
    ahead = RebuildLease(mongo_db, GENERATIONS, holder="rebuild-ahead")
    with clock_off_by(monkeypatch, 60):
        # Then the one ahead refuses, and its service sees no dead rebuild to finish nor to raise an alarm
        with pytest.raises(RebuildRunning, match="held by rebuild-live"):
            await ahead.acquire()
        service = RebuildLease(mongo_db, GENERATIONS, holder="casequery-ahead")
        assert await finish_interrupted(mongo_db, recorder, service) is None
        assert not service.expired(await service.read() or {})
        assert catch_up_alarm(await service.read(), service) is None
    await live.renew()
    assert not live.lost
    assert (await mongo_db[GENERATIONS].find_one({"_id": LEASE_ID}) or {})["holder"] == "rebuild-live"


@pytest.mark.parametrize(
    ("stored", "named"),
    [
        (
            {"holder": None, "expires": None, "catch_up": {"after": "abc", "by": "hand"}},
            "catch_up.after is 'abc'",
        ),
        ({"holder": None, "expires": None, "catch_up": "x"}, "catch_up is 'x'"),
        ({"holder": "someone", "expires": "tomorrow", "catch_up": {"after": 3}}, "expires is 'tomorrow'"),
    ],
)
async def test_an_unreadable_lease_document_raises_the_alarm_naming_the_field_and_the_check_goes_on(
    mongo_db: AsyncDatabase, stored: dict[str, Any], named: str
) -> None:
    # Given a lease document edited by hand into what no rebuild writes
    await mongo_db[GENERATIONS].insert_one({"_id": LEASE_ID, **stored})
    watch = interrupted_rebuilds(mongo_db, MongoRecorder(mongo_db.client, mongo_db))

    # When the service looks, it does not fail, and /healthz says what is wrong, Chinese first
    assert await watch.check_once() is None
    alarm = watch.health().get("rebuild_catch_up") or ""
    assert alarm.startswith("重建租约文档无法解读") and "/ the rebuild lease document cannot be read" in alarm
    assert named in alarm

    # And once it is mended by hand, the alarm goes at the next look
    await mongo_db[GENERATIONS].update_one(
        {"_id": LEASE_ID}, {"$set": {"holder": None, "expires": None}, "$unset": {"catch_up": ""}}
    )
    assert await watch.check_once() is None and watch.health() == {}


async def test_a_lease_expiring_impossibly_far_ahead_is_taken_over_by_a_rebuild_naming_its_holder(
    mongo_db: AsyncDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    recorder, versions = await store_with_cases(mongo_db)
    # Given a lease left expiring in 2099 (a clock step on the database server, or a hand edit)
    bogus = {"_id": LEASE_ID, "holder": "bogus@nowhere:1:x", "since": IMPOSSIBLE, "expires": IMPOSSIBLE}
    await mongo_db[GENERATIONS].insert_one(bogus)

    # When a rebuild starts, it takes the lease over (not "another rebuild is running" until 2099)
    with caplog.at_level("WARNING", logger=lease_module.__name__):
        await asyncio.wait_for(rebuild(mongo_db, recorder, progress=False, settle=0.0), 30)

    # Then it says whose lease it took, and completes
    assert any("bogus@nowhere:1:x" in r.getMessage() and "2099" in r.getMessage() for r in caplog.records)
    assert (await current_collection(mongo_db, CASE_VIEW)).name == "case_view__g2"
    await every_view_is_its_fold(mongo_db, recorder, sorted(versions))
    assert (await mongo_db[GENERATIONS].find_one({"_id": LEASE_ID}) or {}).get("holder") is None


async def test_a_live_lease_within_its_ttl_still_refuses(mongo_db: AsyncDatabase) -> None:
    held = RebuildLease(mongo_db, GENERATIONS, holder="live")
    await held.acquire()
    other = RebuildLease(mongo_db, GENERATIONS)
    with pytest.raises(RebuildRunning, match="held by live"):
        await other.acquire()
    assert not other.expired(await other.read() or {})


async def test_a_pending_catch_up_under_an_impossible_lease_raises_the_alarm_and_the_service_finishes_it(
    mongo_db: AsyncDatabase,
) -> None:
    recorder, versions = await store_with_cases(mongo_db)
    await killed_after_its_flip(mongo_db, recorder, versions, "new-c")
    # Given the dead rebuild's lease then stepped to 2099 (its catch-up mark still pending)
    await mongo_db[GENERATIONS].update_one(
        {"_id": LEASE_ID}, {"$set": {"holder": "bogus@nowhere:1:x", "expires": IMPOSSIBLE}}
    )

    # When the service cannot finish it, /healthz says so (the lease counts as expired, not live till 2099)
    async def away(lease: RebuildLease) -> int | None:
        raise ConnectionError("MongoDB away for a moment")

    failing = InterruptedRebuilds(RebuildLease(mongo_db, GENERATIONS), away, catch_up_alarm)
    with pytest.raises(ConnectionError):
        await failing.check_once()
    alarm = failing.health().get("rebuild_catch_up") or ""
    assert "stopped after its flip" in alarm and "中断" in alarm

    # And its next look takes the lease over, applies what the catch-up had left and clears the mark
    watch = interrupted_rebuilds(mongo_db, recorder)
    assert await watch.check_once() is not None and watch.health() == {}
    await every_view_is_its_fold(mongo_db, recorder, sorted(versions))
    assert "catch_up" not in (await mongo_db[GENERATIONS].find_one({"_id": LEASE_ID}) or {})


@pytest.mark.parametrize(
    ("module", "pointers"),
    [("services.casequery.rebuild", GENERATIONS), ("services.disbursement.rebuild", POINTERS)],
)
async def test_a_rebuild_command_given_an_unreadable_catch_up_mark_says_what_to_mend_without_a_traceback(
    mongo_db: AsyncDatabase, infra: Any, module: str, pointers: str
) -> None:
    # Given a catch-up mark edited by hand into what no rebuild writes
    mark = {"after": "abc", "by": "hand"}
    await mongo_db[pointers].insert_one({"_id": LEASE_ID, "holder": None, "expires": None, "catch_up": mark})

    # When the rebuild runs from the command line
    env = {**os.environ, "MONGODB_URI": infra.mongo_uri, "MONGODB_DATABASE": mongo_db.name}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *(["--no-progress"] if "casequery" in module else []), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)

    # Then it stops with status 1 and one clean line, Chinese first, naming the field; the mark stays
    text = err.decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text
    said = text.splitlines()[-1]  # after the (disbursement) progress bar, which tqdm writes to stderr
    assert said.startswith("重建租约文档无法解读") and "/ the rebuild lease document cannot be read" in said
    assert "catch_up.after is 'abc'" in said
    stored = await mongo_db[pointers].find_one({"_id": LEASE_ID}) or {}
    assert stored.get("catch_up") == mark and stored.get("holder") is None
