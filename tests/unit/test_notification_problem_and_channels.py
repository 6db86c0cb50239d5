"""A concierge's notice names the case's problem in the reader's language, never a rule's explanation; every
text channel carries the body (the link, the contact line), not only the subject."""

from __future__ import annotations

import httpx
import pytest

from services.notification.adapters.channels.base import Message
from services.notification.adapters.channels.webhooks import DingTalkChannel, SmsChannel, WeComChannel
from services.notification.application.policies import POLICIES, Known
from services.notification.domain.templates import TemplateBook
from shared.contracts.assignment import ConciergeAssigned
from tests.unit.test_notification_templates import ENTERPRISE, _env

BOOK = TemplateBook()
RULE = "李国库: eligible, 0 enterprise(s) served so far"


def _notice(known: Known, language: str) -> str:
    event = ConciergeAssigned(
        enterprise=ENTERPRISE,
        case_ids=["case-1"],
        reason=RULE,
        staff_id="s1",
        staff_name="李国库",
        post="deputy_director",
        category="fund_disbursement",
        candidates=[],
        rule_version="1",
    )
    [to_concierge, _] = POLICIES[ConciergeAssigned](event, _env("ConciergeAssigned"), known)
    return BOOK.render(to_concierge.template, language, to_concierge.variables).body


@pytest.mark.parametrize(
    ("language", "pointer"),
    [("zh-CN", "企业反映的问题：见案件详情"), ("en", "problem: see the case's details")],
)
def test_a_problem_not_known_yet_points_to_the_case_in_the_readers_language(language, pointer):
    body = _notice(Known(), language)
    assert pointer in body and RULE not in body and "eligible" not in body


def test_a_known_problem_is_the_cases_title():
    assert "企业反映的问题：补贴资金拨付进度\n请于" in _notice(Known(case_title="补贴资金拨付进度"), "zh-CN")


async def test_every_text_channel_carries_the_body_with_its_link():
    message = Message(
        "k" * 32, "13812341234", "【评菜】请为本次服务评价", "请评价：https://gx.example.cn/f/t"
    )
    async with httpx.AsyncClient() as client:
        sms = SmsChannel(client, "https://sms.example.cn/send", None).payload(message)
        robots = (WeComChannel(client, "https://wecom"), DingTalkChannel(client, "https://ding", None))
        texts = [robot.payload(message)["text"]["content"] for robot in robots]
    # The signature kept, then the body.
    assert sms["content"] == "【高新区】请评价：https://gx.example.cn/f/t"
    assert all("https://gx.example.cn/f/t" in text for text in texts)
