"""The enterprise's notice of money credited (资金到账) tells which disbursement and which payment it is."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from services.notification.application.money import tell_the_enterprise_when_money_is_credited
from services.notification.domain.templates import LANGUAGES, TemplateBook
from shared.contracts.disbursement import DisbursementPaymentCredited
from shared.contracts.envelope import Actor, EventEnvelope

BOOK = TemplateBook()
CREDITED_AT = datetime.fromisoformat("2026-11-27T01:30:00+00:00")  # 09:30 in Asia/Shanghai
KNOWN = {
    "enterprise_name": "格力电器(郑州)有限公司",
    "fund_type": "subsidy",
    "credit_code": "91410100MA0000000X",
    "policy_reference": "郑财预〔2026〕12号",
}


def _credited(disbursement_id: str, payment_id: str, bank_reference: str) -> DisbursementPaymentCredited:
    return DisbursementPaymentCredited(
        disbursement_id=disbursement_id,
        payment_id=payment_id,
        amount="60.00",
        credited_at=CREDITED_AT,
        bank_reference=bank_reference,
        reported_by="国库系统",
        credited_total="60.00",
        fully_credited=True,
    )


def _env() -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="DisbursementPaymentCredited",
        schema_version=1,
        stream_id="disbursement-d-1",
        stream_type="disbursement",
        version=2,
        bureau="finance",
        occurred_at=CREDITED_AT,
        recorded_at=CREDITED_AT,
        actor=Actor(kind="service", id="test", bureau="finance"),
        correlation_id=uuid.uuid4(),
        data={},
    )


def _told(e: DisbursementPaymentCredited, language: str, known: dict[str, Any] = KNOWN) -> tuple[str, str]:
    [intent] = tell_the_enterprise_when_money_is_credited(e, _env(), known)
    rendered = BOOK.render(intent.template, language, intent.variables)
    return rendered.subject, rendered.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_two_payments_of_the_same_amount_at_the_same_time_read_apart(language):
    first = _told(_credited("d-1", "p-1", "ICBC-20261127-001"), language)
    other_disbursement = _told(_credited("d-2", "p-2", "ICBC-20261127-002"), language)
    same_disbursement = _told(_credited("d-1", "p-3", "ICBC-20261127-003"), language)
    assert first[1] != other_disbursement[1] and first[1] != same_disbursement[1]
    assert first[0] != other_disbursement[0]  # the subject names the disbursement, too
    subject, body = first
    assert "d-1" in subject and "60.00" in subject
    for shown in ("d-1", "p-1", "ICBC-20261127-001", "郑财预〔2026〕12号", "60.00", "2026-11-27 09:30"):
        assert shown in body, shown


def test_the_chinese_notice_names_each_part_and_the_english_one_says_the_same():
    _, zh = _told(_credited("d-1", "p-1", "ICBC-1"), "zh-CN")
    assert "拨付编号：d-1（依据 郑财预〔2026〕12号）" in zh and "银行流水号：ICBC-1" in zh
    assert "2026-11-27 09:30（北京时间）" in zh and "到账记录：p-1" in zh
    _, en = _told(_credited("d-1", "p-1", "ICBC-1"), "en")
    assert "Disbursement: d-1 (under 郑财预〔2026〕12号)" in en and "bank reference: ICBC-1" in en
    assert "2026-11-27 09:30 (Beijing time)" in en and "payment: p-1" in en


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_payment_without_a_bank_reference_or_policy_leaves_them_out_never_prints_none(language):
    learned_before = {k: v for k, v in KNOWN.items() if k != "policy_reference"}  # learned before it was kept
    _, body = _told(_credited("d-1", "p-1", " "), language, learned_before)
    assert "None" not in body and "d-1" in body and "p-1" in body
    assert "银行流水号" not in body and "bank reference" not in body
    assert "依据" not in body and "under" not in body
