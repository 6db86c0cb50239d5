"""Unified social credit codes are checked as GB 32100-2015 says."""

import pytest

from shared.contracts.credit_code import InvalidCreditCode, validate_credit_code


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000100000000R", " 91350100m000100y43 "])
def test_accepts_valid_codes_and_normalises_them(code: str) -> None:
    assert validate_credit_code(code) == code.strip().upper()


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y44", "check character is '4', expected '3'"),
        ("91350100M000100Y4", "must be 18 characters"),
        ("91350100M00O100Y43", "not allowed by GB 32100-2015: O"),
        ("91350100M000I00Y43", "not allowed by GB 32100-2015: I"),
    ],
)
def test_rejects_invalid_codes_with_the_reason(code: str, reason: str) -> None:
    with pytest.raises(InvalidCreditCode, match=reason):
        validate_credit_code(code)
