"""One rebuild at a time, and no rebuild left half-done (real SecantusDB): the rebuild lease.

Overlapping rebuilds once left the pointers on a half-built generation (a bureau's list fell from 211 cases to
66); a rebuild killed after its flip left the cases recorded meanwhile missing until someone ran it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.case_view import CASE_VIEW, fold_all
from services.casequery.projections.generations import GENERATIONS
from services.casequery.projections.generations import Generations as CaseGenerations
from services.casequery.rebuild import catch_up_alarm, finish_interrupted, rebuild
from services.casequery.rebuild_watch import interrupted_rebuilds
from services.disbursement import bootstrap as disbursement_bootstrap
from services.disbursement.application.commands import Context, open_disbursement
from services.disbursement.projections.rebuild import finish_interrupted as finish_disbursements
from services.disbursement.projections.rebuild import rebuild as disbursement_rebuild
from services.disbursement.projections.store import POINTERS, VIEWS
from services.disbursement.settings import DisbursementSettings
from shared.auth.actors import service_actor
from shared.auth.keys import ApiKeyStore, Role
from shared.contracts.disbursement import OpenDisbursementRequest
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.sequencer import Sequencer
from shared.readmodels import lease as lease_module
from shared.readmodels.generations import FlipRefused, Generation, Generations
from shared.readmodels.lease import LEASE_ID, RebuildAbandoned, RebuildLease, RebuildRunning
from shared.readmodels.watch import InterruptedRebuilds
from shared.service import Mongo
from shared.workdays.published import PublishedCalendar as Calendars
from tests.integration.test_casequery_rebuild_generations import (
    EndOfReplay,
    every_view_is_its_fold,
    sequenced,
    step_case,
)
from tests.support import credit_code, current_collection, eventually

pytestmark = pytest.mark.integration


class Paused(MongoRecorder):
    """A recorder whose replay stops after a few pages until told to go on: a long replay on a big store."""

    def __init__(self, db: AsyncDatabase, after_reads: int = 3) -> None:
        super().__init__(db.client, db)
        self.paused, self.go, self._left = asyncio.Event(), asyncio.Event(), after_reads

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, up_to: int | None = None
    ) -> list[EventEnvelope]:
        self._left -= 1
        if self._left == 0:
            self.paused.set()
            await self.go.wait()
        return await super().read_all(after_position, limit, up_to)


SEQUENCERS: dict[str, Sequencer] = {}  # one per database: it holds the sequencer's lease


async def store_with_cases(db: AsyncDatabase, cases: int = 6) -> tuple[MongoRecorder, dict[str, int]]:
    recorder, versions = MongoRecorder(db.client, db), {}
    for n in range(cases):
        for _ in range(2):
            await step_case(recorder, versions, f"case-{n}")
    await sequenced(SEQUENCERS.setdefault(db.name, Sequencer(db)))
    return recorder, versions


async def started(db: AsyncDatabase, recorder: Paused, **kwargs: Any) -> asyncio.Task[int]:
    """Start a rebuild that replays one event a page, and return once it is half-way through its replay."""
    task = asyncio.create_task(rebuild(db, recorder, page=1, progress=False, settle=0.0, **kwargs))
    await asyncio.wait_for(recorder.paused.wait(), 10)
    return task


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


class Killed(BaseException):
    """kill -9: nothing after it runs in the rebuild (the lease below releases nothing either)."""


class DiesWithItsLease(RebuildLease):
    """A killed process neither releases its lease nor renews it: it lapses."""

    async def release(self) -> None:
        pass


async def killed_after_its_flip(
    db: AsyncDatabase, recorder: MongoRecorder, versions: dict[str, int], new_case: str
) -> str:
    """Run a rebuild that dies after its flip, a case opened between its replay and flip; return its gen."""

    async def opened_meanwhile() -> None:
        await step_case(recorder, versions, new_case)
        await sequenced(SEQUENCERS[db.name])

    async def kill() -> None:
        raise Killed

    racing = EndOfReplay(db, opened_meanwhile)
    lease = DiesWithItsLease(db, GENERATIONS, ttl=1.0, holder="killed")
    with pytest.raises(Killed):
        await rebuild(db, racing, page=4, progress=False, settle=0.0, swapped=kill, lease=lease)
    flipped = (await current_collection(db, CASE_VIEW)).name
    assert await db[flipped].find_one({"_id": new_case}) is None  # what the trial saw: the case answers 404
    return flipped


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


async def test_the_disbursement_rebuild_refuses_while_its_lease_is_held_and_finishes_a_dead_ones_catch_up(
    mongo_db: AsyncDatabase,
) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    generations = Generations(mongo_db, POINTERS)
    calendar = Calendars(recorder).current
    other = RebuildLease(mongo_db, POINTERS, ttl=1.0, holder="disbursement-A")
    await other.acquire()

    with pytest.raises(RebuildRunning, match="held by disbursement-A"):
        await disbursement_rebuild(mongo_db, recorder, calendar, generations, settle=0.0)
    assert not await generations.stored()  # nothing moved

    # Given it was killed after its flip (the mark stays, the lease lapses): a rerun finishes and clears it
    await other.mark_catch_up(0, [])
    await asyncio.sleep(1.1)
    await disbursement_rebuild(mongo_db, recorder, calendar, generations, settle=0.0)
    lease = await mongo_db[POINTERS].find_one({"_id": LEASE_ID}) or {}
    assert "catch_up" not in lease and lease.get("holder") is None
    assert {g.collection for g in (await generations.stored()).values()} == {
        "disbursement_views__g2", "arrears_views__g2", "disbursement_dashboard__g2"
    }  # fmt: skip


async def opened(db: AsyncDatabase, recorder: MongoRecorder, n: int) -> str:
    """Record a disbursement of the finance bureau, numbered as the relay does; return its id."""
    context = Context(
        "finance", service_actor("rebuild-lease-test", "finance"), uuid.uuid4().hex, uuid.uuid4()
    )
    request = OpenDisbursementRequest.model_validate(
        {
            "enterprise": {"name": f"测试企业{n}有限公司", "credit_code": credit_code(n)},
            "source": "市财政局",
            "fund_type": "subsidy",
            "allocated": "100.00",
        }
    )
    outcome = await open_disbursement(request, context, recorder=recorder)
    await sequenced(SEQUENCERS.setdefault(db.name, Sequencer(db)))
    return outcome.id


class DiesAfterItsFlip(Generations):
    """The pointers of a disbursement rebuild that dies right after its flip (a disbursement opened first)."""

    def __init__(self, db: AsyncDatabase, meanwhile: Callable[[], Awaitable[object]]) -> None:
        super().__init__(db, POINTERS)
        self._meanwhile = meanwhile

    async def flip(self, generations: Iterable[Generation], replacing: Iterable[Generation] = ()) -> None:
        await self._meanwhile()  # after the replay read the store: only the catch-up would apply it
        await super().flip(generations, replacing)
        raise Killed


def without_kafka(
    settings: Any, mongo: Mongo, broker: Any, prepare: Any
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The service's own lifespan stands in for the broker's: this test needs MongoDB only."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await mongo.client.close()

    return lifespan


async def test_given_a_disbursement_rebuild_killed_after_its_flip_then_the_disbursement_service_finishes_it(
    mongo_db: AsyncDatabase, infra: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    earlier = {await opened(mongo_db, recorder, n) for n in (9101, 9102, 9103)}
    late: list[str] = []

    async def opened_meanwhile() -> None:
        late.append(await opened(mongo_db, recorder, 9104))

    # Given a rebuild killed after its flip, a disbursement opened between its replay and its flip
    calendar = Calendars(recorder).current
    dying = DiesWithItsLease(mongo_db, POINTERS, ttl=1.0, holder="killed")
    with pytest.raises(Killed):
        await disbursement_rebuild(
            mongo_db,
            recorder,
            calendar,
            DiesAfterItsFlip(mongo_db, opened_meanwhile),
            settle=0.0,
            lease=dying,
        )
    generations = Generations(mongo_db, POINTERS)
    flipped = (await generations.current(VIEWS)).collection
    assert flipped == "disbursement_views__g2" and await mongo_db[flipped].find_one({"_id": late[0]}) is None
    assert await finish_disbursements(mongo_db, recorder, calendar, generations) is None  # its lease lasts

    # And the service as deployed (no Kafka here), whose first completion fails (the database was away)
    real, calls = disbursement_bootstrap.finish_interrupted, []

    async def away_once(*args: Any) -> int | None:
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionError("MongoDB away for a moment")
        return await real(*args)

    monkeypatch.setattr(disbursement_bootstrap, "broker_lifespan", without_kafka)
    monkeypatch.setattr(disbursement_bootstrap, "finish_interrupted", away_once)
    app = disbursement_bootstrap.build_app(
        DisbursementSettings(mongodb_uri=infra.mongo_uri, mongodb_database=mongo_db.name)
    )
    key = await ApiKeyStore(mongo_db).issue("finance", Role.ADMIN, "rebuild lease test")
    await asyncio.sleep(1.1)  # the dead rebuild's lease lapses

    async def listed(client: httpx.AsyncClient) -> set[str]:
        answer = await client.get("/api/v1/disbursements", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        return {item["disbursement_id"] for item in answer.json()["items"]}

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        # When it starts, it tries at once: the failure leaves the list short and /healthz says why
        async def alarm() -> str | None:
            text: str | None = (await client.get("/healthz")).json().get("rebuild_catch_up")
            return text

        alarm_text = await eventually(alarm, 5, "the alarm of the failed completion on /healthz")
        assert "killed" in alarm_text and "stopped after its flip" in alarm_text and "中断" in alarm_text
        assert await listed(client) == earlier

        # Then its next look (every few seconds) applies what the catch-up had left, and the alarm goes
        async def finished() -> bool | None:
            return late[0] in await listed(client) or None

        await eventually(finished, 15, "the service to finish the interrupted catch-up")
        assert await listed(client) == earlier | set(late)

        async def alarm_gone() -> bool | None:
            return await alarm() is None or None

        # The list shows the event as soon as it is applied; the same look then clears the mark and the alarm
        await eventually(alarm_gone, 5, "the alarm to go once the catch-up is finished")
    assert "catch_up" not in (await mongo_db[POINTERS].find_one({"_id": LEASE_ID}) or {})


class _AnyDatetime(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, datetime)  # the times pymongo reads stay datetimes for the lease


@contextlib.contextmanager
def clock_off_by(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[None]:
    """This machine's clock runs `seconds` off the database server's (what the trial did to the lease)."""

    class Skewed(datetime, metaclass=_AnyDatetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + timedelta(seconds=seconds)

    with monkeypatch.context() as patched:
        patched.setattr(lease_module, "datetime", Skewed)
        yield


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


IMPOSSIBLE = datetime(2099, 1, 1, tzinfo=UTC)  # no live rebuild sets its expiry past the server's now + ttl


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
