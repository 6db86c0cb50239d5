"""What people are told reads right: the concierge gets the case's problem (never a rule's English), an SMS
carries the body with its link, and a money reminder never goes to the people of another bureau's case."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest

from services.notification.adapters.channels.webhooks import SmsChannel
from services.notification.adapters.deliveries import DELIVERIES
from services.notification.application.dispatch import Dispatcher
from services.notification.application.react import react
from services.notification.application.scheduled import fire_due_steps
from services.notification.domain.deadlines import EscalationRules
from services.notification.domain.deliveries import RetryPolicy
from shared.contracts.envelope import Actor
from shared.workdays.calendar import SHANGHAI
from tests.integration.notification_support import (
    CREDIT,
    ENTERPRISE,
    Clock,
    arrears_recorded,
    assigned,
    case_opened,
    envelope,
    notifying,
    on_case,
    prepare,
    staff,
)

pytestmark = pytest.mark.asyncio
START = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)  # a Thursday
CONCIERGE = "staff:finance:s2"


def _reassigned(
    version: int, reason: str, approved_by: str | None, case_ids: tuple[str, ...] = ("case-1",)
) -> Any:
    data = {
        "enterprise": ENTERPRISE,
        "from_staff_id": "s1",
        "to_staff_id": "s2",
        "to_staff_name": "钱处长",
        "reason": reason,
        "case_ids": list(case_ids),
        "approved_by": approved_by,
    }
    return envelope("board-finance", "board", version, "ConciergeReassigned", data, START)


async def _bodies(db, **query) -> list[str]:
    return [d["body"] async for d in db[DELIVERIES].find(query).sort("created_at", 1)]


async def test_a_reassignment_tells_the_new_concierge_the_cases_problem_and_leaderships_reason(mongo_db):
    n = notifying(mongo_db, Clock(START), {"inbox"})
    await prepare(n)
    await react(n, case_opened("case-1", START))
    await react(n, _reassigned(5, "领导调整分工", approved_by="finance-director"))
    [body] = await _bodies(mongo_db, recipient=CONCIERGE)
    assert "企业反映的问题：补贴资金拨付进度" in body  # the case's title, not the reason
    assert "调整原因：领导调整分工" in body


async def test_an_enterprise_handed_over_with_two_open_cases_tells_the_concierge_both_problems(mongo_db):
    n = notifying(mongo_db, Clock(START), {"inbox"})
    await prepare(n)
    await react(n, case_opened("case-1", START))
    second = case_opened("case-2", START)
    await react(n, second.model_copy(update={"data": {**second.data, "title": "人才公寓申请"}}))
    await react(n, _reassigned(5, "领导调整分工", "finance-director", case_ids=("case-1", "case-2")))
    [body] = await _bodies(mongo_db, recipient=CONCIERGE)
    assert "企业反映的问题：补贴资金拨付进度；人才公寓申请" in body


async def test_a_departure_handover_tells_the_problem_and_no_english_rule_text(mongo_db):
    n = notifying(mongo_db, Clock(START), {"inbox"})
    await prepare(n)
    await react(n, case_opened("case-1", START))
    await react(n, _reassigned(5, "测试员3 left the bureau: 调离", approved_by=None))
    [body] = await _bodies(mongo_db, recipient=CONCIERGE)
    assert "企业反映的问题：补贴资金拨付进度" in body
    assert "left the bureau" not in body and "调整原因" not in body


async def test_an_assignment_seen_before_its_case_points_the_concierge_to_the_case_not_the_rule(mongo_db):
    n = notifying(mongo_db, Clock(START), {"inbox"})
    await prepare(n)
    await react(n, assigned(1, "case-1", "s1", "李副局长", START))  # before the CaseOpened (a race)
    [body] = await _bodies(mongo_db, recipient="staff:finance:s1")
    assert "企业反映的问题：见案件详情" in body and "管理岗位，空闲最久" not in body


async def test_an_sms_of_a_resolved_case_carries_the_rating_link(mongo_db):
    clock = Clock(START)
    n = notifying(mongo_db, clock, {"inbox", "sms"}, public_url="https://gx.example.cn")
    await prepare(n)
    await n.contacts.put(f"enterprise:finance:{CREDIT}", "finance", {"mobile": "13900000000"}, {})
    await react(n, case_opened("case-1", clock()))
    data = {"staff_id": "s1", "staff_name": "李副局长", "board_event_id": "b", "board_version": 4}
    await react(n, on_case("case-1", 2, "ConciergeAssignedToCase", data, clock()))
    resolved = {"summary": "已到账", "settlement_intent": True}
    await react(n, on_case("case-1", 3, "CaseResolved", resolved, clock()))
    sent: list[dict[str, Any]] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(202, json={"id": f"sms-{len(sent)}"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as client:
        channels = {"sms": SmsChannel(client, "https://sms.example.cn/send", None)}
        dispatcher = Dispatcher(n.deliveries, channels, n.contacts, RetryPolicy(), clock)
        await dispatcher.run_once()
    texts = [m["content"] for m in sent if m["mobile"] == "13900000000"]
    assert len(texts) == 2 and all(t.startswith("【高新区】") for t in texts)
    assert any("https://gx.example.cn/api/v1/feedback/" in t for t in texts)  # the rating link
    assert any("已到账" in t for t in texts)  # the outcome, not only "your case is resolved"


def _other_case(case_id: str, bureau: str, credit_code: str) -> list[Any]:
    data = {
        "case_id": case_id,
        "enterprise": {"name": "某创新企业", "credit_code": credit_code},
        "category": "fund_disbursement",
        "title": "别局的案件",
        "description": "d",
        "channel": "online",
        "legacy": False,
        "source": "http",
        "request_ref": "r2",
        "request_hash": "h2",
    }
    concierge = {"staff_id": "x9", "staff_name": "孙科长", "board_event_id": "b", "board_version": 1}
    return [
        envelope(case_id, "case", 1, "CaseOpened", data, START, bureau=bureau),
        envelope(case_id, "case", 2, "ConciergeAssignedToCase", concierge, START, bureau=bureau),
    ]


@pytest.mark.parametrize(
    ("bureau", "credit_code"),
    [("innovation", CREDIT), ("finance", "91440300MA5FXXXX1Y")],
    ids=["another bureau's case", "another enterprise's case"],
)
async def test_arrears_naming_a_case_not_theirs_remind_the_money_section_never_that_cases_concierge(
    mongo_db, bureau, credit_code
):
    clock = Clock(datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI))
    n = notifying(mongo_db, clock, {"inbox"})
    await prepare(n)
    await react(n, staff(1, "c1", "赵科长", "section_chief", "资金科", clock()))
    for event in _other_case("case-9", bureau, credit_code):
        await react(n, event)
    admin = Actor(kind="user", id="admin", bureau="finance")
    await n.rules.change("finance", EscalationRules(money_section="资金科"), admin, expected_version=1)
    await react(n, arrears_recorded(clock(), case_id="case-9"))
    clock.now = datetime(2026, 11, 24, 9, 1, tzinfo=SHANGHAI)
    assert await fire_due_steps(n) == 1
    told = {d["recipient"] async for d in mongo_db[DELIVERIES].find({"template": "arrears_due_soon"})}
    assert told == {"staff:finance:c1"}  # as if the case were unknown: the money section's chief
