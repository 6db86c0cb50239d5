"""The notification API on real SecantusDB (in-process app): contacts masked and erasable, the inbox is a
person's, the delivery log, the escalation rules by version, and the rating link without an account."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from services.notification.adapters.deliveries import InboxChannel
from services.notification.application.dispatch import Dispatcher
from services.notification.application.react import react
from services.notification.entrypoints import feedback_http, http
from shared.auth.keys import Principal, Role
from shared.service import install_error_handlers
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import (
    CREDIT,
    Clock,
    assigned,
    case_opened,
    notifying,
    on_case,
    prepare,
    staff,
)

pytestmark = pytest.mark.asyncio
START = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
PEOPLE = {
    "admin-key": Principal(bureau="finance", role=Role.ADMIN, key_id="k-admin"),
    "clerk-key": Principal(bureau="finance", role=Role.STAFF, key_id="k-staff"),
    "li-token": Principal(
        bureau="finance",
        role=Role.STAFF,
        key_id="t-li",
        staff_id="s1",
        name="李副局长",
        post="deputy_director",
    ),
    "other-bureau": Principal(bureau="innovation", role=Role.ADMIN, key_id="k-inno"),
}


class Keys:
    async def authenticate(self, key: str) -> Principal | None:
        return PEOPLE.get(key)


@pytest.fixture
async def api(mongo_db) -> AsyncIterator[tuple[httpx.AsyncClient, object, Clock]]:
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"}, public_url="http://gw")
    await prepare(n)
    app = FastAPI()
    app.state.notifying, app.state.api_keys = n, Keys()
    app.state.inbox = InboxChannel(mongo_db, clock)
    app.include_router(http.router)
    app.include_router(feedback_http.router)
    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client, n, clock


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_contact_is_answered_masked_and_an_admin_can_erase_it(api):
    client, n, _ = api
    body = {"name": "王经理", "email": "gm@gree.cn", "mobile": "13912345678"}
    put = await client.put(
        f"/api/v1/contacts/enterprise:finance:{CREDIT}", json=body, headers=auth("admin-key")
    )
    assert put.status_code == 200, put.text
    assert put.json()["addresses"] == {"email": "g***@gree.cn", "sms": "139****5678"}
    assert "13912345678" not in put.text
    got = await client.get(f"/api/v1/contacts/enterprise:finance:{CREDIT}", headers=auth("clerk-key"))
    assert got.json()["addresses"]["sms"] == "139****5678"
    assert (
        await client.delete(f"/api/v1/contacts/enterprise:finance:{CREDIT}", headers=auth("clerk-key"))
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/contacts/enterprise:finance:{CREDIT}", headers=auth("admin-key"))
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/contacts/enterprise:finance:{CREDIT}", headers=auth("admin-key"))
    ).status_code == 404
    assert await n.contacts.address(f"enterprise:finance:{CREDIT}", "email") is None


async def test_contacts_of_another_bureau_are_not_found_and_bad_input_says_why(api):
    client, _, _ = api
    other = await client.put(
        "/api/v1/contacts/staff:finance:s1", json={"email": "a@b.cn"}, headers=auth("other-bureau")
    )
    assert other.status_code == 404
    bad = await client.put(
        "/api/v1/contacts/staff:finance:s1", json={"mobile": "12345"}, headers=auth("admin-key")
    )
    assert bad.status_code == 422 and "mobile" in bad.text
    weird = await client.put("/api/v1/contacts/robot:finance:x", json={}, headers=auth("admin-key"))
    assert weird.status_code == 422
    clerk = await client.put(
        "/api/v1/contacts/staff:finance:s2", json={"email": "a@b.cn"}, headers=auth("clerk-key")
    )
    assert clerk.status_code == 403


async def test_a_person_keeps_their_own_contact_and_reads_their_own_inbox(api):
    client, n, clock = api
    own = await client.put(
        "/api/v1/contacts/staff:finance:s1",
        json={"email": "li@gaoxin.gov.cn", "quiet_start": "22:00"},
        headers=auth("li-token"),
    )
    assert own.status_code == 200, own.text
    await react(n, staff(1, "s1", "李副局长", "deputy_director", "局领导", clock()))
    await react(n, case_opened("case-1", clock()))
    await react(n, assigned(2, "case-1", "s1", "李副局长", clock()))
    inbox = InboxChannel(n.deliveries._c.database, clock)
    await Dispatcher(n.deliveries, {"inbox": inbox}, n.contacts, clock=clock).run_once()
    listed = await client.get("/api/v1/inbox?unread=true", headers=auth("li-token"))
    items = listed.json()["items"]
    assert len(items) == 1 and "格力" in items[0]["subject"] and items[0]["created_at"].endswith("+08:00")
    assert (
        await client.post(f"/api/v1/inbox/{items[0]['id']}/read", headers=auth("li-token"))
    ).status_code == 204
    assert (await client.get("/api/v1/inbox?unread=true", headers=auth("li-token"))).json()["items"] == []
    assert (
        await client.get("/api/v1/inbox", headers=auth("admin-key"))
    ).status_code == 403  # a key has no inbox
    assert (await client.post(f"/api/v1/inbox/{'0' * 32}/read", headers=auth("li-token"))).status_code == 404
    log = await client.get("/api/v1/notifications?case_id=case-1&status=sent", headers=auth("clerk-key"))
    assert [d["channel"] for d in log.json()["items"]] == ["inbox"]
    assert (await client.get("/api/v1/notifications?case_id=case-1", headers=auth("other-bureau"))).json()[
        "items"
    ] == []
    assert (
        await client.get("/api/v1/notifications?status=lost", headers=auth("clerk-key"))
    ).status_code == 422


async def test_rules_change_by_version_and_only_by_an_admin(api):
    client, _, _ = api
    current = (await client.get("/api/v1/notifications/rules", headers=auth("clerk-key"))).json()
    assert current["version"] == 1 and current["supervise_after_overdue_workdays"] == 2
    body = {
        "expected_version": 1,
        "remind_workdays_before": 2,
        "remind_on_due_day": True,
        "supervise_after_overdue_workdays": 3,
        "supervision_deadline_workdays": 2,
    }
    assert (
        await client.put("/api/v1/notifications/rules", json=body, headers=auth("clerk-key"))
    ).status_code == 403
    changed = await client.put("/api/v1/notifications/rules", json=body, headers=auth("admin-key"))
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = await client.put("/api/v1/notifications/rules", json=body, headers=auth("admin-key"))
    assert stale.status_code == 409 and "version 2" in stale.text
    bad = await client.put(
        "/api/v1/notifications/rules",
        json={**body, "expected_version": 2, "supervise_after_overdue_workdays": 0},
        headers=auth("admin-key"),
    )
    assert bad.status_code == 422


async def test_the_money_ladders_have_defaults_and_a_change_leaving_them_out_keeps_them(api):
    client, n, _ = api
    current = (await client.get("/api/v1/notifications/rules", headers=auth("clerk-key"))).json()
    assert current["stuck_escalate_after_workdays"] == 2 and current["arrears_remind_workdays_before"] == 3
    assert current["money_section"] == ""
    money = {
        "expected_version": 1,
        "remind_workdays_before": 1,
        "remind_on_due_day": True,
        "supervise_after_overdue_workdays": 2,
        "supervision_deadline_workdays": 2,
        "arrears_escalate_after_overdue_workdays": 5,
        "money_section": "资金科",
    }
    changed = await client.put("/api/v1/notifications/rules", json=money, headers=auth("admin-key"))
    assert changed.status_code == 200 and changed.json()["money_section"] == "资金科"
    task_only = {
        k: v
        for k, v in money.items()
        if k not in ("arrears_escalate_after_overdue_workdays", "money_section")
    }
    again = await client.put(
        "/api/v1/notifications/rules",
        json={**task_only, "expected_version": 2, "remind_workdays_before": 2},
        headers=auth("admin-key"),
    )
    kept = again.json()  # a client of the first rules version leaves the money ladders as they were
    assert kept["version"] == 3 and kept["remind_workdays_before"] == 2
    assert kept["arrears_escalate_after_overdue_workdays"] == 5 and kept["money_section"] == "资金科"
    bad = await client.put(
        "/api/v1/notifications/rules",
        json={**task_only, "expected_version": 3, "stuck_escalate_after_workdays": 0},
        headers=auth("admin-key"),
    )
    assert bad.status_code == 422
    assert (await n.rules.current("finance")).arrears_escalate_after_overdue_workdays == 5


async def test_the_rating_link_needs_no_account_works_once_and_refuses_forgeries(api):
    client, n, clock = api
    await n.contacts.put(f"enterprise:finance:{CREDIT}", "finance", {"email": "gm@gree.cn"}, {})
    await react(n, case_opened("case-1", clock()))
    await react(
        n, on_case("case-1", 2, "CaseResolved", {"summary": "已到账", "settlement_intent": True}, clock())
    )
    body = (await n.deliveries.find("finance", {"template": "rating_invitation"}, 1, 0))[0].body
    link = re.search(r"http://gw/api/v1/feedback/(\S+)", body)
    assert link is not None
    token = link.group(1)
    page = await client.get(f"/api/v1/feedback/{token}")
    assert page.status_code == 200 and page.json()["enterprise_name"].startswith("格力")
    assert (await client.post(f"/api/v1/feedback/{token}", json={"rating": 6})).status_code == 422
    assert (
        await client.post(f"/api/v1/feedback/{token}", json={"rating": 2, "comment": "慢"})
    ).status_code == 201
    again = await client.post(f"/api/v1/feedback/{token}", json={"rating": 5})
    assert again.status_code == 409 and "once" in again.text
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert (await client.get(f"/api/v1/feedback/{forged}")).status_code == 400
    assert (await client.get("/api/v1/feedback/%00")).status_code in (400, 404, 422)
    clock.advance(days=15)
    expired = await client.get(f"/api/v1/feedback/{token}")
    assert expired.status_code == 410 and "expired" in expired.text
