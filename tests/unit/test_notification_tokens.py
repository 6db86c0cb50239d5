"""The rating link's token: genuine, unexpired, and bound to one case of one bureau."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notification.domain.feedback_tokens import FeedbackTokens, TokenRejected

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
TOKENS = FeedbackTokens(b"k" * 32, timedelta(days=14))


def test_a_genuine_token_names_its_case_and_bureau():
    token, claims = TOKENS.issue("finance", "case-1", NOW, token_id="t1")
    checked = TOKENS.check(token, NOW + timedelta(days=13))
    assert checked == claims and checked.case_id == "case-1" and checked.bureau == "finance"


def test_an_expired_token_is_refused_with_the_reason():
    token, _ = TOKENS.issue("finance", "case-1", NOW)
    with pytest.raises(TokenRejected, match="expired"):
        TOKENS.check(token, NOW + timedelta(days=14))


def test_a_token_edited_to_name_another_case_or_signed_with_another_secret_is_forged():
    token, _ = TOKENS.issue("finance", "case-1", NOW)
    other, _ = FeedbackTokens(b"x" * 32).issue("finance", "case-1", NOW)
    _, signature = token.split(".")
    edited = TOKENS.issue("finance", "case-2", NOW)[0].split(".")[0] + "." + signature
    for forged in (other, edited):
        with pytest.raises(TokenRejected, match="not genuine"):
            TOKENS.check(forged, NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "!!.??", "x" * 600, "e30.AAAA"])
def test_malformed_tokens_are_refused_not_crashed_on(garbage):
    with pytest.raises(TokenRejected):
        TOKENS.check(garbage, NOW)


def test_a_short_secret_is_refused_at_start():
    with pytest.raises(ValueError):
        FeedbackTokens(b"short")
