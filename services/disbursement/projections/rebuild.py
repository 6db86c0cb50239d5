"""Rebuild the disbursement read models from the event store (views and dashboard counters).

The replay reads the disbursement and arrears streams one at a time (a range of the event store's
(stream_id, version) index) and writes the views and the summed dashboard counters into the next generation
of each read model, beside the one in use. `rebuild` then moves the generation pointers (a swap that copies
and renames nothing: on SecantusDB a rename holds the server's lock while it copies, and stalled every
service), waits until every live writer has moved, catches up with what was recorded meanwhile and drops the
old generation. The counters of a rebuild are the sum of every view's contribution, the same function the
live consumer applies as differences, so a rebuilt dashboard equals the live one. One rebuild at a time
(shared/readmodels/lease.py); one killed after its flip leaves a mark that the service (finish_interrupted,
run by shared/readmodels/watch.py) or the next rebuild completes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement.domain.streams import ARREARS, DISBURSEMENT
from services.disbursement.projections.store import (
    MODELS,
    ReadModels,
    ReadModelWriter,
    ViewRaced,
    ensure_read_model_indexes,
)
from services.disbursement.projections.views import Counters, Doc, add, contributions, counters_as_documents
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.mongo import EVENTS, MongoRecorder, from_document
from shared.eventstore.recorder import EventRecorder
from shared.readmodels.generations import (
    SETTLE_S,
    FlipRefused,
    Generation,
    Generations,
    is_generation_of,
    next_free,
)
from shared.readmodels.lease import (
    LeaseLost,
    RebuildAbandoned,
    RebuildLease,
    holder_name,
    pending_catch_up,
)
from shared.workdays.calendar import WorkdayCalendar

log = logging.getLogger(__name__)

CHUNK = 2000
# The collections a rebuild before generations filled and renamed; one that died before its rename left them.
SHADOWS_OF_RENAMING_REBUILDS = tuple(f"rebuild_{model}" for model in MODELS)


async def _streams(db: AsyncDatabase, prefix: str) -> AsyncIterator[list[EventEnvelope]]:
    """Yield each stream whose id starts with prefix, its events in version order (one stream in memory)."""
    # A range over the unique (stream_id, version) index: the events of one stream come together, so memory
    # holds one stream at a time whatever the store's size, and nothing else in the store is read.
    query = {"stream_id": {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}}
    cursor = db[EVENTS].find(query, batch_size=5000).sort([("stream_id", 1), ("version", 1)])
    current: list[EventEnvelope] = []
    async for doc in cursor:
        envelope = from_document(doc)
        if current and current[0].stream_id != envelope.stream_id:
            yield current
            current = []
        current.append(envelope)
    if current:
        yield current


async def replay_into(
    db: AsyncDatabase,
    recorder: MongoRecorder,
    calendar: Callable[[], Awaitable[WorkdayCalendar]],
    names: ReadModels,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fill the named (emptied) collections from every disbursement and arrears stream.

    Returns the store's head position taken before the replay: what was recorded after it is applied by
    catch_up (version-guarded, so a stream the replay already saw whole is skipped).
    """
    for name in (names.views, names.arrears, names.dashboard):
        await db[name].drop()
    head = await recorder.head_position()
    writer = ReadModelWriter(db, recorder, calendar, names)
    in_force = await calendar()  # once: the live consumer reads it per event, the replay per run
    counters: Counters = {}
    for stream_type, prefix, target in (
        (DISBURSEMENT, "disbursement-", names.views),
        (ARREARS, "arrears-", names.arrears),
    ):
        batch: list[Doc] = []
        async for events in _streams(db, prefix):
            if progress:
                progress(len(events))
            if events[0].stream_type != stream_type:
                continue  # the settings streams share the prefix and have no view
            view = await writer.view_of(stream_type, events, in_force)
            if view is None:
                continue
            batch.append(view)
            add(counters, contributions(view))
            if len(batch) >= CHUNK:
                await db[target].insert_many(batch, ordered=False)
                batch = []
        if batch:
            await db[target].insert_many(batch, ordered=False)
    documents = counters_as_documents(counters)
    for begin in range(0, len(documents), CHUNK):
        await db[names.dashboard].insert_many(documents[begin : begin + CHUNK], ordered=False)
    await ensure_read_model_indexes(db, names)
    return head


async def catch_up(writer: ReadModelWriter, recorder: EventRecorder, after: int, page: int = 1000) -> int:
    """Apply what was recorded after a position (version-guarded: what the live consumer did is skipped)."""
    position = after
    while batch := await recorder.read_all(position, page):
        for e in batch:
            for _ in range(5):  # the live consumer may write the same view at the same moment: read again
                try:
                    await writer.apply(e)
                    break
                except ViewRaced:
                    continue
        position = batch[-1].position or position
    return position


async def rebuild(
    db: AsyncDatabase,
    recorder: MongoRecorder,
    calendar: Callable[[], Awaitable[WorkdayCalendar]],
    generations: Generations,
    progress: Callable[[int], None] | None = None,
    settle: float = SETTLE_S,
    lease: RebuildLease | None = None,
) -> int:
    """Replay into the next generation, point every reader and writer at it, catch up, drop the old one.

    One rebuild at a time: RebuildRunning, before anything is touched, while another holds the lease.
    """
    lease = lease or RebuildLease(db, generations.pointers)
    before = await lease.read() or {}
    held = await lease.acquire()
    try:
        async with lease.heartbeat():
            await _finish_catch_up(db, recorder, calendar, generations, lease, held)
            old = await _stored(generations)
            taken = {*await db.list_collection_names(), *before.get("building", {}).values()}
            new = [next_free(generation, taken) for generation in old]
            await lease.building(new)
            names = ReadModels.of(new)
            head = await replay_into(db, recorder, calendar, names, progress)
            await _flip(db, generations, lease, old, new, head)
            # Live writers may write the old generation until their pointers expire: what they applied there
            # after `head` is applied again below, version-guarded, once they all write the new one.
            await asyncio.sleep(settle)
            position = await catch_up(ReadModelWriter(db, recorder, calendar, names), recorder, head)
            await lease.clear_catch_up()
            # The lease is held: no other rebuild is live, so every other generation is old or a dead one's.
            await _drop_all_but(db, new)
            return position
    finally:
        await lease.release()  # a catch-up mark left by a failure stays for the next rebuild


async def _finish_catch_up(
    db: AsyncDatabase,
    recorder: MongoRecorder,
    calendar: Callable[[], Awaitable[WorkdayCalendar]],
    generations: Generations,
    lease: RebuildLease,
    held: dict[str, Any],
) -> int | None:
    """Apply what an interrupted rebuild had still to catch up to the generation in use; clear its mark."""
    after = pending_catch_up(held)
    if after is None:
        return None
    # A rebuild killed after its flip: the generation in use is its new one, without what came after `after`.
    writer = ReadModelWriter(db, recorder, calendar, ReadModels.of(await _stored(generations)))
    position = await catch_up(writer, recorder, after)  # version-guarded: applying again is harmless
    await lease.clear_catch_up()
    log.warning("finished the catch-up of an interrupted rebuild: events %d..%d", after + 1, position)
    return position


async def finish_interrupted(
    db: AsyncDatabase,
    recorder: MongoRecorder,
    calendar: Callable[[], Awaitable[WorkdayCalendar]],
    generations: Generations,
    lease: RebuildLease | None = None,
) -> int | None:
    """Once a rebuild killed after its flip has lost its lease, apply what its catch-up left; else None."""
    lease = lease or RebuildLease(db, generations.pointers, holder=holder_name("disbursement"))
    return await lease.finish_abandoned(
        lambda held: _finish_catch_up(db, recorder, calendar, generations, lease, held)
    )


def catch_up_alarm(doc: dict[str, Any] | None, lease: RebuildLease) -> str | None:
    """Return the /healthz alarm while a dead rebuild's catch-up is pending, else None."""
    abandoned = lease.abandoned_by(doc)  # a live holder catching up now (flip to end) is no alarm
    if abandoned is None:
        return None
    by, after = abandoned
    return (
        f"重建在切换后中断，其后拨付事件尚未补齐 / a rebuild ({by}) stopped after its flip: "
        f"events after position {after} may be missing from the disbursement lists and dashboard until this "
        f"service (every few seconds) or the next rebuild applies them"
    )


async def _stored(generations: Generations) -> list[Generation]:
    stored = await generations.stored()
    return [stored.get(model, Generation(model, model, 1)) for model in MODELS]


async def _flip(
    db: AsyncDatabase,
    generations: Generations,
    lease: RebuildLease,
    old: list[Generation],
    new: list[Generation],
    head: int,
) -> None:
    """Move the pointers only if the lease is ours and they still name `old`; else drop our generation."""
    try:
        if lease.lost:
            raise LeaseLost(f"{lease.holder} stopped holding the rebuild lease during its replay")
        await lease.mark_catch_up(head, new)  # the commit point: a rebuild killed after it leaves the mark
        try:
            await generations.flip(new, replacing=old)
        except FlipRefused:
            await lease.clear_catch_up()
            raise
    except (LeaseLost, FlipRefused) as exc:
        for generation in new:
            await db[generation.collection].drop()
        dropped = ", ".join(g.collection for g in new)
        raise RebuildAbandoned(
            f"重建已放弃 / rebuild abandoned: pointers unchanged, its generation dropped ({dropped}): {exc}"
        ) from exc


async def _drop_all_but(db: AsyncDatabase, kept: list[Generation]) -> None:
    """Drop every other generation of the read models: the old one, and any a rebuild that died left."""
    keep = {generation.collection for generation in kept}
    for name in await db.list_collection_names():
        stale = any(is_generation_of(model, name) for model in MODELS) or name in SHADOWS_OF_RENAMING_REBUILDS
        if stale and name not in keep:
            await db[name].drop()
