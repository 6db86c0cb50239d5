"""Unified social credit code (统一社会信用代码) validation per GB 32100-2015."""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class InvalidCreditCode(ValueError):
    """The text is not a valid 18-character unified social credit code."""


def check_character(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters."""
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the normalised code, or raise InvalidCreditCode with the reason."""
    normalised = code.strip().upper()
    if len(normalised) != 18:
        raise InvalidCreditCode(f"must be 18 characters, got {len(normalised)}")
    bad = sorted({ch for ch in normalised if ch not in CHARSET})
    if bad:
        raise InvalidCreditCode(f"contains characters not allowed by GB 32100-2015: {''.join(bad)}")
    expected = check_character(normalised[:17])
    if normalised[17] != expected:
        raise InvalidCreditCode(f"check character is {normalised[17]!r}, expected {expected!r}")
    return normalised
