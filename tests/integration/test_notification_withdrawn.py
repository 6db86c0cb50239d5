"""A ladder's messages held by quiet hours (or a retry) are withdrawn when the ladder ends or moves, on real
SecantusDB: never sent, shown `withdrawn` with the event that ended them; what an event told itself stays."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from services.notification.adapters.channels.base import Message
from services.notification.adapters.deliveries import INBOX, InboxChannel
from services.notification.application.dispatch import Dispatcher
from services.notification.application.react import react
from services.notification.application.scheduled import fire_due_steps
from services.notification.domain.deliveries import RetryPolicy, Status, after_failure
from shared.contracts.envelope import EventEnvelope
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import (
    ENTERPRISE,
    Clock,
    arrears_recorded,
    envelope,
    on_case,
    with_a_concierge,
)
from tests.integration.notification_support import disbursement_opened as _opened
from tests.integration.notification_support import fully_credited as _credited
from tests.integration.notification_support import local as _local
from tests.integration.notification_support import stage_reported as _stage
from tests.integration.notification_support import told as _told
from tests.integration.test_notification_http import auth, client_of

pytestmark = pytest.mark.asyncio
ENTERPRISE_SUBJECT = f"enterprise:finance:{ENTERPRISE['credit_code']}"


class Outbox:
    """An email channel that keeps what it sends."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def send(self, message: Message) -> str:
        self.sent.append(message)
        return message.idempotency_key


async def _world(mongo_db, clock: Clock):
    n = await with_a_concierge(mongo_db, clock, {"inbox", "email"}, "规划科")
    await n.contacts.put(ENTERPRISE_SUBJECT, "finance", {"email": "gm@gree.cn"}, {})
    return n


async def _stuck_held_overnight(mongo_db) -> tuple[Any, Clock]:
    """A stage backdated 4 working days, reported at 23:00 Thursday: the reminder waits for 08:00 Friday."""
    clock = Clock(_local(11, 20, 10))
    n = await _world(mongo_db, clock)
    await react(n, _opened(clock()))
    clock.now = _local(11, 26, 23)
    await react(n, _stage(2, "allocation_received", _local(11, 20, 11), clock()))
    assert await fire_due_steps(n) == 1  # past due already (Wed 25 Nov): it fires at once
    [held] = await _told(mongo_db, template="disbursement_stuck")
    assert held["status"] == "pending" and held["recipient"] == "staff:finance:s1"
    assert held["not_before"].astimezone(SHANGHAI) == _local(11, 27, 8)
    return n, clock


async def test_the_credit_withdraws_a_stuck_reminder_held_by_quiet_hours_and_keeps_the_credit_notice(
    mongo_db,
):
    n, clock = await _stuck_held_overnight(mongo_db)
    clock.advance(seconds=5)
    credited = _credited(3, clock())
    await react(n, credited)
    [withdrawn] = await _told(mongo_db, template="disbursement_stuck")
    assert withdrawn["status"] == "withdrawn"
    assert "ladder ended (credited)" in withdrawn["withdrawn_reason"]
    assert f"DisbursementPaymentCredited {credited.event_id}" in withdrawn["withdrawn_reason"]
    [money] = await _told(mongo_db, template="money_credited")  # told by the event itself: never withdrawn
    assert money["status"] == "pending" and money["recipient"] == ENTERPRISE_SUBJECT

    # Redelivered (or replayed: the same event again): nothing withdrawn or still to be told changes.
    await react(n, credited)
    await react(n, credited)
    assert [d["withdrawn_reason"] for d in await _told(mongo_db, status="withdrawn")] == [
        withdrawn["withdrawn_reason"]
    ]

    clock.now = _local(11, 27, 8, 1)  # quiet hours over: only the credit notice goes out
    outbox = Outbox()
    channels = {"inbox": InboxChannel(mongo_db, clock), "email": outbox}
    dispatcher = Dispatcher(n.deliveries, channels, n.contacts, RetryPolicy(), clock)
    assert await dispatcher.run_once() == 1
    assert await dispatcher.run_once() == 0
    assert [m.address for m in outbox.sent] == ["gm@gree.cn"]
    assert [m async for m in mongo_db[INBOX].find({"recipient": "staff:finance:s1"})] == []
    [shown] = await n.deliveries.find("finance", {"status": "withdrawn"}, 50, 0)
    assert shown.status is Status.WITHDRAWN and shown.sent_at is None and shown.withdrawn_reason


async def test_a_new_stage_withdraws_the_old_stage_s_held_reminder_and_keeps_the_ladder(mongo_db):
    n, clock = await _stuck_held_overnight(mongo_db)
    clock.advance(seconds=5)
    await react(n, _stage(3, "documents_complete", _local(11, 26, 22), clock()))  # counted anew from today
    [withdrawn] = await _told(mongo_db, template="disbursement_stuck")
    assert withdrawn["status"] == "withdrawn" and "stuck count restarted" in withdrawn["withdrawn_reason"]
    doc = await n.deadlines.get("disbursement|d-1")
    assert doc is not None and doc["open"] and doc["next_at"].astimezone(SHANGHAI) == _local(12, 1, 9)


async def test_a_ladder_that_ends_while_its_step_fires_withdraws_what_the_step_told(mongo_db):
    clock = Clock(_local(11, 20, 10))
    n = await _world(mongo_db, clock)
    await react(n, _opened(clock()))
    clock.now = _local(11, 26, 23)
    await react(n, _stage(2, "allocation_received", _local(11, 20, 11), clock()))
    claim_due = n.deadlines.claim_due

    async def credited_meanwhile(now: datetime, limit: int, lease: timedelta) -> list[dict[str, Any]]:
        claimed = await claim_due(now, limit, lease)
        await react(n, _credited(3, clock()))  # ends the ladder before the round records its messages
        return claimed

    n.deadlines.claim_due = credited_meanwhile  # type: ignore[method-assign]
    assert await fire_due_steps(n) == 1
    [withdrawn] = await _told(mongo_db, template="disbursement_stuck")
    assert withdrawn["status"] == "withdrawn" and "ladder ended (credited)" in withdrawn["withdrawn_reason"]


async def test_a_sender_holding_an_old_view_of_what_is_due_does_not_send_a_withdrawn_delivery(mongo_db):
    clock = Clock(_local(11, 20, 10))
    n = await _world(mongo_db, clock)
    await react(n, _opened(clock()))
    clock.now = _local(11, 27, 10)  # daytime: nothing waits, two deliveries due to s1 and d1
    await react(n, _stage(2, "allocation_received", _local(11, 17, 11), clock()))
    assert await fire_due_steps(n) == 2
    # The sender reads what is due once and claims it a round at a time: the second stays in its view.
    [first] = await n.deliveries.claim_due(clock(), 1, timedelta(minutes=2))
    await react(n, _credited(3, clock()))
    assert await n.deliveries.claim_due(clock(), 1, timedelta(minutes=2)) == []
    # The first, being tried while withdrawn, fails and would retry: it stays withdrawn, never tried again.
    await n.deliveries.save_outcome(after_failure(first, "503", clock(), RetryPolicy(), transient=True))
    clock.advance(minutes=10)
    later = await n.deliveries.claim_due(clock(), 10, timedelta(minutes=2))
    assert [d.template for d in later] == ["money_credited"]  # only what the credit itself tells
    statuses = {d["status"] for d in await _told(mongo_db, cause={"$regex": "^timer:"})}
    assert statuses == {"withdrawn"}


async def test_full_repayment_withdraws_an_arrears_reminder_held_by_quiet_hours(mongo_db):
    clock = Clock(_local(11, 20, 10))
    n = await _world(mongo_db, clock)
    await react(n, arrears_recorded(clock()))  # due Fri 27 Nov: reminded Tue 24 Nov at 09:00
    clock.now = _local(11, 24, 22)  # the service was down until 22:00
    assert await fire_due_steps(n) == 1
    held = await _told(mongo_db, template="arrears_due_soon")
    assert held and {d["status"] for d in held} == {"pending"}
    repaid = {
        "arrears_id": "a-1",
        "amount": "1200000.00",
        "repaid_on": "2026-11-24",
        "outstanding": "0.00",
        "days_late": 0,
    }
    await react(n, envelope("arrears-a-1", "arrears", 2, "ArrearsRepaid", repaid, clock()))
    withdrawn = await _told(mongo_db, template="arrears_due_soon")
    assert {d["status"] for d in withdrawn} == {"withdrawn"}
    assert all("ladder ended (repaid)" in d["withdrawn_reason"] for d in withdrawn)


def _task_opened(at: datetime) -> EventEnvelope:
    data = {
        "task_id": "t1",
        "section": "规划科",
        "description": "请核对拨付材料",
        "working_days": 2,
        "opened_at": at.isoformat(),
        "due_at": _local(11, 30, 23, 59).isoformat(),
        "due_provisional": False,
    }
    return on_case("case-1", 3, "CoordinationTaskOpened", data, at)


async def _due_soon_held(mongo_db) -> tuple[Any, Clock]:
    clock = Clock(_local(11, 26, 10))
    n = await _world(mongo_db, clock)
    await react(n, _task_opened(clock()))  # due Mon 30 Nov: reminded Fri 27 Nov at 09:00
    clock.now = _local(11, 27, 22)  # down until 22:00
    assert await fire_due_steps(n) == 1
    [held] = await _told(mongo_db, template="task_due_soon")
    assert held["status"] == "pending"
    return n, clock


async def test_closing_a_task_withdraws_its_held_reminder(mongo_db):
    n, clock = await _due_soon_held(mongo_db)
    closed = on_case("case-1", 4, "CoordinationTaskClosed", {"task_id": "t1", "outcome": "已核对"}, clock())
    await react(n, closed)
    [withdrawn] = await _told(mongo_db, template="task_due_soon")
    assert withdrawn["status"] == "withdrawn" and "ladder ended (closed)" in withdrawn["withdrawn_reason"]


async def test_a_moved_due_date_withdraws_the_held_reminder_of_the_old_one(mongo_db):
    n, clock = await _due_soon_held(mongo_db)
    data = {
        "task_id": "t1",
        "previous_due_at": _local(11, 30, 23, 59).isoformat(),
        "due_at": _local(12, 10, 23, 59).isoformat(),
        "due_provisional": False,
        "calendar_year": 2026,
        "calendar_version": 2,
    }
    await react(n, on_case("case-1", 4, "CoordinationTaskDueRecomputed", data, clock()))
    [withdrawn] = await _told(mongo_db, template="task_due_soon")
    assert withdrawn["status"] == "withdrawn" and "due date moved" in withdrawn["withdrawn_reason"]
    doc = await n.deadlines.task("case-1", "t1")
    assert doc is not None and doc["open"]


async def test_the_delivery_log_shows_a_withdrawn_reminder_and_why(mongo_db):
    n, clock = await _stuck_held_overnight(mongo_db)
    await react(n, _credited(3, clock()))
    async with client_of(n, mongo_db, clock) as client:
        log = await client.get("/api/v1/notifications?status=withdrawn", headers=auth("clerk-key"))
    assert log.status_code == 200, log.text
    [shown] = log.json()["items"]
    assert shown["template"] == "disbursement_stuck" and shown["status"] == "withdrawn"
    assert shown["sent_at"] is None and "DisbursementPaymentCredited" in shown["withdrawn_reason"]


async def test_an_ending_redelivered_after_a_crash_before_its_withdrawal_withdraws_then(mongo_db):
    n, clock = await _stuck_held_overnight(mongo_db)
    credited = _credited(3, clock())
    await n.deadlines.close("disbursement|d-1", credited.version, "credited")  # then the service died
    await react(n, credited)  # redelivered: the ladder is closed already
    [withdrawn] = await _told(mongo_db, template="disbursement_stuck")
    assert withdrawn["status"] == "withdrawn"
