"""Unified social credit codes are checked as GB 32100-2015 says."""

import pytest

from shared.contracts.credit_code import InvalidCreditCode, check_character, validate_credit_code


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


def code_from(first17: str) -> str:
    """Complete 17 characters with their right check character, so only the part under test is wrong."""
    return first17 + check_character(first17)


@pytest.mark.parametrize(
    ("first17", "reason"),
    [
        ("00000000000000000", "'0' is no registration authority"),
        ("B1350100M000100Y4", "'B' is no registration authority"),
        ("94350100M000100Y4", "'4' is not a type 工商 \\(9\\) registers"),
        ("Y2350100M000100Y4", "'2' is not a type 其他 \\(Y\\) registers"),
        ("913501A0M000100Y4", "行政区划码 '3501A0' must be 6 digits"),
    ],
)
def test_rejects_codes_whose_parts_are_wrong_even_with_a_right_check_character(
    first17: str, reason: str
) -> None:
    with pytest.raises(InvalidCreditCode, match=reason):
        validate_credit_code(code_from(first17))


@pytest.mark.parametrize(
    "first17", ["12100000MB0000000", "53110000500000000", "92410100MA0000000", "N2410100MA0000000"]
)
def test_accepts_each_authority_with_a_type_it_registers(first17: str) -> None:
    assert validate_credit_code(code_from(first17)) == code_from(first17)
