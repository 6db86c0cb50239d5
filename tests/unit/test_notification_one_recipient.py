"""A message meant for one person reaches that person only (outside trial): an email contact is exactly one
address, at the door and again at the SMTP envelope; a WeCom or DingTalk user id never mentions the group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError

from services.notification.adapters.channels.base import ChannelError, Message
from services.notification.adapters.channels.email import EmailChannel, SmtpSettings
from services.notification.adapters.channels.webhooks import DingTalkChannel, WeComChannel
from services.notification.entrypoints.models import ContactDetails, RulesBody
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.text import is_one_email_address
from shared.devstack.processes import free_port
from tests.support import case_body

# What the trial stored as an email (the SMTP sink saw RCPT TO a and victim@x.cn), and its kin.
NOT_ONE_ADDRESS = [
    "a>,<victim@x.cn",
    "a@x.cn, victim@x.cn",
    "a@x.cn;victim@x.cn",
    '"a"@x.cn',
    '"a,b"@x.cn',
    "a b@x.cn",
    "a(note)@x.cn",
    "a:b@x.cn",
    "a[b]@x.cn",
    "a\\b@x.cn",
    "a..b@x.cn",
    ".a@x.cn",
    "a\u202e@x.cn",
    "a@..cn",
    "a@-x.cn",
    "a@x-.cn",
    "a@x..cn",
]
ONE_ADDRESS = [
    "zhang.san+case@gaoxin.gov.cn",
    "o'brien@x.cn",
    "王经理@ent.test",
    "g@gree.cn",
    "li@xn--fiqs8s.cn",
    "li@mail.gaoxin-zone.gov.cn",
]
RULES = {
    "expected_version": 1,
    "remind_workdays_before": 1,
    "remind_on_due_day": True,
    "supervise_after_overdue_workdays": 1,
    "supervision_deadline_workdays": 1,
}


@pytest.mark.parametrize("address", NOT_ONE_ADDRESS, ids=repr)
def test_a_contact_email_that_is_not_exactly_one_address_is_refused_naming_the_field(address: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ContactDetails(email=address)
    assert [e["loc"] for e in refused.value.errors()] == [("email",)]


@pytest.mark.parametrize("address", NOT_ONE_ADDRESS, ids=repr)
def test_a_case_contact_email_that_is_not_exactly_one_address_is_refused_naming_the_field(
    address: str,
) -> None:
    body = case_body(contact={"name": "王经理", "email": address})
    with pytest.raises(ValidationError) as refused:
        OpenCaseRequest.model_validate(body)
    assert [e["loc"] for e in refused.value.errors()] == [("contact", "email")]


@pytest.mark.parametrize("address", ONE_ADDRESS, ids=repr)
def test_one_address_is_taken_unicode_local_parts_included(address: str) -> None:
    assert ContactDetails(email=address).email == address
    assert OpenCaseRequest.model_validate(case_body(contact={"name": "王", "email": address})).contact


def test_a_local_part_longer_than_64_characters_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError) as refused:
        ContactDetails(email=f"{'a' * 65}@x.cn")
    assert "64" in refused.value.errors()[0]["msg"]


@pytest.mark.parametrize("field", ["wecom_user_id", "dingtalk_user_id"])
@pytest.mark.parametrize("user_id", ["@all", "@zhangsan"])
def test_a_user_id_that_would_mention_the_group_is_refused_naming_the_field(field: str, user_id: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ContactDetails.model_validate({field: user_id})
    [problem] = refused.value.errors()
    assert problem["loc"] == (field,) and "@all" in problem["msg"]


def test_the_money_section_refuses_a_bidi_override_and_still_takes_empty_for_leadership() -> None:
    with pytest.raises(ValidationError) as refused:
        RulesBody.model_validate({**RULES, "money_section": "资金科\u202e"})
    [problem] = refused.value.errors()
    assert problem["loc"][0] == "money_section" and "U+202E" in problem["msg"]
    assert RulesBody.model_validate({**RULES, "money_section": ""}).money_section == ""
    assert RulesBody.model_validate({**RULES, "money_section": " 资金科 "}).money_section == "资金科"


class Sink:
    """An aiosmtpd handler keeping each envelope's recipients; refuses RCPT TO addresses in `refused`."""

    def __init__(self) -> None:
        self.envelopes: list[list[str]] = []
        self.refused: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refused:
            return f"550 5.1.1 <{address.lower()}>: Recipient address rejected"  # as many servers quote it
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler, port = Sink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    yield handler, port
    controller.stop()


def _mail(address: str) -> Message:
    return Message("d" * 32, address, "评价邀请", "请评价：https://gx.example.cn/api/v1/feedback/t")


async def test_a_stored_address_naming_more_than_one_recipient_is_never_sent_and_fails_for_good(sink):
    handler, port = sink
    channel = EmailChannel(SmtpSettings("127.0.0.1", port))
    with pytest.raises(ChannelError) as refused:
        await channel.send(_mail("a>,<victim@x.cn"))
    assert not refused.value.transient and "a***@x.cn" in refused.value.reason
    assert "victim" not in refused.value.reason and handler.envelopes == []


async def test_the_envelope_names_exactly_the_one_address_unicode_included(sink):
    handler, port = sink
    channel = EmailChannel(SmtpSettings("127.0.0.1", port))
    await channel.send(_mail("zs@gaoxin.gov.cn"))
    await channel.send(_mail("王经理@ent.test"))
    assert handler.envelopes == [["zs@gaoxin.gov.cn"], ["王经理@ent.test"]]


async def test_a_refusal_quoting_the_address_is_kept_with_the_address_masked(sink):
    handler, port = sink
    handler.refused.add("ZS@gaoxin.gov.cn")  # quoted back in lower case
    with pytest.raises(ChannelError) as refused:
        await EmailChannel(SmtpSettings("127.0.0.1", port)).send(_mail("ZS@gaoxin.gov.cn"))
    assert (
        "zs@gaoxin.gov.cn" not in refused.value.reason.lower()
        and "Z***@gaoxin.gov.cn" in refused.value.reason
    )


@pytest.mark.parametrize("user_id", ["@all", "@zhangsan"])
def test_a_robot_never_mentions_a_stored_user_id_starting_with_at(user_id: str) -> None:
    message = _mail(user_id)
    for channel in (WeComChannel(None, "http://unused"), DingTalkChannel(None, "http://unused", None)):  # type: ignore[arg-type]
        with pytest.raises(ChannelError) as refused:
            channel.payload(message)
        assert not refused.value.transient


# What the outside trial stored as a user id after "@all" was refused: @ in other widths, invisible characters
# in front of it, and lists; and kin (a no-break or ideographic space, a full-width comma, @ at the end).
NOT_ONE_USER_ID = [
    "＠all",
    "﹫all",
    "\u200b@all",
    "\ufeff@all",
    "\u2060@all",
    "user1,@all",
    "user1 @all",
    "user1,user2",
    "user1，user2",
    "user1\u00a0user2",
    "user1\u3000user2",
    "zhang\u200dsan",
    "zhangsan@",
    # The second trial: vertical-form, Arabic and Armenian commas, a variation selector, the grapheme joiner,
    # Hangul fillers, the braille blank, and other separators.
    "a\ufe10b",
    "a\ufe11b",
    "a\u060cb",
    "a\u055db",
    "a\ufe0fb",
    "a\u034fb",
    "a\u3164b",
    "a\u115fb",
    "a\u2800b",
    "a|b",
    "a;b",
]


@pytest.mark.parametrize("field", ["wecom_user_id", "dingtalk_user_id"])
@pytest.mark.parametrize("user_id", NOT_ONE_USER_ID, ids=ascii)
def test_a_user_id_that_could_reach_others_is_refused_naming_the_field_and_why(
    field: str, user_id: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        ContactDetails.model_validate({field: user_id})
    [problem] = refused.value.errors()
    assert problem["loc"] == (field,) and " / a user id " in problem["msg"]


@pytest.mark.parametrize("user_id", ["zhangsan", "ZhangSan01", "zhang.san_2-x", "张三"])
def test_an_ordinary_user_id_is_taken(user_id: str) -> None:
    assert ContactDetails.model_validate({"wecom_user_id": user_id}).wecom_user_id == user_id


@pytest.mark.parametrize("user_id", NOT_ONE_USER_ID, ids=ascii)
def test_a_robot_never_sends_to_a_stored_user_id_that_could_reach_others(user_id: str) -> None:
    message = _mail(user_id)
    for channel in (WeComChannel(None, "http://unused"), DingTalkChannel(None, "http://unused", None)):  # type: ignore[arg-type]
        with pytest.raises(ChannelError) as refused:
            channel.payload(message)
        assert not refused.value.transient and "未发送 / a user id " in refused.value.reason


# What the outside trial stored as an email: non-ASCII punctuation and symbols before the @ (a full-width <, a
# full-width and a small comma), and a full-width letter; and kin (a circled digit, symbols, a middle dot).
NOT_A_LOCAL_PART = [
    "a＜@x.cn",
    "a，b@x.cn",
    "a﹐b@x.cn",
    "ａ@x.cn",
    "a①@x.cn",
    "a€@x.cn",
    "a·b@x.cn",
    "a™@x.cn",
    # The second trial: what draws nothing or looks like punctuation, and a mark with no letter to sit on.
    "a\ufe0fb@x.cn",
    "\u0301ab@x.cn",
    "a\u034fb@x.cn",
    "a\u180bb@x.cn",
    "a\u17b4b@x.cn",
    "a\U000e0100b@x.cn",
    "a\u115fb@x.cn",
    "a\u3164b@x.cn",
    "a\u02d0b@x.cn",
]


@pytest.mark.parametrize("address", NOT_A_LOCAL_PART, ids=ascii)
def test_a_local_part_holding_other_than_atext_or_unicode_letters_is_refused_with_the_reason(
    address: str,
) -> None:
    assert not is_one_email_address(address)
    with pytest.raises(ValidationError) as refused:
        ContactDetails(email=address)
    [problem] = refused.value.errors()
    assert problem["loc"] == ("email",) and "before the @" in problem["msg"]
    with pytest.raises(ValidationError):
        OpenCaseRequest.model_validate(case_body(contact={"name": "王经理", "email": address}))


def test_a_full_width_letter_is_refused_naming_the_letter_meant() -> None:
    with pytest.raises(ValidationError) as refused:
        ContactDetails(email="ａ@x.cn")
    assert "write 'a'" in refused.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    "address", ["é@x.cn", "e\u0301@x.cn", "李٣@x.cn", "ключ@x.cn", "a!#$%&'*+/=?^_`{|}~-@x.cn"]
)
def test_unicode_letters_marks_and_digits_and_every_atext_character_are_taken(address: str) -> None:
    assert is_one_email_address(address) and ContactDetails(email=address).email == address


async def test_a_stored_address_with_a_full_width_comma_is_never_sent_and_fails_for_good(sink):
    handler, port = sink
    with pytest.raises(ChannelError) as refused:
        await EmailChannel(SmtpSettings("127.0.0.1", port)).send(_mail("a，b@x.cn"))
    assert not refused.value.transient and handler.envelopes == []
