"""Replays after the contact book or the deployment moved on (real SecantusDB): a broker that lost its topics and
republishes, or a new consumer group reading from the start, tells nobody of old events on a channel added since,
to the contact or to the deployment."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from services.notification.adapters.channel_ledger import ChannelLedger
from services.notification.adapters.deliveries import DELIVERIES
from services.notification.application.react import react
from services.notification.bootstrap import notifying_of
from services.notification.settings import NotificationSettings
from shared.contracts.envelope import Actor
from shared.eventstore.recorder import NewEvent, Recording
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import (
    CREDIT,
    Clock,
    assigned,
    case_opened,
    notifying,
    prepare,
    staff,
)
from tests.integration.test_notification_flow import _roster_and_case

pytestmark = pytest.mark.asyncio
START = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
STAFF, ENTERPRISE = "staff:finance:s1", f"enterprise:finance:{CREDIT}"


async def _told(db) -> set[tuple[str, str]]:
    return {(d["recipient"], d["channel"]) async for d in db[DELIVERIES].find({})}


async def test_a_replayed_assignment_tells_nobody_on_a_channel_added_since_but_a_new_event_does(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    await _roster_and_case(n, clock)
    decision = assigned(4, "case-1", "s1", "李副局长", clock())
    assert await react(n, decision) == 1  # the concierge's inbox: nobody had given an address
    clock.advance(hours=2)
    await n.contacts.put(STAFF, "finance", {"email": "li@gaoxin.gov.cn"}, {}, at=clock())
    await n.contacts.put(ENTERPRISE, "finance", {"email": "gm@gree.cn"}, {}, at=clock())

    assert await react(n, decision) == 0  # the same event again, days of contacts later
    assert await _told(mongo_db) == {(STAFF, "inbox")}

    clock.advance(minutes=1)
    later = assigned(4, "case-1", "s1", "李副局长", clock()).model_copy(update={"event_id": uuid.uuid4()})
    assert await react(n, later) == 3  # an event after the addresses were given: told on them
    assert await _told(mongo_db) == {(STAFF, "inbox"), (STAFF, "email"), (ENTERPRISE, "email")}


async def test_a_replay_after_the_sms_gateway_was_configured_tells_nobody_of_old_events_by_text(mongo_db):
    clock = Clock(START)
    ledger = ChannelLedger(mongo_db)
    first = notifying(mongo_db, clock, {"inbox", "email"})  # no SMS gateway at first
    first.channels_on_since = await ledger.opened({"inbox", "email"}, clock())
    await prepare(first)
    await first.contacts.put(STAFF, "finance", {"mobile": "13800000001"}, {"channels": ["sms"]}, at=clock())
    await _roster_and_case(first, clock)
    decision = assigned(4, "case-1", "s1", "李副局长", clock())
    assert await react(first, decision) == 1  # the inbox: SMS is not configured
    clock.advance(days=2)
    # A restart with NOTIFICATION_SMS_GATEWAY_URL set, and the broker replays every event (embedded Tansu).
    on_since = await ledger.opened({"inbox", "email", "sms"}, clock())
    restarted = notifying_of(
        mongo_db,
        first.recorder,
        NotificationSettings(),
        {"inbox", "email", "sms"},
        first.tokens,
        clock,
        on_since,
    )
    assert await react(restarted, decision) == 0
    assert await _told(mongo_db) == {(STAFF, "inbox")}
    clock.advance(minutes=1)
    later = assigned(4, "case-1", "s1", "李副局长", clock()).model_copy(update={"event_id": uuid.uuid4()})
    assert await react(restarted, later) == 2  # a new event: the inbox and the text
    assert (STAFF, "sms") in await _told(mongo_db)


async def test_a_changed_address_keeps_its_channel_and_a_channel_taken_again_counts_from_then(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email", "sms"})
    await prepare(n)
    await n.contacts.put(STAFF, "finance", {"email": "li@gaoxin.gov.cn"}, {}, at=clock())
    clock.advance(hours=1)
    await n.contacts.put(
        STAFF, "finance", {"email": "li.new@gaoxin.gov.cn", "mobile": "13800000001"}, {}, at=clock()
    )
    [audience] = (await n.contacts.audiences([STAFF])).values()
    assert audience.reachable_since == {"email": START, "sms": clock()}  # the email reached them all along
    assert audience.reaches("email", START) and not audience.reaches("sms", START)
    assert audience.reaches("sms", clock())


async def test_a_replayed_older_case_leaves_the_contact_given_since(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    sealed = await n.contacts._vault.seal(ENTERPRISE, {"name": "王经理", "email": "old@gree.cn"})
    await n.contacts.put_sealed(ENTERPRISE, "finance", sealed, START)  # the case opened with its contact
    clock.advance(days=1)
    await n.contacts.put(
        ENTERPRISE, "finance", {"email": "new@gree.cn"}, {}, at=clock()
    )  # corrected by staff
    await n.contacts.put_sealed(ENTERPRISE, "finance", sealed, START)  # that CaseOpened again, in a replay
    assert await n.contacts.address(ENTERPRISE, "email") == "new@gree.cn"


async def test_a_decision_that_comes_before_its_case_opening_still_tells_the_enterprise(mongo_db):
    # The case and board topics are consumed apart: after a restart the board's backlog may be handled first.
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    await react(n, staff(1, "s1", "李副局长", "deputy_director", "局领导", clock()))
    sealed = await n.contacts._vault.seal(ENTERPRISE, {"name": "王经理", "email": "gm@gree.cn"})
    opening = {**case_opened("case-9", clock()).data, "contact": sealed}
    intake = Recording(
        "case-9", "case", 0, "finance", Actor(kind="service", id="intake"), "c-9", uuid.uuid4()
    )
    [opened] = (await n.recorder.append(intake, [NewEvent("CaseOpened", 1, opening)])).events
    decided = opened.occurred_at + timedelta(seconds=1)  # the store stamps the opening with its own clock
    # Told: the concierge's inbox, and the enterprise's email from the opening read in the store.
    assert await react(n, assigned(2, "case-9", "s1", "李副局长", decided)) == 2
    assert (ENTERPRISE, "email") in await _told(mongo_db)
    assert await react(n, opened) == 0  # the opening, when it comes on its topic, adds nothing


async def test_a_contact_given_between_the_check_and_the_write_of_an_older_case_stands(mongo_db, monkeypatch):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"})
    await prepare(n)
    sealed = await n.contacts._vault.seal(ENTERPRISE, {"name": "王经理", "email": "old@gree.cn"})
    clock.advance(days=1)
    await n.contacts.put(ENTERPRISE, "finance", {"email": "new@gree.cn"}, {}, at=clock())
    stale_read = n.contacts._c.find_one

    async def read_before_the_correction(*args, **kwargs):
        return None  # as if the staff's PUT landed right after the replayed case's check

    monkeypatch.setattr(n.contacts._c, "find_one", read_before_the_correction)
    await n.contacts.put_sealed(ENTERPRISE, "finance", sealed, START)
    monkeypatch.setattr(n.contacts._c, "find_one", stale_read)
    assert await n.contacts.address(ENTERPRISE, "email") == "new@gree.cn"
