"""Notification fan-out against the raw channel ceiling, and the scheduler's cost with many pending deadlines.

`python -m bench.notification` (or `make bench`): starts a SecantusDB, a local SMTP server (aiosmtpd) and a
local webhook server, then measures in one run:
- raw ceiling: aiosmtplib straight to aiosmtpd, httpx straight to the webhook server;
- the service: N events that each need 3 notifications (concierge by email and WeCom, enterprise by email),
  reacted to (deliveries recorded once) and sent by the dispatcher, as deliveries per second;
- the scheduler: one round's time with 100,000 pending deadlines (none due, then 100 due), against a scan,
  and a round firing 100 stuck-disbursement reminders (each recorded as a delivery) among them.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from aiosmtpd.controller import Controller

from services.notification.adapters.channels.base import Channel
from services.notification.adapters.channels.email import EmailChannel, SmtpSettings
from services.notification.adapters.channels.webhooks import WeComChannel
from services.notification.adapters.deadlines import DEADLINES, UNCLAIMED
from services.notification.adapters.deliveries import InboxChannel
from services.notification.application.dispatch import Dispatcher
from services.notification.application.react import react
from services.notification.application.scheduled import fire_due_steps
from services.notification.domain.deliveries import RetryPolicy, Status
from shared.devstack import servers
from shared.devstack.processes import free_port
from shared.eventstore.mongo import connect, ensure_indexes
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import Clock, assigned, case_opened, notifying, prepare, staff

CONCURRENCY = 20


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _webhook() -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the default backlog of 5 resets concurrent connections
        daemon_threads = True

    server = Server(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def _bounded(jobs: list[Any]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(j) for j in jobs))


async def raw_ceiling(smtp_port: int, hook_url: str, n: int) -> dict[str, float]:
    """Messages per second straight to the local servers (email, webhook), same concurrency as the service."""

    async def mail(i: int) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@b.cn", "c@d.cn", f"raw {i}"
        msg.set_content("正文", charset="utf-8")
        await aiosmtplib.send(msg, hostname="127.0.0.1", port=smtp_port)

    started = time.perf_counter()
    await _bounded([mail(i) for i in range(n)])
    email_rate = n / (time.perf_counter() - started)
    async with httpx.AsyncClient() as client:
        started = time.perf_counter()
        await _bounded(
            [client.post(hook_url, json={"msgtype": "text", "text": {"content": str(i)}}) for i in range(n)]
        )
        hook_rate = n / (time.perf_counter() - started)
    return {"email_per_s": round(email_rate, 1), "webhook_per_s": round(hook_rate, 1)}


async def fan_out(mongo_uri: str, smtp_port: int, hook_url: str, events: int) -> dict[str, Any]:
    """Deliveries per second through the service: react (record once) then send, 3 per event."""
    client = connect(mongo_uri)
    db = client[f"bench_notify_{uuid.uuid4().hex[:8]}"]
    await ensure_indexes(db)
    clock = Clock(datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI))
    n = notifying(db, clock, {"email", "wecom"})
    await prepare(n)
    await react(n, staff(1, "s1", "李副局长", "deputy_director", "局领导", clock()))
    await n.contacts.put(
        "staff:finance:s1",
        "finance",
        {"email": "li@gaoxin.gov.cn", "wecom_user_id": "li"},
        {"channels": ["email", "wecom"]},
    )
    codes = []
    for i in range(events):
        case = f"case-{i}"
        opened = case_opened(case, clock())
        codes.append(opened.data["enterprise"]["credit_code"])
        await react(n, opened)
    await n.contacts.put(f"enterprise:finance:{codes[0]}", "finance", {"email": "gm@gree.cn"}, {})
    started = time.perf_counter()
    for i in range(events):
        await react(n, assigned(i + 2, f"case-{i}", "s1", "李副局长", clock()))
    recorded = time.perf_counter() - started
    async with httpx.AsyncClient() as http:
        channels: dict[str, Channel] = {
            "email": EmailChannel(SmtpSettings("127.0.0.1", smtp_port)),
            "wecom": WeComChannel(http, hook_url),
            "inbox": InboxChannel(db, clock),
        }
        dispatcher = Dispatcher(n.deliveries, channels, n.contacts, RetryPolicy(), clock)
        sent_started = time.perf_counter()
        while await dispatcher.run_once(limit=CONCURRENCY * 5):
            pass
        sending = time.perf_counter() - sent_started
    total = await db["notification_deliveries"].count_documents({"status": Status.SENT.value})
    await client.drop_database(db.name)
    await client.close()
    return {
        "events": events,
        "deliveries_sent": total,
        "record_per_s": round(total / recorded, 1),
        "send_per_s": round(total / sending, 1),
        "end_to_end_per_s": round(total / (recorded + sending), 1),
    }


async def scheduler_cost(mongo_uri: str, pending: int) -> dict[str, Any]:
    """One scheduler round with `pending` open deadlines: none due, then 100 due; against a full scan."""
    client = connect(mongo_uri)
    db = client[f"bench_sched_{uuid.uuid4().hex[:8]}"]
    clock = Clock(datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI))
    n = notifying(db, clock, {"inbox"})
    await prepare(n)
    later = clock() + timedelta(days=30)
    batch = []
    for i in range(pending):
        due = clock() - timedelta(minutes=1) if i < 100 else later
        batch.append(
            {
                "_id": f"c{i}|t",
                "bureau": "finance",
                "case_id": f"c{i}",
                "task_id": "t",
                "section": "s",
                "due_at": later,
                "v": 1,
                "open": True,
                "next_at": due,
                "claimed_until": UNCLAIMED,
                "steps": [{"step": "due_today", "fire_at": due, "fired_at": None}],
            }
        )
        if len(batch) == 5000:
            await db[DEADLINES].insert_many(batch)
            batch = []
    if batch:
        await db[DEADLINES].insert_many(batch)
    started = time.perf_counter()
    fired = await fire_due_steps(n, limit=1000)
    due_round = time.perf_counter() - started
    idle = []
    for _ in range(20):
        started = time.perf_counter()
        await fire_due_steps(n)
        idle.append(time.perf_counter() - started)
    money_ms, money_told = await _stuck_round(n, db, clock())
    started = time.perf_counter()
    scanned = await db[DEADLINES].count_documents(
        {"steps.fired_at": None, "bureau": "finance"}
    )  # no index: a scan
    scan = time.perf_counter() - started
    await client.drop_database(db.name)
    await client.close()
    idle_ms = statistics.median(idle) * 1000
    return {
        "pending_deadlines": pending,
        "round_with_100_due_ms": round(due_round * 1000, 1),
        "steps_fired": fired,
        "idle_round_median_ms": round(idle_ms, 2),
        "round_with_100_stuck_disbursements_ms": money_ms,
        "stuck_reminders_recorded": money_told,
        "full_scan_ms": round(scan * 1000, 1),
        "scan_over_idle_round": round(scan * 1000 / idle_ms, 1),
        "scanned": scanned,
    }


async def _stuck_round(n: Any, db: Any, now: datetime) -> tuple[float, int]:
    """One round firing 100 stuck-disbursement reminders (each tells the bureau's director) among the pending."""
    await react(n, staff(1, "d1", "张局长", "director", "局领导", now))
    due = now - timedelta(minutes=1)
    docs = [
        {
            "_id": f"disbursement|d{i}",
            "kind": "disbursement",
            "bureau": "finance",
            "case_id": None,
            "disbursement_id": f"d{i}",
            "enterprise_name": "格力电器(郑州)有限公司",
            "fund_type": "subsidy",
            "allocated": "70000000.00",
            "status": "approved",
            "last_change_at": now - timedelta(days=7),
            "stuck_after": 3,
            "due_at": due,
            "v": 2,
            "open": True,
            "next_at": due,
            "claimed_until": UNCLAIMED,
            "steps": [{"step": "stuck", "fire_at": due, "fired_at": None}],
        }
        for i in range(100)
    ]
    await db[DEADLINES].insert_many(docs)
    started = time.perf_counter()
    await fire_due_steps(n, limit=1000)
    elapsed = time.perf_counter() - started
    told = await db["notification_deliveries"].count_documents({"template": "disbursement_stuck"})
    return round(elapsed * 1000, 1), told


async def bench_notification(mongo_uri: str, events: int = 1000, pending: int = 100_000) -> dict[str, Any]:
    """Run both measurements against local channel servers."""
    smtp_port = free_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    hook = _webhook()
    hook_url = f"http://127.0.0.1:{hook.server_port}/cgi-bin/webhook/send?key=bench"
    try:
        ceiling = await raw_ceiling(smtp_port, hook_url, events)
        service = await fan_out(mongo_uri, smtp_port, hook_url, events)
        slowest_raw = min(ceiling.values())
        service["send_over_raw_ceiling"] = round(service["send_per_s"] / slowest_raw, 3)
        return {
            "raw_ceiling": ceiling,
            "fan_out": service,
            "scheduler": await scheduler_cost(mongo_uri, pending),
        }
    finally:
        controller.stop()
        hook.shutdown()


def main() -> None:
    """Start a SecantusDB in a temporary folder and print the figures."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--pending", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        port = free_port()
        mongo = servers.start_and_wait(
            servers.secantus("127.0.0.1", port, Path(tmp) / "mongo", Path(tmp)), "127.0.0.1", port
        )
        try:
            uri = servers.secantus_uri("127.0.0.1", port)
            print(
                json.dumps(
                    {"notification": asyncio.run(bench_notification(uri, args.events, args.pending))},
                    indent=2,
                )
            )
        finally:
            mongo.stop()


if __name__ == "__main__":
    main()
