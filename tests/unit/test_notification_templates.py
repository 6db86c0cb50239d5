"""Templates: kept as files in Chinese and English, rendered strictly (a missing variable is an error)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from services.notification.application import scheduled
from services.notification.application.intents import Intent
from services.notification.application.money import tell_the_enterprise_when_money_is_credited
from services.notification.application.money_steps import TEMPLATES, arrears_variables, disbursement_variables
from services.notification.application.policies import POLICIES, POLICY_NEEDS, CaseFacts, Known, TaskFacts
from services.notification.domain.templates import (
    LANGUAGES,
    MissingTemplateVariable,
    TemplateBook,
    UnknownTemplate,
)
from shared.contracts.assignment import ConciergeAssigned, ConciergeReassigned, EnterpriseQueued
from shared.contracts.casework import (
    CaseReopened,
    CaseResolved,
    CoordinationTaskChased,
    CoordinationTaskOpened,
)
from shared.contracts.disbursement import DisbursementPaymentCredited
from shared.contracts.envelope import Actor, EventEnvelope
from shared.workdays.calendar import SHANGHAI

BOOK = TemplateBook()


def test_every_template_exists_in_chinese_and_english_with_the_same_variables():
    names = BOOK.names("zh-CN")
    assert names and names == BOOK.names("en")
    for name in names:
        assert BOOK.variables(name, "zh-CN") == BOOK.variables(name, "en"), name


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_renders_a_subject_and_a_body_when_given_its_variables(language):
    for name in BOOK.names(language):
        variables = {v: f"<{v}>" for v in BOOK.variables(name, language)}
        rendered = BOOK.render(name, language, variables)
        assert rendered.subject and rendered.body, name
        assert all(f"<{v}>" in rendered.subject + rendered.body for v in variables), name


def test_a_missing_variable_is_an_error_never_an_empty_string():
    variables = {v: "x" for v in BOOK.variables("concierge_introduced", "zh-CN")} | {
        "concierge_contact": None
    }
    del variables["concierge_contact"]
    with pytest.raises(MissingTemplateVariable, match="concierge_contact"):
        BOOK.render("concierge_introduced", "zh-CN", variables)


def test_chinese_is_the_default_and_an_unknown_language_falls_back_to_it():
    variables = {v: "格力电器" for v in BOOK.variables("case_resolved", "zh-CN")}
    assert BOOK.render("case_resolved", "fr", variables).language == "zh-CN"
    assert "已办结" in BOOK.render("case_resolved", "zh-CN", variables).subject
    assert "resolved" in BOOK.render("case_resolved", "en", variables).subject


def test_an_unknown_template_says_so():
    with pytest.raises(UnknownTemplate):
        BOOK.render("no_such_template", "zh-CN", {})


# -- Every template rendered with the variables the code gives it (not with its own variable list) --

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
ENTERPRISE = {"name": "格力电器(郑州)有限公司", "credit_code": "91440400MA4UJ1XQ18"}
FACTS = CaseFacts(
    "case-1",
    "finance",
    ENTERPRISE["name"],
    ENTERPRISE["credit_code"],
    "补贴资金拨付进度",
    "s1",
    "李副局长",
    1,
    "太慢",
)
KNOWN = Known(
    bureau_name="财政金融局",
    case_title=FACTS.title,
    facts=FACTS,
    leaders=(("d1", "张局长"),),
    concierge_contact="13800000001",
    task=TaskFacts("规划科", NOW),
    rating_link=("https://gx.example.cn/api/v1/feedback/t", "2026-12-15"),
)


def _env(event_type: str) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        stream_id="case-1",
        stream_type="case",
        version=3,
        bureau="finance",
        occurred_at=NOW,
        recorded_at=NOW,
        actor=Actor(kind="service", id="test", bureau="finance"),
        correlation_id=uuid.uuid4(),
        data={},
    )


def _policy_events() -> list[Any]:
    common = {"enterprise": ENTERPRISE, "case_ids": ["case-1"], "reason": "管理岗位，空闲最久"}
    events = [
        ConciergeAssigned(
            **common,
            staff_id="s1",
            staff_name="李副局长",
            post="deputy_director",
            category="fund_disbursement",
            candidates=[],
            rule_version="1",
        ),
        ConciergeReassigned(**common, from_staff_id="s0", to_staff_id="s1", to_staff_name="李副局长"),
        EnterpriseQueued(
            enterprise=ENTERPRISE, case_id="case-1", category="fund_disbursement", reason="无空闲"
        ),
        CoordinationTaskOpened(
            task_id="t1",
            section="规划科",
            description="请核对",
            working_days=2,
            opened_at=NOW,
            due_at=NOW,
            due_provisional=False,
        ),
        CoordinationTaskChased(task_id="t1", note="请加快", overdue=True),
        CaseResolved(summary="已到账", settlement_intent=True),
        CaseReopened(reason="评价低", flagged_for_leadership=True),
    ]
    assert {type(e) for e in events} == set(POLICIES)  # every policy has its example
    return events


def _policy_intents() -> list[Intent]:
    intents = []
    for event in _policy_events():
        intents += POLICIES[type(event)](event, _env(type(event).__name__), KNOWN)
    return intents


def test_every_policy_declares_all_it_reads_so_the_reads_it_skips_change_nothing():
    blank = Known()
    for event in _policy_events():
        env = _env(type(event).__name__)
        needs = POLICY_NEEDS[type(event)]
        only_needed = Known(
            **{f: getattr(KNOWN if f in needs else blank, f) for f in Known.__dataclass_fields__}
        )
        policy = POLICIES[type(event)]
        assert policy(event, env, only_needed) == policy(event, env, KNOWN), type(event).__name__


def _ladder_intents() -> list[Intent]:
    doc = {"_id": "case-1|t1", "bureau": "finance", "case_id": "case-1", "section": "规划科", "due_at": NOW}
    variables = scheduled._variables(FACTS, doc, 2)
    order = {**variables, "order_id": "DB-1", "issued_by": "张局长", "order_due_date": "2026-12-03"}
    people: scheduled.People = [("s1", "李副局长")]
    return [
        *scheduled._to(people, doc, "c", "task_due_soon", variables, False),
        *scheduled._to(people, doc, "c", "task_due_today", variables, False),
        *scheduled._to(people, doc, "c", "task_overdue", variables, True),
        *scheduled._to(people, doc, "c", "supervision_order", order, True),
    ]


def _money_variables() -> list[tuple[str, dict[str, Any]]]:
    disbursement = {
        "kind": "disbursement",
        "case_id": None,
        "disbursement_id": "d-1",
        "enterprise_name": ENTERPRISE["name"],
        "fund_type": "subsidy",
        "allocated": "70000000.00",
        "status": "approved",
        "last_change_at": datetime(2026, 11, 26, 15, 0, tzinfo=SHANGHAI),
    }
    arrears = {
        "kind": "arrears",
        "case_id": "case-1",
        "arrears_id": "a-1",
        "enterprise_name": ENTERPRISE["name"],
        "debtor": "高新区建设局",
        "purpose": "厂房施工款",
        "outstanding": "1200000.00",
        "due_on": "2026-11-27",
    }
    credited = DisbursementPaymentCredited(
        disbursement_id="d-1",
        payment_id="p-1",
        amount="70000000.00",
        credited_at=NOW,
        bank_reference="ICBC-1",
        reported_by="国库系统",
        credited_total="70000000.00",
        fully_credited=True,
    )
    known = {"enterprise_name": ENTERPRISE["name"], "fund_type": "subsidy", "credit_code": "x"}
    [money] = tell_the_enterprise_when_money_is_credited(credited, _env("DisbursementPaymentCredited"), known)
    named = {"recipient_name": "李副局长"}
    pairs = [(money.template, money.variables)]
    for step, (template, _) in TEMPLATES.items():
        if step.value.startswith("arrears"):
            pairs.append((template, {**arrears_variables(arrears, NOW), **named}))
        else:
            pairs.append((template, {**disbursement_variables(disbursement, NOW, 3), **named}))
    return pairs


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_renders_with_the_data_its_event_or_step_gives(language):
    pairs = [(i.template, i.variables) for i in _policy_intents() + _ladder_intents()] + _money_variables()
    assert {template for template, _ in pairs} == set(BOOK.names(language))  # none left untried
    for template, variables in pairs:
        rendered = BOOK.render(template, language, variables)
        assert rendered.subject and rendered.body and "None" not in rendered.body, template


def test_a_stuck_disbursement_reads_its_stage_amount_and_days_in_both_languages():
    [(_, variables)] = [p for p in _money_variables() if p[0] == "disbursement_stuck"]
    zh = BOOK.render("disbursement_stuck", "zh-CN", variables)
    assert "70,000,000.00 元" in zh.body and "审批通过" in zh.body and "3 个工作日" in zh.body
    assert "2026-11-26" in zh.body and "—" in zh.body  # no case: a dash, never "None"
    assert "approved" in BOOK.render("disbursement_stuck", "en", variables).body
