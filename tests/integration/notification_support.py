"""Builders for the notification tests: envelopes of the events the service reacts to, and its ports on a database."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.notification.adapters.deliveries import DELIVERIES
from services.notification.application.context import Notifying
from services.notification.application.react import react
from services.notification.bootstrap import notifying_of
from services.notification.domain.feedback_tokens import FeedbackTokens
from services.notification.settings import NotificationSettings
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.recorder import NewEvent, Recording
from shared.workdays.calendar import SHANGHAI

CREDIT = "91440400MA4UJ1XQ18"
ENTERPRISE = {"name": "格力电器(郑州)有限公司", "credit_code": CREDIT}


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def envelope(
    stream_id: str,
    stream_type: str,
    version: int,
    event_type: str,
    data: dict[str, Any],
    at: datetime,
    bureau: str = "finance",
    event_id: uuid.UUID | None = None,
) -> EventEnvelope:
    """Return a recorded event as the relay would deliver it."""
    return EventEnvelope(
        event_id=event_id or uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        stream_id=stream_id,
        stream_type=stream_type,
        version=version,
        bureau=bureau,
        occurred_at=at,
        recorded_at=at,
        actor=Actor(kind="service", id="test", bureau=bureau),
        correlation_id=uuid.uuid4(),
        data=data,
    )


def staff(version: int, staff_id: str, name: str, post: str, section: str, at: datetime) -> EventEnvelope:
    """A roster person added on the finance board."""
    data = {"staff_id": staff_id, "name": name, "post": post, "section": section}
    return envelope("board-finance", "board", version, "StaffMemberAdded", data, at)


def case_opened(case_id: str, at: datetime) -> EventEnvelope:
    """A case of 格力 opened in the finance bureau."""
    data = {
        "case_id": case_id,
        "enterprise": ENTERPRISE,
        "category": "fund_disbursement",
        "title": "补贴资金拨付进度",
        "description": "7000万元补贴何时到账",
        "channel": "online",
        "legacy": False,
        "source": "http",
        "request_ref": "r1",
        "request_hash": "h",
    }
    return envelope(case_id, "case", 1, "CaseOpened", data, at)


def assigned(version: int, case_id: str, staff_id: str, name: str, at: datetime) -> EventEnvelope:
    """The board's decision giving 格力 its concierge."""
    data = {
        "enterprise": ENTERPRISE,
        "staff_id": staff_id,
        "staff_name": name,
        "post": "deputy_director",
        "case_ids": [case_id],
        "category": "fund_disbursement",
        "candidates": [],
        "rule_version": "2026.11-2",
        "reason": "管理岗位，空闲最久",
    }
    return envelope("board-finance", "board", version, "ConciergeAssigned", data, at)


def on_case(case_id: str, version: int, event_type: str, data: dict[str, Any], at: datetime) -> EventEnvelope:
    """Any event on the case's stream."""
    return envelope(case_id, "case", version, event_type, data, at)


async def stored_and_told(n: Notifying, *events: EventEnvelope) -> list[EventEnvelope]:
    """Record each event in the store as its service would (in order on its stream), let the service react to it
    as delivered, and return them as stored (the rating link reads the case's own stream)."""
    kept = []
    for e in events:
        recording = Recording(
            e.stream_id,
            e.stream_type,
            e.version - 1,
            e.bureau,
            Actor(kind="service", id="t"),
            f"c-{e.event_id}",
            uuid.uuid4(),
        )
        [stored] = (
            await n.recorder.append(
                recording, [NewEvent(e.event_type, e.schema_version, e.data, e.occurred_at)]
            )
        ).events
        await react(n, stored)
        kept.append(stored)
    return kept


def notifying(db: AsyncDatabase, clock: Clock, channels: set[str], **settings: Any) -> Notifying:
    """The service's ports over a test database."""
    recorder = MongoRecorder(db.client, db)
    tokens = FeedbackTokens(b"s" * 32, timedelta(days=14))
    return notifying_of(db, recorder, NotificationSettings(**settings), channels, tokens, clock)


async def prepare(n: Notifying) -> None:
    """Create the service's indexes."""
    for store in (n.knowledge, n.deadlines, n.deliveries):
        await store.ensure_indexes()


def arrears_recorded(at: datetime, **extra: Any) -> EventEnvelope:
    """Arrears the zone's construction bureau owes 格力: 1,200,000 yuan delivered 2026-10-28, due 2026-11-27."""
    data = {
        "arrears_id": "a-1",
        "enterprise": ENTERPRISE,
        "debtor": "高新区建设局",
        "purpose": "厂房施工款",
        "amount_owed": "1200000.00",
        "delivered_on": "2026-10-28",
        "agreed_term_days": 30,
        "due_on": "2026-11-27",
        **extra,
    }
    return envelope("arrears-a-1", "arrears", 1, "ArrearsRecorded", data, at)


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of 2026 as users read it (Asia/Shanghai)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def money(version: int, event_type: str, data: dict[str, Any], at: datetime) -> EventEnvelope:
    """An event on disbursement d-1's stream."""
    return envelope("disbursement-d-1", "disbursement", version, event_type, data, at)


def disbursement_opened(at: datetime) -> EventEnvelope:
    """Disbursement d-1: a 70,000,000-yuan subsidy for 格力, linked to case-1."""
    data = {
        "disbursement_id": "d-1",
        "enterprise": ENTERPRISE,
        "case_id": "case-1",
        "source": "市财政局",
        "fund_type": "subsidy",
        "allocated": "70000000.00",
    }
    return money(1, "DisbursementOpened", data, at)


def stage_reported(version: int, stage: str, at: datetime, recorded: datetime | None = None) -> EventEnvelope:
    """A stage of d-1 at its own time `at`, recorded at `recorded` (the same time when not given)."""
    data = {
        "disbursement_id": "d-1",
        "stage": stage,
        "at": at.isoformat(),
        "reported_by": "王会计",
        "status": stage,
    }
    return money(version, "DisbursementStageReported", data, recorded or at)


def fully_credited(version: int, at: datetime) -> EventEnvelope:
    """The whole of d-1 credited at `at`."""
    data = {
        "disbursement_id": "d-1",
        "payment_id": "p-1",
        "amount": "70000000.00",
        "credited_at": at.isoformat(),
        "bank_reference": "ICBC-1",
        "reported_by": "国库系统",
        "credited_total": "70000000.00",
        "fully_credited": True,
        "status": "credited",
    }
    return money(version, "DisbursementPaymentCredited", data, at)


async def with_a_concierge(db: AsyncDatabase, clock: Clock, channels: set[str], section: str) -> Notifying:
    """The service with a roster (a deputy director, a chief of `section`, the director) and case-1 served by s1."""
    n = notifying(db, clock, channels)
    await prepare(n)
    roster = [
        ("s1", "李副局长", "deputy_director", "局领导"),
        ("c1", "赵科长", "section_chief", section),
        ("d1", "张局长", "director", "局领导"),
    ]
    for version, (sid, name, post, sec) in enumerate(roster, start=1):
        await react(n, staff(version, sid, name, post, sec, clock()))
    await react(n, case_opened("case-1", clock()))
    data = {"staff_id": "s1", "staff_name": "李副局长", "board_event_id": "b", "board_version": 4}
    await react(n, on_case("case-1", 2, "ConciergeAssignedToCase", data, clock()))
    return n


async def told(db: AsyncDatabase, **query: Any) -> list[dict]:
    """The deliveries recorded that match, oldest first."""
    return [d async for d in db[DELIVERIES].find(query).sort("created_at", 1)]
