"""The key a reference (银行流水号, 还款凭证号) is compared by: one transfer, however it was typed.

Why: references are typed by people and copied from bank statements and chat apps. `ICBC-1`, `icbc-1`,
`ＩＣＢＣ-1` (full width, from a Chinese input method), `ICBC‐1` or `ICBC–1` (a word processor's hyphen or dash)
and `ICBC-1` with a zero-width space pasted into it are one transfer to a reader; compared as typed, each was
credited or repaid again. Events and answers keep the reference as it was given; only the once-only rules (the
arrears' repayments, the disbursement's payments, the bureau's bank-reference claims) compare by this key.
"""

from __future__ import annotations

import unicodedata

from shared.contracts.text import shows_nothing

# Drawn as a hyphen but not dash punctuation (Pd): a mathematical minus, a modifier minus, a hyphen bullet, a
# heavy minus sign.
DASH_LIKE = frozenset("\u2212\u02d7\u2043\u2796")


def _dash_or_kept(ch: str) -> str:
    return "-" if ch in DASH_LIKE or unicodedata.category(ch) == "Pd" else ch


def _seen(text: str) -> str:
    # What a reader sees: no whitespace, format characters, combining marks (variation selectors, the grapheme
    # joiner) or blank-looking fillers (Hangul fillers, the braille blank), which a reference never holds.
    return "".join(_dash_or_kept(ch) for ch in text if not shows_nothing(ch))


def reference_key(reference: str) -> str:
    """Return the reference's normal form: NFKC, every dash as '-', invisible characters dropped, case-folded."""
    # NFKC first: a letter and its accent typed apart compose into one (é), and only marks left over are dropped.
    folded = _seen(unicodedata.normalize("NFKC", reference)).casefold()
    # Case folding can leave text that is no longer NFKC (and NFKC can fold into an invisible character): repeat.
    return _seen(unicodedata.normalize("NFKC", folded))


def same_reference(one: str | None, other: str | None) -> bool:
    """Tell whether two references name one transfer (never when either is missing)."""
    return one is not None and other is not None and reference_key(one) == reference_key(other)


def spelled_as(earlier: str | None, given: str) -> str:
    """Name the earlier spelling in a reason when it differs from the one given (why they are one transfer)."""
    return f" (as {earlier})" if earlier is not None and earlier != given else ""
