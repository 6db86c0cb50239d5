"""Rebuild the case view, the case stories and the case's money from the event store: `python -m services.casequery.rebuild`
(or `make rebuild`).

It replays into a new generation of each read model beside the one in use (readers keep the old one meanwhile),
moves the generation pointers (a swap that copies nothing, see projections/generations.py), waits until every
live writer has moved, catches up with the events recorded meanwhile and drops the old generation. Memory stays
flat: events are streamed in pages. One rebuild at a time: a second one refuses while the first holds the
lease (shared/readmodels/lease.py); one killed after its flip leaves a mark that this service
(rebuild_watch.py) or the next rebuild completes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from tqdm import tqdm

from services.casequery.projections.case_view import CASE_VIEW, CaseViews, ensure_view_indexes
from services.casequery.projections.generations import (
    GENERATIONS,
    SETTLE_S,
    Generation,
    Generations,
    is_generation_of,
)
from services.casequery.projections.money import CASE_MONEY
from services.casequery.projections.money_store import MongoCaseMoney, ensure_money_indexes
from services.casequery.projections.story_store import (
    CASE_STORY,
    CASE_STORY_BOARDS,
    CASE_STORY_QUEUE,
    CaseStories,
    ensure_story_indexes,
)
from services.casequery.settings import CaseQuerySettings
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import MongoRecorder
from shared.readmodels.generations import FlipRefused, next_free
from shared.readmodels.lease import (
    LeaseLost,
    LeaseUnreadable,
    RebuildAbandoned,
    RebuildLease,
    RebuildRunning,
    holder_name,
    pending_catch_up,
)
from shared.service import Mongo

log = logging.getLogger(__name__)

MODELS = (CASE_VIEW, CASE_STORY, CASE_STORY_BOARDS, CASE_STORY_QUEUE, CASE_MONEY)


@dataclass
class Projections:
    """The three projections a page of events is applied to, writing into one set of collections."""

    views: CaseViews
    stories: CaseStories
    money: MongoCaseMoney

    @classmethod
    def into(cls, collections: dict[str, AsyncCollection], recorder: MongoRecorder) -> Projections:
        """Return the projections writing into these collections (by read model)."""
        return cls(
            CaseViews(collections[CASE_VIEW], recorder),
            CaseStories(
                collections[CASE_STORY],
                collections[CASE_STORY_BOARDS],
                collections[CASE_STORY_QUEUE],
                recorder,
            ),
            MongoCaseMoney(collections[CASE_MONEY]),
        )

    async def apply(self, batch: list[EventEnvelope]) -> None:
        """Apply one page of events in global order."""
        cases = [e for e in batch if e.stream_type == "case"]  # the global order holds every stream
        if cases:
            await self.views.apply_batch(cases)
        await self.stories.apply_batch(batch)  # it takes the board events and skips the rest
        await self.money.apply_batch(batch)  # it takes the disbursement events and skips the rest


@dataclass
class Timings:
    """Seconds spent in each phase of a rebuild (the benchmark reports them)."""

    phases: dict[str, float] = field(default_factory=dict)

    def add(self, phase: str, began: float) -> None:
        """Add the time since `began` (a perf_counter reading) to a phase."""
        self.phases[phase] = self.phases.get(phase, 0.0) + time.perf_counter() - began


async def replay(
    projections: Projections,
    recorder: MongoRecorder,
    after: int,
    page: int,
    bar: tqdm | None,
    up_to: int | None = None,
) -> int:
    """Apply every event after a position in pages; return the last position applied.

    The next page is read while the current one is written: the server serves one while this process decodes
    and folds the other, on two cores instead of one. `up_to` (a head already read) saves a read per page.
    """
    position = after
    ahead = asyncio.ensure_future(recorder.read_all(position, page, up_to))
    try:
        while batch := await ahead:
            position = batch[-1].position or position
            ahead = asyncio.ensure_future(recorder.read_all(position, page, up_to))
            await projections.apply(batch)
            if bar is not None:
                bar.update(len(batch))
    finally:
        ahead.cancel()  # a failed write leaves one read in flight: do not leave it running
    return position


async def rebuild(
    db: AsyncDatabase,
    recorder: MongoRecorder,
    *,
    page: int = 2000,
    progress: bool = True,
    swapped: Callable[[], Awaitable[object]] | None = None,
    settle: float = SETTLE_S,
    timings: Timings | None = None,
    lease: RebuildLease | None = None,
) -> int:
    """Replay the case view, the case stories and the case's money into new generations; return the last position.

    The live consumers keep writing the generation in use throughout. Every write is guarded by the stream
    version (see CaseViews), so the catch-up and the consumers may write the same case in any order and the
    view still ends at the newest version. `swapped` runs once every live writer writes the new generation,
    before the catch-up (tests use it to let live traffic get ahead of the catch-up). One rebuild at a time:
    RebuildRunning, before anything is touched, while another holds the lease (shared/readmodels/lease.py).
    """
    timings = timings or Timings()
    generations = Generations(db)
    lease = lease or RebuildLease(db, GENERATIONS)
    before = await lease.read() or {}
    held = await lease.acquire()
    try:
        async with lease.heartbeat():
            await _finish_catch_up(db, recorder, generations, lease, held, page)
            stored = await generations.stored()
            old = {model: stored.get(model, Generation(model, model, 1)) for model in MODELS}
            # Past the generation a dead (or stalled, lease expired) holder was writing, too.
            names = {*await db.list_collection_names(), *before.get("building", {}).values()}
            new = {model: next_free(generation, names) for model, generation in old.items()}
            await lease.building(new.values())
            await _drop_leftovers(db, old)
            return await _replay_and_flip(
                db, recorder, generations, lease, old, new, page, progress, swapped, settle, timings
            )
    finally:
        # A catch-up mark left by a failure stays: the service or the next rebuild ends it.
        await lease.release()


async def _replay_and_flip(
    db: AsyncDatabase,
    recorder: MongoRecorder,
    generations: Generations,
    lease: RebuildLease,
    old: dict[str, Generation],
    new: dict[str, Generation],
    page: int,
    progress: bool,
    swapped: Callable[[], Awaitable[object]] | None,
    settle: float,
    timings: Timings,
) -> int:
    target = {model: db[generation.collection] for model, generation in new.items()}
    head = await recorder.head_position()
    projections = Projections.into(target, recorder)
    with tqdm(total=head, unit="ev", desc="case_view", disable=not progress) as bar:
        began = time.perf_counter()
        position = await replay(projections, recorder, 0, page, bar, up_to=head)
        timings.add("replay", began)
        began = time.perf_counter()
        await _index(target)
        timings.add("indexes", began)
        began = time.perf_counter()
        await _flip(db, generations, lease, old, new, position)
        timings.add("flip", began)
        began = time.perf_counter()
        await asyncio.sleep(settle)  # until no resolver can still hold an old pointer
        timings.add("settle", began)
        if swapped is not None:
            await swapped()
        # Events recorded since the replay's head went to the old generation (or nowhere yet): apply them
        # to the new one. A live writer that moved first already wrote some: the version guard keeps the newest.
        began = time.perf_counter()
        position = await replay(projections, recorder, position, page, bar)
        await lease.clear_catch_up()
        timings.add("catch_up", began)
    began = time.perf_counter()
    for generation in old.values():
        await db[generation.collection].drop()
    timings.add("drop_old", began)
    return position


async def _flip(
    db: AsyncDatabase,
    generations: Generations,
    lease: RebuildLease,
    old: dict[str, Generation],
    new: dict[str, Generation],
    replayed: int,
) -> None:
    """Move the pointers only if the lease is ours and they still name `old`; else drop our generation."""
    try:
        if lease.lost:
            raise LeaseLost(f"{lease.holder} stopped holding the rebuild lease during its replay")
        # The commit point: a rebuild killed after it leaves the position its catch-up must run from.
        await lease.mark_catch_up(replayed, new.values())
        try:
            await generations.flip(new.values(), replacing=old.values())  # five pointers, nothing copied
        except FlipRefused:
            await lease.clear_catch_up()
            raise
    except (LeaseLost, FlipRefused) as exc:
        for generation in new.values():
            await db[generation.collection].drop()
        dropped = ", ".join(g.collection for g in new.values())
        raise RebuildAbandoned(
            f"重建已放弃 / rebuild abandoned: pointers unchanged, its generation dropped ({dropped}): {exc}"
        ) from exc


async def _finish_catch_up(
    db: AsyncDatabase,
    recorder: MongoRecorder,
    generations: Generations,
    lease: RebuildLease,
    held: dict[str, Any],
    page: int,
) -> int | None:
    """Apply what an interrupted rebuild had still to catch up to the generation in use; clear its mark."""
    after = pending_catch_up(held)
    if after is None:
        return None
    stored = await generations.stored()
    current = {model: db[stored.get(model, Generation(model, model, 1)).collection] for model in MODELS}
    position = await replay(Projections.into(current, recorder), recorder, after, page, None)
    # Version-guarded writes: applying again what the dead rebuild had already caught up is harmless.
    await lease.clear_catch_up()
    log.warning("finished the catch-up of an interrupted rebuild: events %d..%d", after + 1, position)
    return position


async def finish_interrupted(
    db: AsyncDatabase, recorder: MongoRecorder, lease: RebuildLease | None = None, page: int = 500
) -> int | None:
    """Once a rebuild killed after its flip has lost its lease, apply what its catch-up left; else None."""
    lease = lease or RebuildLease(db, GENERATIONS, holder=holder_name("casequery"))
    return await lease.finish_abandoned(
        lambda held: _finish_catch_up(db, recorder, Generations(db), lease, held, page)
    )


def catch_up_alarm(doc: dict[str, Any] | None, lease: RebuildLease) -> str | None:
    """Return the /healthz alarm while a dead rebuild's catch-up is pending, else None."""
    abandoned = lease.abandoned_by(doc)  # a live holder catching up now (flip to end) is no alarm
    if abandoned is None:
        return None
    by, after = abandoned
    return (
        f"重建在切换后中断，其后事件尚未补齐 / a rebuild ({by}) stopped after its flip: events "
        f"after position {after} may be missing from the read models until this service (every few seconds) "
        f"or the next rebuild applies them"
    )


async def _index(target: dict[str, AsyncCollection]) -> None:
    # After the load, before readers see it. Measured on SecantusDB with 100,000 cases on a quiet machine: the
    # load then eight builds took 27 s + 31 s (another run 40 s + 57 s), the load with the indexes in place 109 s.
    # On a loaded machine builds suffer more (turn about at 100,000: after 195 s and 222 s, before 104 s and
    # 175 s); at 20,000 after won (15 s against 20 s).
    await ensure_view_indexes(target[CASE_VIEW])
    await ensure_story_indexes(target[CASE_STORY])
    await ensure_money_indexes(target[CASE_MONEY])


async def _drop_leftovers(db: AsyncDatabase, current: dict[str, Generation]) -> None:
    # Called with the lease held, so no other rebuild is live: one whose lease expired died (or stalled, and
    # then its flip refuses and it drops its own generation, whose name nobody else takes: see next_free).
    # A rebuild that died half-way, a live writer that wrote an old generation after it was dropped, or an
    # older version's `__rebuild` shadow: none of them is read, and the new generation's name must be free.
    in_use = {generation.collection for generation in current.values()}
    for name in await db.list_collection_names():
        if name not in in_use and any(is_generation_of(model, name) for model in current):
            await db[name].drop()


async def _main(progress: bool) -> None:
    settings = CaseQuerySettings()
    mongo = Mongo.from_settings(settings)
    try:
        replayed = await rebuild(mongo.db, MongoRecorder(mongo.client, mongo.db), progress=progress)
        print(f"case_view rebuilt from {replayed} events, with the case stories and the case's money")
    except (RebuildRunning, RebuildAbandoned) as exc:
        sys.exit(str(exc))  # exit status 1, the reason on stderr
    except LeaseUnreadable as exc:  # a hand-edited lease document: what to mend, not a traceback
        sys.exit(exc.refusal())
    finally:
        await mongo.client.close()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    asyncio.run(_main(progress=not parser.parse_args().no_progress))


if __name__ == "__main__":
    main()
