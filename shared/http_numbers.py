"""Whole numbers in a URL (a path segment or a query value): plain decimal digits only."""

from __future__ import annotations

import re
from typing import Any

_DIGITS = re.compile(r"[0-9]+")  # [0-9], not \d: no other script's digits


def plain_digits(value: Any) -> Any:
    """Let only plain decimal digits through from the URL ("1_000", "+1", " 1", "1.0" refused)."""
    # Why: int("1_000"), int(" +1") and pydantic's "1.0" all read as whole numbers, so a number the reader
    # mangled (or typed) was silently taken as another one. Non-strings (a default) pass unchanged.
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError(
            "须为十进制数字（0-9），不带符号、空格、小数点或下划线 / must be plain decimal digits (0-9), "
            "without a sign, spaces, a decimal point or underscores"
        )
    return value
