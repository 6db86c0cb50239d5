"""Claiming deliveries on real SecantusDB: two senders never send one delivery twice, a dead sender's claim
lapses, and a retry waits for its backoff, not for the lease."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from services.notification.adapters.deliveries import MongoDeliveryStore
from services.notification.domain.deliveries import Delivery, RetryPolicy, Status, after_failure, delivery_id
from shared.workdays.calendar import SHANGHAI

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
LEASE = timedelta(minutes=2)


def _delivery(cause: str, at: datetime = NOW) -> Delivery:
    recipient = "staff:finance:s1"
    return Delivery(
        id=delivery_id(cause, recipient, "email"),
        cause=cause,
        bureau="finance",
        case_id="case-1",
        recipient=recipient,
        channel="email",
        template="concierge_assigned",
        language="zh-CN",
        subject="您有新的专责案件",
        body="案件 case-1 已分派给您。",
        not_before=at,
        created_at=at,
    )


def _sent(delivery: Delivery, at: datetime) -> Delivery:
    return replace(delivery, status=Status.SENT, attempts=delivery.attempts + 1, sent_at=at, receipt="250 OK")


async def test_a_delivery_another_sender_sent_is_not_sent_again_when_the_first_sender_comes_to_it(mongo_db):
    first, second = MongoDeliveryStore(mongo_db), MongoDeliveryStore(mongo_db)
    await first.ensure_indexes()
    deliveries = [_delivery(f"event-{i}") for i in range(3)]
    for d in deliveries:
        assert await first.record(d)

    [mine] = await first.claim_due(NOW, 1, LEASE)  # its sweep saw all three pending
    theirs = await second.claim_due(NOW, 10, LEASE)
    assert {d.id for d in theirs} == {d.id for d in deliveries} - {mine.id}  # the one claimed is left alone
    for d in theirs:
        await second.save_outcome(_sent(d, NOW))
    await first.save_outcome(_sent(mine, NOW))

    # The first sender still holds its sweep's copies of the other two; their claims have run out by now, but
    # they were sent: neither is taken again.
    assert await first.claim_due(NOW + LEASE * 2, 1, LEASE) == []
    assert await first.claim_due(NOW + LEASE * 2, 10, LEASE) == []
    assert await second.claim_due(NOW + LEASE * 2, 10, LEASE) == []


async def test_a_dead_senders_claim_lapses_and_a_retry_is_taken_when_its_backoff_ends(mongo_db):
    store = MongoDeliveryStore(mongo_db)
    await store.ensure_indexes()
    lost, failing = _delivery("event-lost"), _delivery("event-failing")
    await store.record(lost)
    await store.record(failing)
    assert len(await MongoDeliveryStore(mongo_db).claim_due(NOW, 10, LEASE)) == 2  # that sender then dies

    assert await store.claim_due(NOW + timedelta(minutes=1), 10, LEASE) == []  # still its claim
    later = NOW + LEASE + timedelta(seconds=1)
    retaken = {d.id: d for d in await store.claim_due(later, 10, LEASE)}
    assert set(retaken) == {lost.id, failing.id}

    policy = RetryPolicy(first_delay=timedelta(seconds=5))
    retry = after_failure(retaken[failing.id], "421 try again later", later, policy, transient=True)
    await store.save_outcome(retry)
    await store.save_outcome(_sent(retaken[lost.id], later))

    assert await store.claim_due(later + timedelta(seconds=4), 10, LEASE) == []  # backoff not over
    [again] = await store.claim_due(later + timedelta(seconds=5), 10, LEASE)  # not held until the lease ends
    assert again.id == failing.id and again.attempts == 1 and again.last_error == "421 try again later"
