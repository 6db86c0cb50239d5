"""The notification API on real SecantusDB (in-process app): contacts masked and erasable, the inbox is a
person's, the delivery log, the escalation rules by version, and the rating link without an account."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.adapters.contacts import ContactBook
from services.notification.adapters.deliveries import InboxChannel
from services.notification.application.context import Notifying
from services.notification.application.dispatch import Dispatcher
from services.notification.application.react import react
from services.notification.entrypoints import feedback_http, http
from shared.auth.keys import Principal, Role
from shared.crypto.vault import Vault
from shared.service import install_error_handlers
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import (
    CREDIT,
    Clock,
    assigned,
    case_opened,
    envelope,
    notifying,
    on_case,
    prepare,
    staff,
    stored_and_told,
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
    "admin-clerk-token": Principal(  # the bureau admin: a clerk whose account manages roster and accounts
        bureau="finance", role=Role.ADMIN, key_id="t-zhao", staff_id="s2", name="赵经办", post="clerk"
    ),
    "director-token": Principal(
        bureau="finance", role=Role.STAFF, key_id="t-zhou", staff_id="s3", name="周建国", post="director"
    ),
}


class Keys:
    async def authenticate(self, key: str) -> Principal | None:
        return PEOPLE.get(key)


@pytest.fixture
async def api(mongo_db) -> AsyncIterator[tuple[httpx.AsyncClient, object, Clock]]:
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "email"}, public_url="http://gw")
    await prepare(n)
    async with client_of(n, mongo_db, clock) as client:
        yield client, n, clock


def client_of(n: Notifying, db: AsyncDatabase, clock: Clock) -> httpx.AsyncClient:
    """An HTTP client of the notification API on these ports."""
    app = FastAPI()
    app.state.notifying, app.state.api_keys = n, Keys()
    app.state.inbox = InboxChannel(db, clock)
    app.include_router(http.router)
    app.include_router(feedback_http.router)
    install_error_handlers(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


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
    await react(n, staff(1, "s1", "李副局长", "deputy_director", "局领导", clock()))
    own = await client.put(
        "/api/v1/contacts/staff:finance:s1",
        json={"email": "li@gaoxin.gov.cn", "quiet_start": "22:00"},
        headers=auth("li-token"),
    )
    assert own.status_code == 200, own.text
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


async def test_rules_change_by_version_and_only_by_leadership_or_an_admin_key(api):
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
    # The ladder decides when 督办 is issued: a bureau setting, leadership's (the rights table), not the admin's.
    admin_clerk = await client.put(
        "/api/v1/notifications/rules", json=body, headers=auth("admin-clerk-token")
    )
    assert admin_clerk.status_code == 403 and "may not change the bureau's settings" in admin_clerk.text
    changed = await client.put("/api/v1/notifications/rules", json=body, headers=auth("director-token"))
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = await client.put("/api/v1/notifications/rules", json=body, headers=auth("admin-key"))
    assert stale.status_code == 409 and "version 2" in stale.text
    assert stale.json()["detail"].startswith("规则已被修改，请重新读取后再改 / ")  # Chinese first
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
    resolved = on_case("case-1", 2, "CaseResolved", {"summary": "已到账", "settlement_intent": True}, clock())
    await stored_and_told(n, case_opened("case-1", clock()), resolved)
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


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        (
            "RatingCollected",
            {"rating": 5, "comment": "满意"},
        ),  # the concierge recorded the enterprise's rating
        ("CaseReopened", {"reason": "企业补充了新情况", "flagged_for_leadership": False}),
    ],
    ids=["rated-by-the-concierge", "reopened"],
)
async def test_a_link_whose_resolution_was_rated_or_reopened_since_says_so_and_records_nothing(
    api, event_type, data
):
    client, n, clock = api
    resolved = on_case("case-1", 2, "CaseResolved", {"summary": "已到账", "settlement_intent": True}, clock())
    [_, resolution] = await stored_and_told(n, case_opened("case-1", clock()), resolved)
    token, _ = n.tokens.issue("finance", "case-1", clock(), token_id=resolution.event_id.hex)  # as its mail's
    assert (await client.get(f"/api/v1/feedback/{token}")).json()["rateable"] is True
    await stored_and_told(n, on_case("case-1", 3, event_type, data, clock()))

    page = await client.get(f"/api/v1/feedback/{token}")
    refused = await client.post(f"/api/v1/feedback/{token}", json={"rating": 1, "comment": "很差"})

    assert page.status_code == 200 and page.json()["rateable"] is False and page.json()["used"] is False
    assert refused.status_code == 409 and "rates nothing now" in refused.text
    assert await n.recorder.read_stream(f"feedback-{resolution.event_id.hex}") == []


async def test_a_link_of_an_earlier_resolution_rates_nothing_once_the_case_was_resolved_again(api):
    client, n, clock = api
    first = on_case("case-1", 2, "CaseResolved", {"summary": "已到账", "settlement_intent": True}, clock())
    reopened = on_case(
        "case-1", 3, "CaseReopened", {"reason": "评价低", "flagged_for_leadership": True}, clock()
    )
    again = on_case("case-1", 4, "CaseResolved", {"summary": "补齐", "settlement_intent": True}, clock())
    [_, resolution, _, _] = await stored_and_told(n, case_opened("case-1", clock()), first, reopened, again)
    old, _ = n.tokens.issue("finance", "case-1", clock(), token_id=resolution.event_id.hex)

    refused = await client.post(f"/api/v1/feedback/{old}", json={"rating": 5, "comment": ""})

    assert refused.status_code == 409 and "rates nothing now" in refused.text


RULES = {
    "expected_version": 1,
    "remind_workdays_before": 2,
    "remind_on_due_day": True,
    "supervise_after_overdue_workdays": 3,
    "supervision_deadline_workdays": 2,
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("remind_on_due_day", "yes"),
        ("remind_on_due_day", "off"),
        ("remind_on_due_day", 1),
        ("arrears_remind_on_due_day", "0"),
        ("remind_workdays_before", "2"),
        ("remind_workdays_before", True),
        ("supervise_after_overdue_workdays", 3.5),
        ("expected_version", "1"),
    ],
)
async def test_rules_refuse_a_flag_or_number_written_otherwise_and_name_the_field(api, field, value):
    client, n, _ = api
    refused = await client.put(
        "/api/v1/notifications/rules", json={**RULES, field: value}, headers=auth("admin-key")
    )
    assert refused.status_code == 422, refused.text
    assert [e["loc"] for e in refused.json()["detail"]] == [["body", field]]
    assert (await n.rules.current("finance")).version == 1  # nothing was recorded
    kept = await client.put("/api/v1/notifications/rules", json=RULES, headers=auth("admin-key"))
    assert kept.status_code == 200 and kept.json()["remind_on_due_day"] is True


@pytest.mark.parametrize("value", ["yes", "1", "on", "True", ""])
async def test_the_inbox_takes_only_true_or_false_for_unread(api, value):
    client, _, _ = api
    refused = await client.get(f"/api/v1/inbox?unread={value}", headers=auth("li-token"))
    assert refused.status_code == 422, refused.text
    assert [e["loc"] for e in refused.json()["detail"]] == [["query", "unread"]]
    for flag in ("true", "false"):
        assert (await client.get(f"/api/v1/inbox?unread={flag}", headers=auth("li-token"))).status_code == 200


async def test_the_rating_page_answers_its_expiry_in_shanghai_time(api):
    client, n, clock = api
    await react(n, case_opened("case-1", clock()))
    token, claims = n.tokens.issue("finance", "case-1", clock())
    page = await client.get(f"/api/v1/feedback/{token}")
    assert page.status_code == 200, page.text
    expires_at = page.json()["expires_at"]
    assert expires_at.endswith("+08:00") and datetime.fromisoformat(expires_at) == claims.expires_at


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("notacode", "18"),
        ("91410100ZZZZZZZZZZ", "not allowed"),
        ("91440400MA4UJ1XQ19", "check character"),
        ("01440400MA4UJ1XQ18", "登记管理部门"),
        (CREDIT.lower(), CREDIT),
    ],
)
async def test_an_enterprise_contact_needs_a_valid_credit_code(api, code, reason):
    client, n, _ = api
    refused = await client.put(
        f"/api/v1/contacts/enterprise:finance:{code}", json={"email": "gm@gree.cn"}, headers=auth("admin-key")
    )
    assert refused.status_code == 422, refused.text
    (problem,) = refused.json()["detail"]
    assert problem["loc"] == ["path", "subject"] and reason in problem["msg"]
    assert await n.contacts.masked(f"enterprise:finance:{code}") is None


async def test_a_staff_contact_needs_a_person_on_the_bureaus_roster(api):
    client, n, clock = api
    await react(n, staff(1, "s1", "李副局长", "deputy_director", "局领导", clock()))
    await react(n, staff(2, "s9", "张科员", "clerk", "资金科", clock()))
    await react(
        n,
        envelope("board-finance", "board", 3, "StaffDeparted", {"staff_id": "s9", "reason": "调离"}, clock()),
    )
    body = {"email": "x@gaoxin.gov.cn"}
    other_bureau = await client.put(
        "/api/v1/contacts/staff:finance:s1", json=body, headers=auth("other-bureau")
    )
    for staff_id in ("nobody-here", "s9"):  # never on the roster; departed
        unknown = await client.put(
            f"/api/v1/contacts/staff:finance:{staff_id}", json=body, headers=auth("admin-key")
        )
        assert unknown.status_code == 404 and unknown.json() == other_bureau.json()
        assert await n.contacts.masked(f"staff:finance:{staff_id}") is None
    known = await client.put("/api/v1/contacts/staff:finance:s1", json=body, headers=auth("admin-key"))
    assert known.status_code == 200, known.text


class ErasedKeys:
    """A key store whose subjects were all erased and which gives no new key."""

    async def key_for(self, subject: str) -> bytes | None:
        return None

    async def create_key(self, subject: str) -> bytes | None:
        return None

    async def erase(self, subject: str) -> bool:
        return False


async def test_a_contact_the_vault_refuses_to_seal_after_erasure_is_a_409_with_the_reason(api, mongo_db):
    _, n, clock = api
    refusing = dataclasses.replace(n, contacts=ContactBook(mongo_db, Vault(ErasedKeys())))
    async with client_of(refusing, mongo_db, clock) as client:
        put = await client.put(
            f"/api/v1/contacts/enterprise:finance:{CREDIT}",
            json={"email": "gm@gree.cn"},
            headers=auth("admin-key"),
        )
    assert put.status_code == 409, put.text
    assert "erased" in put.json()["detail"]


async def test_a_contact_given_again_after_erasure_is_never_a_server_error(api):
    client, _, _ = api
    path, body = f"/api/v1/contacts/enterprise:finance:{CREDIT}", {"email": "gm@gree.cn"}
    assert (await client.put(path, json=body, headers=auth("admin-key"))).status_code == 200
    assert (await client.delete(path, headers=auth("admin-key"))).status_code == 204
    again = await client.put(path, json=body, headers=auth("admin-key"))
    assert again.status_code in (200, 409), again.text
