"""What the rebuild-lease tests share: a store with cases, rebuilds held or killed at chosen points, skewed clocks."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.case_view import CASE_VIEW
from services.casequery.projections.generations import GENERATIONS
from services.casequery.rebuild import rebuild
from services.disbursement.application.commands import Context, open_disbursement
from services.disbursement.projections.store import POINTERS
from shared.auth.actors import service_actor
from shared.contracts.disbursement import OpenDisbursementRequest
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.sequencer import Sequencer
from shared.readmodels import lease as lease_module
from shared.readmodels.generations import Generation, Generations
from shared.readmodels.lease import RebuildLease
from shared.service import Mongo
from tests.integration.test_casequery_rebuild_generations import (
    EndOfReplay,
    sequenced,
    step_case,
)
from tests.support import credit_code, current_collection


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


IMPOSSIBLE = datetime(2099, 1, 1, tzinfo=UTC)  # no live rebuild sets its expiry past the server's now + ttl
