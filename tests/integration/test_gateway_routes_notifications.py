"""README's notification routes through the gateway, as a user sees them: a person's inbox, the bureau's delivery
log and its filters, a contact's masked view, and the escalation rules with their version."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Role
from shared.devstack.stack import Stack
from tests.api import Api
from tests.integration.test_people_gateway import person, signed_in
from tests.support import case_body, credit_code, eventually

pytestmark = pytest.mark.integration
NO_QUIET_HOURS = {"channels": ["inbox"], "quiet_start": "00:00", "quiet_end": "00:00"}


async def keep_contact(admin: httpx.AsyncClient, subject: str, contact: dict[str, Any]) -> dict[str, Any]:
    """PUT a contact once the notification service knows the subject (a person: moments after being added)."""

    async def kept() -> dict[str, Any] | None:
        answer = await admin.put(f"/api/v1/contacts/{subject}", json=contact)
        assert answer.status_code in (200, 404), answer.text
        return answer.json() if answer.status_code == 200 else None

    return await eventually(kept, 30, f"the contact of {subject} kept")


async def a_concierge_told_twice(admin: httpx.AsyncClient, n: int) -> tuple[str, dict[str, str]]:
    """A section chief with an account serves two enterprises, each assignment sent to their inbox."""
    bureau = admin.bureau  # type: ignore[attr-defined]
    capacity = await admin.put("/api/v1/assignments/settings", json={"enterprises_per_concierge": 2})
    assert capacity.status_code == 200, capacity.text
    chief = await person(admin, "李国库", "section_chief", f"li{n}")
    subject = f"staff:{bureau}:{chief}"
    await keep_contact(admin, subject, NO_QUIET_HOURS)
    for m in (n, n + 1):
        assert (await admin.post("/api/v1/cases", json=case_body(m))).status_code == 201
    return subject, await signed_in(admin, f"li{n}")


async def test_inbox_lists_a_persons_messages_newest_first_marks_one_read_and_filters_unread(
    admin: httpx.AsyncClient,
) -> None:
    _, chief = await a_concierge_told_twice(admin, 6201)

    async def two_messages() -> list[dict[str, Any]] | None:
        answer = await admin.get("/api/v1/inbox", headers=chief)
        assert answer.status_code == 200, answer.text
        return answer.json()["items"] if len(answer.json()["items"]) == 2 else None

    newest, oldest = await eventually(two_messages, 60, "two assignments in the concierge's inbox")
    assert newest["created_at"] >= oldest["created_at"] and newest["read_at"] is None is oldest["read_at"]
    # Both assignments, in either order: the two cases may reach the board in either order.
    told = {
        code for code in (credit_code(6201), credit_code(6202)) for m in (newest, oldest) if code in m["body"]
    }
    assert len(told) == 2

    marked = await admin.post(f"/api/v1/inbox/{oldest['id']}/read", headers=chief)

    assert marked.status_code == 204, marked.text
    unread = (await admin.get("/api/v1/inbox", params={"unread": "true"}, headers=chief)).json()
    assert [m["id"] for m in unread["items"]] == [newest["id"]]
    every = (await admin.get("/api/v1/inbox", params={"unread": "false"}, headers=chief)).json()["items"]
    assert [m["id"] for m in every] == [newest["id"], oldest["id"]] and every[1]["read_at"]
    page = (await admin.get("/api/v1/inbox", params={"limit": 1, "offset": 1}, headers=chief)).json()
    assert (page["limit"], page["offset"], [m["id"] for m in page["items"]]) == (1, 1, [oldest["id"]])
    assert (await admin.get("/api/v1/inbox", params={"unread": "yes"}, headers=chief)).status_code == 422

    await person(admin, "赵经办", "clerk", "zhao6201")
    clerk = await signed_in(admin, "zhao6201")
    assert (await admin.post(f"/api/v1/inbox/{newest['id']}/read", headers=clerk)).status_code == 404
    assert (await admin.get("/api/v1/inbox", headers=clerk)).json()["items"] == []
    assert (await admin.get("/api/v1/inbox")).status_code == 403  # a key has no inbox
    still = (await admin.get("/api/v1/inbox", params={"unread": "true"}, headers=chief)).json()["items"]
    assert [m["id"] for m in still] == [newest["id"]]


async def test_notifications_the_delivery_log_filters_by_recipient_and_status_and_pages(
    admin: httpx.AsyncClient, api: Api
) -> None:
    subject, _ = await a_concierge_told_twice(admin, 6203)

    async def both_sent() -> list[dict[str, Any]] | None:
        log = await admin.get("/api/v1/notifications", params={"recipient": subject, "status": "sent"})
        assert log.status_code == 200, log.text
        return log.json()["items"] if len(log.json()["items"]) == 2 else None

    sent = await eventually(both_sent, 60, "both assignments sent to the concierge's inbox")
    assert {(d["recipient"], d["channel"], d["status"]) for d in sent} == {(subject, "inbox", "sent")}
    assert sent[0]["created_at"] >= sent[1]["created_at"] and all(d["attempts"] >= 1 for d in sent)
    assert all({"attempts", "last_error", "withdrawn_reason", "address"} <= set(d) for d in sent)
    other_chief = await person(admin, "钱科长", "section_chief", "qian6203")
    other_subject = f"staff:{admin.bureau}:{other_chief}"  # type: ignore[attr-defined]
    await keep_contact(admin, other_subject, NO_QUIET_HOURS)
    assert (await admin.post("/api/v1/cases", json=case_body(6205))).status_code == 201

    async def the_other_told() -> list[dict[str, Any]] | None:
        items = (await admin.get("/api/v1/notifications", params={"status": "sent"})).json()["items"]
        return items if any(d["recipient"] == other_subject for d in items) else None

    everyone = await eventually(the_other_told, 60, "the third enterprise's concierge told")
    assert {d["id"] for d in sent} < {d["id"] for d in everyone}
    only = (await admin.get("/api/v1/notifications", params={"recipient": subject})).json()["items"]
    assert [d["id"] for d in only] == [d["id"] for d in sent]
    assert (
        await admin.get("/api/v1/notifications", params={"recipient": subject, "status": "failed"})
    ).json()["items"] == []
    page = await admin.get("/api/v1/notifications", params={"recipient": subject, "limit": 1, "offset": 1})
    assert (page.json()["limit"], page.json()["offset"]) == (1, 1)
    assert [d["id"] for d in page.json()["items"]] == [sent[1]["id"]]
    assert (await admin.get("/api/v1/notifications", params={"status": "delivered"})).status_code == 422
    other = await api.innovation.get("/api/v1/notifications", params={"recipient": subject})
    assert other.status_code == 200 and other.json()["items"] == []


async def test_contacts_the_bureau_reads_a_contact_masked_and_another_bureau_gets_404(
    admin: httpx.AsyncClient, api: Api, stack: Stack, stack_db: AsyncDatabase
) -> None:
    subject = f"enterprise:{admin.bureau}:{credit_code(6208)}"  # type: ignore[attr-defined]
    contact = {"name": "王经理", "mobile": "13912345678", "email": "gm@gree.cn", "channels": ["email"]}
    put = await keep_contact(admin, subject, contact)

    viewer = await ApiKeyStore(stack_db).issue(admin.bureau, Role.VIEWER, "contacts reader")  # type: ignore[attr-defined]
    shown = await admin.get(f"/api/v1/contacts/{subject}", headers={"Authorization": f"Bearer {viewer}"})

    assert shown.status_code == 200, shown.text
    assert shown.json() == put
    assert shown.json()["subject"] == subject
    assert "139****5678" in shown.text
    for secret in ("13912345678", "gm@gree.cn", "王经理"):
        assert secret not in shown.text
    assert (await api.innovation.get(f"/api/v1/contacts/{subject}")).status_code == 404
    unknown = f"enterprise:{admin.bureau}:{credit_code(6209)}"  # type: ignore[attr-defined]
    assert (await admin.get(f"/api/v1/contacts/{unknown}")).status_code == 404


RULES = "/api/v1/notifications/rules"


async def test_notification_rules_a_change_makes_a_new_version_a_stale_one_is_409_and_leadership_may_change_them(
    admin: httpx.AsyncClient,
) -> None:
    first = await admin.get(RULES)
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    change = {
        "expected_version": 1,
        "remind_workdays_before": 2,
        "remind_on_due_day": False,
        "supervise_after_overdue_workdays": 3,
        "supervision_deadline_workdays": 4,
        "money_section": "资金科",
    }

    changed = await admin.put(RULES, json=change)

    assert changed.status_code == 200, changed.text
    expected = {**first.json(), **change, "version": 2}
    del expected["expected_version"]
    assert changed.json() == expected
    assert (await admin.get(RULES)).json() == expected
    stale = await admin.put(RULES, json=change | {"remind_workdays_before": 5})
    assert stale.status_code == 409, stale.text
    assert (await admin.get(RULES)).json()["remind_workdays_before"] == 2

    await person(admin, "李国库", "section_chief", "li6207")
    await person(admin, "周建国", "director", "zhou6207")
    chief, director = await signed_in(admin, "li6207"), await signed_in(admin, "zhou6207")
    again = change | {"expected_version": 2, "arrears_remind_workdays_before": 5}
    assert (await admin.put(RULES, json=again, headers=chief)).status_code == 403
    by_director = await admin.put(RULES, json=again, headers=director)
    assert by_director.status_code == 200, by_director.text
    assert by_director.json()["version"] == 3 and by_director.json()["arrears_remind_workdays_before"] == 5
    assert (await admin.get(RULES, headers=chief)).json() == by_director.json()
