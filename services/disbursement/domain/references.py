"""The key a reference (银行流水号, 还款凭证号) is compared by: one transfer, however it was typed.

Why: references are typed by people and copied from bank statements and chat apps. `ICBC-1`, `icbc-1`,
`ＩＣＢＣ-1` (full width, from a Chinese input method), `ICBC‐1` or `ICBC–1` (a word processor's hyphen or dash)
and `ICBC-1` with a zero-width space pasted into it are one transfer to a reader; compared as typed, each was
credited or repaid again. Events and answers keep the reference as it was given; only the once-only rules (the
arrears' repayments, the disbursement's payments, the bureau's bank-reference claims) compare by this key.
"""

from __future__ import annotations

import unicodedata

MINUS_SIGN = "\u2212"  # a mathematical minus (Sm, not Pd), which a bank statement's font shows as a hyphen


def _dash_or_kept(ch: str) -> str:
    return "-" if ch == MINUS_SIGN or unicodedata.category(ch) == "Pd" else ch


def reference_key(reference: str) -> str:
    """Return the reference's normal form: NFKC, every dash as '-', format characters dropped, case-folded."""
    shown = "".join(ch for ch in reference if unicodedata.category(ch) != "Cf")
    folded = "".join(_dash_or_kept(ch) for ch in unicodedata.normalize("NFKC", shown)).casefold()
    # Case folding can leave text that is no longer NFKC (and NFKC can fold into a format character): repeat.
    again = unicodedata.normalize("NFKC", folded)
    return "".join(_dash_or_kept(ch) for ch in again if unicodedata.category(ch) != "Cf")


def same_reference(one: str | None, other: str | None) -> bool:
    """Tell whether two references name one transfer (never when either is missing)."""
    return one is not None and other is not None and reference_key(one) == reference_key(other)


def spelled_as(earlier: str | None, given: str) -> str:
    """Name the earlier spelling in a reason when it differs from the one given (why they are one transfer)."""
    return f" (as {earlier})" if earlier is not None and earlier != given else ""
