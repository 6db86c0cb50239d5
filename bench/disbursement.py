"""Disbursement dashboard read with 100,000 disbursements and 300,000 stage events: `python -m bench.disbursement`.

Seeding is by events: each disbursement's events are decided by the domain (open, allocation received,
approved, paid, or three stage reports for the few still active) and written straight into the event store's
collection with positions, as the relay's sequencer would have numbered them. The read models are then
built from those events by the rebuild (timed against a raw scan of the same events: the ceiling), and the
dashboard is read many times, both as the read-model query alone and as the HTTP route in process (auth,
validation, JSON). The dashboard is a read model: its cost does not grow with the number of events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement.bootstrap import Overrides, build_app
from services.disbursement.domain.disbursement import Disbursement
from services.disbursement.domain.streams import DISBURSEMENT, disbursement_stream
from services.disbursement.projections.dashboard import dashboard
from services.disbursement.projections.rebuild import replay_into
from services.disbursement.projections.store import ReadModels
from services.disbursement.settings import DisbursementSettings
from shared.auth.keys import ApiKeyStore, BureauDirectory, Role
from shared.contracts.cases import Enterprise
from shared.contracts.disbursement import DisbursementOpened, FundType, PaymentReport, Stage, StageReport
from shared.contracts.envelope import Actor, EventEnvelope
from shared.devstack import servers
from shared.devstack.processes import free_port
from shared.eventstore.mongo import EVENTS, HEAD_ID, META, MongoRecorder, connect, ensure_indexes, to_document
from shared.workdays.calendar import SHANGHAI
from shared.workdays.published import PublishedCalendar as Calendars
from tests.support import credit_code

BUREAU = "finance"
ACTOR = Actor(kind="integration", id="bench", bureau=BUREAU)
FIRST_DAY = datetime(2026, 1, 5, 9, tzinfo=SHANGHAI)
NOW = datetime(2026, 11, 27, 12, tzinfo=SHANGHAI)


def _events(n: int, rng: random.Random, active: bool, stuck: bool) -> list[BaseModel]:
    """Decide one disbursement's events with the domain: open + three stage events."""
    opened = DisbursementOpened(
        disbursement_id=str(uuid.UUID(int=rng.getrandbits(128))),
        enterprise=Enterprise(name=f"企业{n}", credit_code=credit_code(n)),
        source="市财政局",
        fund_type=FundType.SUBSIDY,
        allocated=f"{rng.randint(100_000, 10_000_000_000) / 100:.2f}",
    )
    if active:  # allocated recently, or (stuck) weeks ago with nothing since
        received = NOW - (
            timedelta(days=rng.randint(20, 60)) if stuck else timedelta(hours=rng.randint(2, 20))
        )
    else:
        received = FIRST_DAY + timedelta(minutes=rng.randint(0, 320 * 24 * 60))
    d = Disbursement.open(opened, received)
    out: list[BaseModel] = [opened]

    def record(events: list[BaseModel]) -> None:
        for event in events:
            d.apply(event, d.version + 1)
            out.append(event)

    def stage(s: Stage, at: datetime) -> None:
        record(d.report_stage(StageReport(stage=s, at=at), reported_by="国库科", approver="局长", now=NOW))

    stage(Stage.ALLOCATION_RECEIVED, received)
    if active:
        stage(Stage.DOCUMENTS_COMPLETE, received + timedelta(minutes=30))
        stage(Stage.APPROVED, received + timedelta(minutes=90))
    else:
        stage(Stage.APPROVED, received + timedelta(hours=1))
        paid = PaymentReport(
            amount=opened.allocated,
            credited_at=received + timedelta(minutes=rng.randint(120, 40 * 60)),
            bank_reference=f"B{n}",
        )
        record(d.record_payment(paid, payment_id=f"p{n}", reported_by="银行", now=NOW))
    return out


def _when(event: BaseModel, default: datetime) -> datetime:
    """The time an event is recorded at in the seeded store: its own time (the opening: its allocation's)."""
    for name in ("at", "credited_at"):
        if isinstance(value := getattr(event, name, None), datetime):
            return value
    return default


def _documents(n: int, events: list[BaseModel], position: int) -> list[dict[str, Any]]:
    stream = disbursement_stream(events[0].disbursement_id)  # type: ignore[attr-defined]
    docs = []
    arrived = _when(events[1], NOW)  # the allocation's arrival: the opening is recorded then
    for version, event in enumerate(events, start=1):
        when = _when(event, arrived)
        envelope = EventEnvelope(
            event_id=uuid.uuid4(),
            event_type=type(event).__name__,
            schema_version=1,
            stream_id=stream,
            stream_type=DISBURSEMENT,
            version=version,
            bureau=BUREAU,
            occurred_at=when,  # recorded as it happened: the list pages by the opening's time
            recorded_at=when,
            actor=ACTOR,
            correlation_id=uuid.uuid4(),
            data=event.model_dump(mode="json"),
        )
        doc = to_document(envelope, f"bench-{n}", version)
        del doc["pending"]
        doc["position"] = position + version
        docs.append(doc)
    return docs


async def seed(db: AsyncDatabase, disbursements: int, active_share: float, stuck_share: float) -> int:
    """Write the events of `disbursements` disbursements; return the number of events."""
    rng = random.Random(20261127)
    buffer: list[dict[str, Any]] = []
    position = 0
    for n in range(1, disbursements + 1):
        roll = rng.random()
        events = _events(n, rng, active=roll < active_share, stuck=roll < stuck_share)
        buffer += _documents(n, events, position)
        position += len(events)
        if len(buffer) >= 4000:
            await db[EVENTS].insert_many(buffer, ordered=False)
            buffer = []
    if buffer:
        await db[EVENTS].insert_many(buffer, ordered=False)
    await db[META].update_one({"_id": HEAD_ID}, {"$set": {"position": position}})
    return position


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(pick(0.5) * 1000, 1), "p99_ms": round(pick(0.99) * 1000, 1)}


async def bench(mongo_uri: str, disbursements: int, reads: int) -> dict[str, Any]:
    """Seed, rebuild (against a raw scan), then time dashboard reads."""
    client = connect(mongo_uri)
    db = client["bench_disbursement"]
    await client.drop_database(db.name)
    await ensure_indexes(db)
    began = time.perf_counter()
    events = await seed(db, disbursements, active_share=0.03, stuck_share=0.005)
    seed_s = time.perf_counter() - began
    stage_events = events - disbursements

    began = time.perf_counter()
    scanned = 0
    async for _ in db[EVENTS].find({"position": {"$gt": 0}}, batch_size=5000).sort("position", 1):
        scanned += 1
    raw_scan_s = time.perf_counter() - began

    recorder = MongoRecorder(client, db)
    calendars = Calendars(recorder)
    began = time.perf_counter()
    await replay_into(db, recorder, calendars.current, ReadModels())
    rebuild_s = time.perf_counter() - began
    views = await db[ReadModels().views].count_documents({})

    calendar = await calendars.current()
    query_samples = []
    for _ in range(reads):
        began = time.perf_counter()
        figures = await dashboard(
            db, ReadModels(), BUREAU, period=(None, None), now=NOW, calendar=calendar, stuck_after_workdays=3
        )
        query_samples.append(time.perf_counter() - began)

    key = await ApiKeyStore(db).issue(BUREAU, Role.VIEWER, "bench")
    app = build_app(
        DisbursementSettings(),
        Overrides(recorder=recorder, api_keys=ApiKeyStore(db), db=db, bureaus=BureauDirectory(db)),
    )
    http_samples = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        headers = {"Authorization": f"Bearer {key}"}
        for _ in range(reads):
            began = time.perf_counter()
            answer = await http.get("/api/v1/disbursements/dashboard", headers=headers)
            http_samples.append(time.perf_counter() - began)
            assert answer.status_code == 200, answer.text
        list_samples = []
        for _ in range(max(1, reads // 4)):
            began = time.perf_counter()
            answer = await http.get("/api/v1/disbursements", params={"limit": 50}, headers=headers)
            list_samples.append(time.perf_counter() - began)
            assert answer.status_code == 200 and answer.json()["total"] == disbursements, answer.text
    await client.drop_database(db.name)
    await client.close()
    assert scanned == events and views == disbursements, (scanned, events, views)
    return {
        "disbursements": disbursements,
        "stage_events": stage_events,
        "events": events,
        "seed_s": round(seed_s, 1),
        "dashboard_read_model_query": _percentiles(query_samples),
        "dashboard_http_in_process": _percentiles(http_samples),
        "dashboard_reads": reads,
        "list_first_page_http_in_process": _percentiles(list_samples),
        "figures_checked": {
            "credited": figures["time_to_account"]["credited"],
            "stuck": figures["stuck"]["count"],
            "allocated": str(figures["allocated"]),
        },
        "raw_scan_events_per_s": round(events / raw_scan_s),
        "rebuild_events_per_s": round(events / rebuild_s),
        "rebuild_ratio_vs_raw_scan": round(raw_scan_s / rebuild_s, 3),
    }


def main() -> None:
    """Start an embedded SecantusDB, run the benchmark, print (and optionally write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--disbursements", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-disbursement-") as tmp:
        port = free_port()
        mongo = servers.start_and_wait(
            servers.secantus("127.0.0.1", port, Path(tmp) / "mongo", Path(tmp) / "logs"), "127.0.0.1", port
        )
        try:
            result = asyncio.run(
                bench(servers.secantus_uri("127.0.0.1", port), args.disbursements, args.reads)
            )
        finally:
            mongo.stop()
    print(json.dumps({"disbursement": result}, indent=2, ensure_ascii=False), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
