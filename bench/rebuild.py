"""Projection rebuild of many events against a raw scan of the events collection."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from services.casequery.projections.case_view import CASE_VIEW, ensure_view_indexes
from services.casequery.projections.generations import Generations
from services.casequery.rebuild import Timings, rebuild
from services.intake.domain.case import open_case
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.mongo import EVENTS, HEAD_ID, META, MongoRecorder, connect, ensure_indexes, to_document
from tests.support import case_body


class RssSampler:
    """Samples this process's resident memory every 50 ms (tracemalloc would slow the rebuild itself)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.baseline = self.peak = _rss()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def case_opened(position: int) -> dict[str, Any]:
    """Return the stored document of a CaseOpened event at a global position."""
    case_id = str(uuid.uuid4())
    event = open_case(
        case_id, OpenCaseRequest.model_validate(case_body(position)), source="http", request_ref="b"
    )
    now = datetime.now(UTC)
    envelope = EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="CaseOpened",
        schema_version=1,
        stream_id=case_id,
        stream_type="case",
        version=1,
        bureau="finance",
        occurred_at=now,
        recorded_at=now,
        actor=Actor(kind="service", id="bench"),
        correlation_id=uuid.uuid4(),
        data=event.model_dump(mode="json"),
    )
    doc = to_document(envelope, f"bench-{position}", 0)
    del doc["pending"]
    doc["position"] = position
    return doc


async def _raw_view_ceiling(db: Any, views: Any, page: int = 2000) -> tuple[float, float]:
    """Write the rebuilt view documents again with raw insert_many, then build the view's indexes on them.

    Return the seconds of the writes alone and of the index builds: the floor of any rebuild of this read model.
    """
    target, written, batch = db["raw_views"], 0.0, []
    async for doc in views.find({}, batch_size=page):
        batch.append(doc)
        if len(batch) == page:
            began = time.perf_counter()
            await target.insert_many(batch)
            written += time.perf_counter() - began
            batch = []
    if batch:
        began = time.perf_counter()
        await target.insert_many(batch)
        written += time.perf_counter() - began
    began = time.perf_counter()
    await ensure_view_indexes(target)
    return written, time.perf_counter() - began


async def bench_rebuild(mongo_uri: str, n: int) -> dict[str, Any]:
    """Load n events, then time a raw scan, a raw write of as many view documents, and the rebuild."""
    client = connect(mongo_uri)
    db = client["bench_rebuild"]
    await client.drop_database(db.name)
    await ensure_indexes(db)
    for start in range(1, n + 1, 2000):
        await db[EVENTS].insert_many([case_opened(p) for p in range(start, min(start + 2000, n + 1))])
    await db[META].update_one({"_id": HEAD_ID}, {"$set": {"position": n}})

    began = time.perf_counter()
    scanned = 0
    async for _ in db[EVENTS].find({"position": {"$gt": 0}}, batch_size=5000).sort("position", 1):
        scanned += 1
    raw_scan_s = time.perf_counter() - began

    began = time.perf_counter()
    for start in range(0, n, 2000):
        await db["raw_writes"].insert_many(
            [{"i": i, "pad": "x" * 400} for i in range(start, min(start + 2000, n))]
        )
    raw_write_s = time.perf_counter() - began

    sampler = RssSampler()
    sampler.start()
    timings = Timings()
    began = time.perf_counter()
    replayed = await rebuild(db, MongoRecorder(client, db), progress=False, timings=timings)
    rebuild_s = time.perf_counter() - began
    sampler.stop()
    views = await Generations(db).collection(CASE_VIEW)
    count = await views.count_documents({})
    view_write_s, view_index_s = await _raw_view_ceiling(db, views)
    await client.drop_database(db.name)
    await client.close()
    assert scanned == n and replayed == n and count == n, (scanned, replayed, count)
    ceiling_s = raw_scan_s + raw_write_s
    same_docs_s = raw_scan_s + view_write_s + view_index_s
    return {
        "events": n,
        "raw_scan_events_per_s": round(n / raw_scan_s),
        "raw_scan_plus_write_events_per_s": round(n / ceiling_s),
        "rebuild_events_per_s": round(n / rebuild_s),
        "ratio_vs_raw_scan": round(raw_scan_s / rebuild_s, 3),
        "ratio_vs_raw_scan_plus_write": round(ceiling_s / rebuild_s, 3),
        "raw_scan_s": round(raw_scan_s, 2),
        "raw_write_s": round(raw_write_s, 2),
        "rebuild_s": round(rebuild_s, 2),
        "rebuild_phases_s": {phase: round(s, 2) for phase, s in timings.phases.items()},
        "swap_s": round(timings.phases.get("flip", 0.0), 3),
        "swap_note": "moving the four generation pointers; then the rebuild waits `settle` for live writers",
        "view_collection": views.name,
        "raw_scan_plus_view_write_and_indexes_events_per_s": round(n / same_docs_s),
        "ratio_vs_raw_scan_plus_view_write_and_indexes": round(same_docs_s / rebuild_s, 3),
        "raw_view_write_s": round(view_write_s, 2),
        "raw_view_indexes_s": round(view_index_s, 2),
        "same_docs_note": "scan + raw insert_many of the rebuilt view documents + building the view's 8 indexes",
        "rebuild_rss_growth_mb": round(sampler.growth / 2**20, 1),
        "rss_growth_note": "resident memory gained during the rebuild; flat = independent of the event count",
    }
