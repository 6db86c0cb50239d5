"""Money in contracts: exact yuan amounts as `Decimal` with two places, carried in JSON as decimal strings.

A JSON number is refused because a float may already have rounded it on the sender's side. Whitespace around
the digits is refused too: the published pattern refuses it, and a client validating against it must agree.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # under a trillion yuan: far above any allocation, safe in int64 fen
AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
# As published: the same, and not zero (parse_amount refuses zero with its own reason).
PUBLISHED_AMOUNT_PATTERN = r"^(?!0*(\.0*)?$)[0-9]{1,12}(\.[0-9]{1,2})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)


def parse_amount(value: Any) -> Decimal:
    """Return a positive amount in yuan with exactly two places, or raise ValueError saying why."""
    if isinstance(value, Decimal):
        value = format(value, "f")
    if not isinstance(value, str):
        raise ValueError(
            '金额须为字符串，如 "70000000.00" / an amount is a JSON string in yuan such as "70000000.00",'
            " never a JSON number (a float may already have rounded it)"
        )
    if value != value.strip():
        raise ValueError("金额前后不能有空格或换行 / an amount has no spaces or line breaks around it")
    if value.startswith("-"):
        raise ValueError("金额须大于零 / an amount must be positive, not negative")
    if "." in value and len(value.split(".", 1)[1]) > 2:
        raise ValueError("金额最多两位小数（分） / an amount has at most two decimal places (fen)")
    if not _AMOUNT.fullmatch(value):  # fullmatch: re's "$" would also match before a final line break
        raise ValueError(
            '金额格式不正确 / an amount is up to 12 digits of yuan and up to 2 decimals, e.g. "70000000.00"'
        )
    try:
        amount = Decimal(value).quantize(CENT)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError("金额无效 / not a decimal amount") from exc
    if amount <= 0:
        raise ValueError("金额须大于零 / an amount must be more than zero")
    return amount


def format_amount(amount: Decimal) -> str:
    """Return the JSON form of an amount: a decimal string with exactly two places."""
    return f"{amount.quantize(CENT):f}"


Amount = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    PlainSerializer(format_amount, return_type=str, when_used="always"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PUBLISHED_AMOUNT_PATTERN,
            "description": 'Yuan as a decimal string with at most two places, more than zero: "70000000.00"',
            "examples": ["70000000.00"],
        }
    ),
]
# A sum that may be zero (credited so far, outstanding): only ever produced by the service, never parsed.
Money = Annotated[
    Decimal,
    PlainSerializer(format_amount, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["0.00"]}),
]


def to_fen(amount: Decimal) -> int:
    """Return an amount in fen (an exact integer, as read models store sums)."""
    return int(amount.quantize(CENT) * 100)


def from_fen(fen: int) -> Decimal:
    """Return fen as yuan with two places."""
    return (Decimal(fen) / 100).quantize(CENT)
