"""The delivery log after an erasure (outside trial): no masked address of the erased contact is left, and what
was held for them is withdrawn (not failed); before it, a held delivery shows where it will go, masked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest

from services.notification.application.dispatch import Dispatcher
from services.notification.domain.deliveries import Delivery, RetryPolicy, Status, delivery_id
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import CREDIT, Clock, notifying, prepare
from tests.integration.test_notification_http import auth, client_of
from tests.unit.test_notification_dispatch import FakeChannel

pytestmark = pytest.mark.asyncio
START = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
SUBJECT = f"enterprise:finance:{CREDIT}"
CONTACT = f"/api/v1/contacts/{SUBJECT}"


@pytest.fixture
async def api(mongo_db) -> AsyncIterator[tuple[httpx.AsyncClient, object, Clock]]:
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email", "sms"}, public_url="http://gw")
    await prepare(n)
    async with client_of(n, mongo_db, clock) as client:
        yield client, n, clock


def _delivery(channel: str, at: datetime, **outcome: object) -> Delivery:
    cause = "event-1"
    return Delivery(
        id=delivery_id(cause, SUBJECT, channel),
        cause=cause,
        bureau="finance",
        case_id="case-1",
        recipient=SUBJECT,
        channel=channel,
        template="concierge_introduced",
        language="zh-CN",
        subject="专责店小二",
        body="您的专责店小二是李副局长。",
        not_before=at,
        created_at=at,
        **outcome,  # type: ignore[arg-type]
    )


async def _addresses(client: httpx.AsyncClient) -> dict[str, str | None]:
    log = await client.get("/api/v1/notifications", headers=auth("clerk-key"))
    assert log.status_code == 200, log.text
    return {item["channel"]: item["address"] for item in log.json()["items"]}


async def test_erasing_a_contact_blanks_its_masked_addresses_and_withdraws_what_was_held(api):
    client, n, clock = api
    given = {"name": "王经理", "email": "王@ent.test", "mobile": "13800002222"}
    assert (await client.put(CONTACT, json=given, headers=auth("admin-key"))).status_code == 200
    sent = _delivery("email", clock(), status=Status.SENT, attempts=1, address_masked="王***@ent.test")
    held = _delivery("sms", clock() + timedelta(hours=1))  # waiting (quiet hours): never tried yet
    assert await n.deliveries.record_all([sent, held]) == 2
    assert await _addresses(client) == {"email": "王***@ent.test", "sms": "138****2222"}

    assert (await client.delete(CONTACT, headers=auth("admin-key"))).status_code == 204

    assert await _addresses(client) == {"email": None, "sms": None}
    clock.advance(hours=2)
    sms = FakeChannel("sms")
    dispatcher = Dispatcher(n.deliveries, {"sms": sms}, n.contacts, RetryPolicy(), clock)
    assert await dispatcher.run_once() == 1
    [withdrawn] = await n.deliveries.find("finance", {"status": "withdrawn"}, 10, 0)
    assert withdrawn.id == held.id and withdrawn.withdrawn_reason == "联系人已擦除 / the contact was erased"
    assert not sms.sent and await n.deliveries.count_failed() == 0 and dispatcher.stats.failed == 0


async def test_a_missing_address_of_a_contact_not_erased_is_still_a_failure(api):
    client, n, clock = api
    given = {"name": "王经理", "email": "wang@ent.test"}
    assert (await client.put(CONTACT, json=given, headers=auth("admin-key"))).status_code == 200
    await n.deliveries.record_all([_delivery("sms", clock())])  # recorded while it had a mobile
    await Dispatcher(n.deliveries, {"sms": FakeChannel("sms")}, n.contacts, RetryPolicy(), clock).run_once()
    [failed] = await n.deliveries.find("finance", {}, 10, 0)
    assert failed.status is Status.FAILED and "no address" in (failed.last_error or "")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a>,<victim@x.cn"}, "email"),
        ({"email": "a@x.cn,victim@x.cn"}, "email"),
        ({"wecom_user_id": "@all"}, "wecom_user_id"),
        ({"dingtalk_user_id": "@all"}, "dingtalk_user_id"),
    ],
)
async def test_a_contact_reaching_more_than_one_person_is_a_422_naming_the_field(api, body, field):
    client, n, _ = api
    answer = await client.put(CONTACT, json=body, headers=auth("admin-key"))
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", field] and " / " in problem["msg"]
    assert await n.contacts.masked(SUBJECT) is None


async def test_a_money_section_with_a_bidi_override_is_a_422_naming_the_field(api):
    client, _, _ = api
    body = {
        "expected_version": 1,
        "remind_workdays_before": 2,
        "remind_on_due_day": True,
        "supervise_after_overdue_workdays": 3,
        "supervision_deadline_workdays": 2,
        "money_section": "资金\u202e科",
    }
    answer = await client.put("/api/v1/notifications/rules", json=body, headers=auth("director-token"))
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"][:2] == ["body", "money_section"] and "U+202E" in problem["msg"]
