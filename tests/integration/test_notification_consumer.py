"""The notification consumer on real Tansu and SecantusDB: a batch with a poison event tells everyone else once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from services.notification.adapters.deliveries import DELIVERIES
from services.notification.application.context import Notifying
from services.notification.application.react import react
from services.notification.entrypoints.kafka import TOPICS, subscribe_notifications
from shared.config import ConnectionSettings
from shared.contracts.envelope import EventEnvelope
from shared.contracts.topics import ASSIGNMENT_EVENTS, dlq
from shared.messaging.kafka import ensure_topics, make_broker
from shared.messaging.pacing import FetchWait
from shared.workdays.calendar import SHANGHAI
from tests.conftest import Servers
from tests.integration.notification_support import ENTERPRISE, Clock, envelope, notifying, prepare
from tests.kafka_client import aproduce, read_topic
from tests.support import eventually

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
async def consuming(infra: Servers, mongo_db) -> AsyncIterator[Notifying]:
    n = notifying(mongo_db, Clock(NOW), {"inbox"})
    await prepare(n)
    topics = list(TOPICS)
    settings = ConnectionSettings(KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap)
    await ensure_topics(settings, topics + [dlq(t) for t in topics])
    broker = make_broker(settings, "notification-test")  # the service's own: its four groups join together
    subscribe_notifications(
        broker, notifying=lambda: n, group=f"notification-{uuid.uuid4().hex[:8]}", fetch_wait=FetchWait(20)
    )
    await broker.start()
    yield n
    await broker.stop()


def _board(bureau: str, version: int, event_type: str, data: dict) -> EventEnvelope:
    return envelope(f"board-{bureau}", "board", version, event_type, data, NOW, bureau=bureau)


def _queued(bureau: str, version: int, case_id: str) -> EventEnvelope:
    data = {"enterprise": ENTERPRISE, "case_id": case_id, "category": "fund_disbursement", "reason": "无空闲"}
    return _board(bureau, version, "EnterpriseQueued", data)


def _dead_lettered(bootstrap: str, event_id: str) -> list:
    return [
        m
        for m in read_topic(bootstrap, dlq(ASSIGNMENT_EVENTS), 100_000, 3.0)
        if event_id in m.value().decode()
    ]


async def test_a_batch_with_a_poison_event_tells_the_others_once_even_when_it_all_comes_again(
    infra: Servers, mongo_db, consuming: Notifying
) -> None:
    bureau = f"b{uuid.uuid4().hex[:8]}"
    director = {"staff_id": "d1", "name": "张局长", "post": "director", "section": "局领导"}
    poison = _board(bureau, 3, "EnterpriseQueued", {"case_id": "c-poison"})  # no enterprise: can never apply
    batch = [
        _board(bureau, 1, "StaffMemberAdded", director),
        _queued(bureau, 2, "c1"),
        poison,
        _queued(bureau, 4, "c2"),
    ]
    values = [e.model_dump_json().encode() for e in batch]
    key = f"board-{bureau}".encode()

    await aproduce(infra.bootstrap, ASSIGNMENT_EVENTS, values, key=key)
    told = {"recipient": f"staff:{bureau}:d1"}
    await eventually(lambda: _count(mongo_db, {**told, "case_id": "c2"}), 30, "the event after the poison")
    [dead] = _dead_lettered(infra.bootstrap, str(poison.event_id))
    headers = {k: v.decode() for k, v in dead.headers()}
    assert "invalid EnterpriseQueued" in headers["dlq-reason"] and "enterprise" in headers["dlq-reason"]

    # The whole batch again (a redelivery), then one new event behind it on the same partition.
    await aproduce(infra.bootstrap, ASSIGNMENT_EVENTS, values, key=key)
    await aproduce(
        infra.bootstrap, ASSIGNMENT_EVENTS, [_queued(bureau, 5, "c3").model_dump_json().encode()], key=key
    )
    await eventually(lambda: _count(mongo_db, {**told, "case_id": "c3"}), 30, "the event behind the repeat")
    for case_id in ("c1", "c2"):
        assert await _count(mongo_db, {**told, "case_id": case_id}) == 1, case_id
    assert len(_dead_lettered(infra.bootstrap, str(poison.event_id))) == 2  # the poison, each time it came


async def _count(db, query: dict) -> int:
    return await db[DELIVERIES].count_documents(query)


async def test_a_batch_reads_the_leadership_once_yet_sees_a_leader_added_within_it(mongo_db) -> None:
    n = notifying(mongo_db, Clock(NOW), {"inbox"})
    await prepare(n)
    bureau = f"b{uuid.uuid4().hex[:8]}"
    director = {"staff_id": "d1", "name": "张局长", "post": "director", "section": "局领导"}
    secretary = {"staff_id": "p1", "name": "王书记", "post": "party_secretary", "section": "局领导"}
    batch = n.for_one_batch()
    for event in [
        _board(bureau, 1, "StaffMemberAdded", director),
        _queued(bureau, 2, "c1"),
        _queued(bureau, 3, "c2"),
        _board(bureau, 4, "StaffMemberAdded", secretary),
        _queued(bureau, 5, "c3"),
    ]:
        await react(batch, event)

    async def told(case_id: str) -> set[str]:
        return {d["recipient"] async for d in mongo_db[DELIVERIES].find({"case_id": case_id})}

    assert await told("c1") == await told("c2") == {f"staff:{bureau}:d1"}
    assert await told("c3") == {f"staff:{bureau}:d1", f"staff:{bureau}:p1"}
