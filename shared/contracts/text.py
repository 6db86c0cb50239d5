"""Text that users type: strict strings, trimmed, never blank, and safe for storage and documents.

Why: what a user types ends up in MongoDB (UTF-8 only: a lone surrogate fails there with a 500), in
DOCX (XML 1.0 forbids most control characters) and in PDFs (the font must cover it). Refusing such
characters at the door, with a reason, is simpler than escaping them in every format later.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

M = TypeVar("M", bound=BaseModel)
# Set while stored events are read: the rules added since an event was recorded (bidi controls, text of only
# invisible characters) must not make it unreadable. Events are immutable; only new input meets the new rules.
_READING_STORED = ContextVar("reading_stored_events", default=False)

# Tab, newline and carriage return are the only control characters XML 1.0 allows; free text may hold them.
MULTILINE_CONTROLS = frozenset("\t\n\r")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"  # ids that enter from outside: letters, digits, _ and -
# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder how the text around them is
# shown: a title holding U+202E reads differently to staff than what is stored, searched and printed (the
# "Trojan Source" trick). Ordinary right-to-left text needs none of them, so they are refused everywhere.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# The Unicode line and paragraph separators (U+2028, U+2029) break a line where a reader honours them and
# show nothing where it does not. A one-line field must not hold one, and free text has one spelling of a line
# break, \n (or \r\n), so they are refused everywhere, like the controls above (stored events keep theirs).
LINE_SEPARATORS = frozenset("\u2028\u2029")
# Characters that show nothing: format characters (zero-width space and joiners, BOM), and the space, line and
# paragraph separators. Text made only of these (and whitespace) looks empty to a reader, so it is blank.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp"})


def _refuse_unsafe(value: str, allowed: frozenset[str]) -> str:
    for ch in value:
        if ch in allowed:
            continue
        category = unicodedata.category(ch)
        if category == "Cs":
            raise ValueError(
                "文本含孤立的代理码位，不是有效的 Unicode / text holds a lone surrogate (not valid Unicode)"
            )
        if category == "Cc" or ch in "\ufffe\uffff":
            raise ValueError(
                f"文本含控制字符 U+{ord(ch):04X} / text holds the control character U+{ord(ch):04X}"
            )
        if ch in LINE_SEPARATORS and not _READING_STORED.get():
            raise ValueError(
                f"文本含行或段落分隔符 U+{ord(ch):04X}，请用普通换行 / text holds the line or paragraph separator "
                f"U+{ord(ch):04X}: use an ordinary line break where one is allowed"
            )
        if ch in BIDI_CONTROLS and not _READING_STORED.get():
            raise ValueError(
                f"文本含双向文字控制符 U+{ord(ch):04X}，会打乱显示顺序 / text holds the bidirectional control "
                f"character U+{ord(ch):04X}, which reorders what readers see"
            )
    return value


def _one_line(value: str) -> str:
    return _refuse_unsafe(value, frozenset())


def _multiline(value: str) -> str:
    return _refuse_unsafe(value, MULTILINE_CONTROLS)


def _trimmed_off(value: Any) -> str:
    """Return what trimming takes from the ends of value: the rest is checked once trimmed (and its length)."""
    if not isinstance(value, str):  # left to the strict type check that follows
        return ""
    start = len(value) - len(value.lstrip())
    return value[:start] + value[start:][len(value[start:].rstrip()) :]


# Python's strip() takes control characters too (U+000B, U+000C, U+001C-U+001F, U+0085; tabs and line breaks),
# and the published pattern, checked by a client against what it sends, refuses them wherever they stand: so
# the ends are checked as sent, before they are trimmed, not silently dropped.
def _line_ends(value: Any) -> Any:
    _refuse_unsafe(_trimmed_off(value), frozenset())
    return value


def _text_ends(value: Any) -> Any:
    _refuse_unsafe(_trimmed_off(value), MULTILINE_CONTROLS)
    return value


# Letters and symbols that draw nothing (Hangul fillers, the braille blank, the object replacement character);
# combining marks (Mn, Me) and variation selectors show nothing without a character to mark.
BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800\ufffc")
MARK_CATEGORIES = frozenset({"Mn", "Me"})


def _invisible(ch: str) -> bool:
    category = unicodedata.category(ch)
    return (
        ch.isspace() or category in INVISIBLE_CATEGORIES or category in MARK_CATEGORIES or ch in BLANK_LOOKING
    )


def shows_nothing(value: str) -> bool:
    """Tell whether text draws nothing a reader can see (only whitespace, format characters, marks...)."""
    return all(_invisible(ch) for ch in value)


def _not_blank(value: str) -> str:
    if not value.strip() or (shows_nothing(value) and not _READING_STORED.get()):
        raise ValueError(
            "不能为空（也不能只有不可见字符） / must not be blank (nor only invisible characters)"
        )
    return value


@contextmanager
def reading_stored_events() -> Iterator[None]:
    """Validate stored events by the text rules they were recorded under (see _READING_STORED)."""
    token = _READING_STORED.set(True)
    try:
        yield
    finally:
        _READING_STORED.reset(token)


def is_reading_stored() -> bool:
    """Tell whether stored events are being read (the input rules added since must let them through)."""
    return _READING_STORED.get()


def read_stored(model: type[M], data: Mapping[str, Any]) -> M:
    """Return a stored event's payload as its model, by the text rules it was recorded under."""
    with reading_stored_events():
        return model.model_validate(data)


_LINE = AfterValidator(_one_line)
_PARA = AfterValidator(_multiline)
_LINE_ENDS = BeforeValidator(_line_ends)
_TEXT_ENDS = BeforeValidator(_text_ends)
_FILLED = AfterValidator(_not_blank)


def _limits(n: int) -> StringConstraints:
    return StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=n)


# What the rules above refuse, as JSON Schema patterns, so that other bureaus' clients (and fuzzers) read them
# from the OpenAPI; the validators stay the rule (their reasons say which character), the pattern is its shape.
# Both read the value as sent: a control character is refused even where trimming would have removed it.
_NEVER = (
    r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff"
)
_NEVER_IN_A_LINE = _NEVER + r"\u0009\u000a\u000d"
# The end of the value: Python's `$` (re.search, which fuzzers read JSON Schema patterns with) also matches
# before a final line break, so "科\n" would pass for a one-line field; the lookahead says "the very end" in
# both Python's and ECMA-262's reading (there `$` is the end already).
_END = "$(?!\\n)"
_SHOWN_LINE = Field(
    json_schema_extra={
        "pattern": f"^[^{_NEVER_IN_A_LINE}]*[^\\s{_NEVER_IN_A_LINE}][^{_NEVER_IN_A_LINE}]*{_END}"
    }
)
_SHOWN_TEXT = Field(json_schema_extra={"pattern": f"^[^{_NEVER}]*[^\\s{_NEVER}][^{_NEVER}]*{_END}"})
_SHOWN_OPTIONAL_TEXT = Field(json_schema_extra={"pattern": f"^[^{_NEVER}]*{_END}"})


# One-line fields (names, titles, sections, reasons): stripped, not blank (nor only invisible characters), no
# control characters (nor bidi controls, nor line or paragraph separators).
Line20 = Annotated[str, _limits(20), _LINE_ENDS, _LINE, _FILLED, _SHOWN_LINE]
Line50 = Annotated[str, _limits(50), _LINE_ENDS, _LINE, _FILLED, _SHOWN_LINE]
Line100 = Annotated[str, _limits(100), _LINE_ENDS, _LINE, _FILLED, _SHOWN_LINE]
Line200 = Annotated[str, _limits(200), _LINE_ENDS, _LINE, _FILLED, _SHOWN_LINE]
Line500 = Annotated[str, _limits(500), _LINE_ENDS, _LINE, _FILLED, _SHOWN_LINE]
# Free text (descriptions, summaries, comments): as above, but tabs and line breaks (\n, \r) are allowed.
Text500 = Annotated[str, _limits(500), _TEXT_ENDS, _PARA, _FILLED, _SHOWN_TEXT]
Text2000 = Annotated[str, _limits(2000), _TEXT_ENDS, _PARA, _FILLED, _SHOWN_TEXT]
Text5000 = Annotated[str, _limits(5000), _TEXT_ENDS, _PARA, _FILLED, _SHOWN_TEXT]
Text10000 = Annotated[str, _limits(10_000), _TEXT_ENDS, _PARA, _FILLED, _SHOWN_TEXT]
# Optional free text that may be empty (a note, a comment).
OptionalText500 = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, max_length=500),
    _TEXT_ENDS,
    _PARA,
    _SHOWN_OPTIONAL_TEXT,
]
OptionalText2000 = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, max_length=2000),
    _TEXT_ENDS,
    _PARA,
    _SHOWN_OPTIONAL_TEXT,
]


Identifier = Annotated[
    str,
    StringConstraints(strict=True, pattern=ID_PATTERN),
    Field(description="An id: 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit"),
]


# Contact details (personal data): a mainland mobile number, and an email address.
Mobile = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"^1[3-9]\d{9}$"),
    Field(description="A mainland mobile number"),
]
# Exactly one address, or a mail meant for one person reaches others: "a>,<victim@x.cn" passed the old
# pattern and went out as two recipients. The local part is a dot-atom: RFC 5322's ASCII atext (letters,
# digits and !#$%&'*+/=?^_`{|}~-; no spaces, no <>()[]\,;:"@, no quoted strings) or non-ASCII letters, marks
# and digits (Unicode categories L, M, N: RFC 6531, sent with SMTPUTF8); the domain keeps its ASCII rule.
# The pattern (published in the OpenAPI) says the shape; what a pattern cannot say portably ("a Unicode
# letter") is checked by _why_not_a_local_part below: a list of forbidden characters let "a，b@x.cn" (a
# full-width comma) and "a＜@x.cn" through.
_EMAIL_LOCAL_CHAR = (
    r'[^\s\x00-\x1f\x7f-\x9f<>()\[\]\\,;:"@.'
    r"\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff\ufffe\uffff]"
)
# The domain: labels of letters, digits and inner hyphens (punycode xn-- for a Chinese domain), a letter TLD.
_EMAIL_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{_EMAIL_LOCAL_CHAR}+(?:\.{_EMAIL_LOCAL_CHAR}+)*@(?:{_EMAIL_LABEL}\.)+[A-Za-z]{{2,63}}$"
EMAIL_LOCAL_MAX = 64  # RFC 5321 4.5.3.1.1
_ONE_EMAIL = re.compile(EMAIL_PATTERN)
ATEXT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-")
LOCAL_PART_CATEGORIES = frozenset(
    "LMN"
)  # the first letter of a Unicode general category: letters, marks, digits


# Letters and marks that draw nothing or look like punctuation: modifier letters (ː, ˗), the blank-looking
# fillers, variation selectors, the grapheme joiner, Mongolian and Khmer invisibles (default ignorable).
_DRAWS_NOTHING_MARKS = re.compile(r"[\u034f\u17b4\u17b5\u180b-\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def _looks_like_something_else(ch: str) -> bool:
    return (
        unicodedata.category(ch) == "Lm" or ch in BLANK_LOOKING or _DRAWS_NOTHING_MARKS.match(ch) is not None
    )


def _why_not_a_local_part_character(ch: str, after_a_letter: bool = True) -> str | None:
    if ch in ATEXT or ch == ".":  # where dots stand is the pattern's to say
        return None
    code = f"U+{ord(ch):04X}"
    category = unicodedata.category(ch)
    lone_mark = category[0] == "M" and not after_a_letter  # an accent needs a letter to sit on
    if (
        ch.isascii()
        or category[0] not in LOCAL_PART_CATEGORIES
        or lone_mark
        or _looks_like_something_else(ch)
    ):
        return (
            f"电子邮箱 @ 前不能含 {ch!r}（{code}） / an email address must not hold {ch!r} ({code}) before the @"
            " (only ASCII letters, digits and !#$%&'*+/=?^_`{|}~-, dots between, and non-ASCII letters, digits)"
        )
    if unicodedata.normalize("NFKC", ch) != unicodedata.normalize("NFC", ch):
        # A full-width "ａ" (from a Chinese input method) or a circled "①" is a letter, but another mailbox
        # than "a" or "1" to a server that compares bytes: refused with the form meant, never silently changed.
        meant = unicodedata.normalize("NFKC", ch)
        return (
            f"电子邮箱 @ 前的 {ch!r}（{code}）是全角或兼容字符，请写作 {meant!r} / {ch!r} ({code}) before the @"
            f" is a full-width or compatibility form: write {meant!r}"
        )
    return None


def _why_not_a_local_part(local: str) -> str | None:
    after = [False, *(unicodedata.category(ch)[0] in "LM" for ch in local[:-1])]
    return next(filter(None, map(_why_not_a_local_part_character, local, after)), None)


def is_one_email_address(value: str) -> bool:
    """Tell whether value is exactly one address as contacts may give it (what the email channel sends to)."""
    local = value.rpartition("@")[0]
    return (
        len(value) <= 254
        and len(local) <= EMAIL_LOCAL_MAX
        and _ONE_EMAIL.fullmatch(value) is not None
        and _why_not_a_local_part(local) is None
    )


def _one_email(value: str) -> str:
    local = value.rpartition("@")[0]
    if len(local) > EMAIL_LOCAL_MAX:
        raise ValueError(
            f"电子邮箱 @ 前最多 {EMAIL_LOCAL_MAX} 个字符 / an email address has at most {EMAIL_LOCAL_MAX} "
            "characters before the @"
        )
    reason = _why_not_a_local_part(local)
    if reason is not None:
        raise ValueError(reason)
    return value


Email = Annotated[
    str,
    StringConstraints(strict=True, max_length=254, pattern=EMAIL_PATTERN),
    AfterValidator(_one_email),
    Field(description="One email address (no display name, no list, no quoted local part)"),
]


def shown(value: str, limit: int = 100) -> str:
    """Return text from a request as an answer can name it: at most `limit` characters, unprintable ones (a lone
    surrogate, a control character) as \\uXXXX escapes, so a refusal never echoes a huge or unencodable value."""
    cut = value[:limit]
    text = "".join(
        ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else f"\\u{ord(ch):04x}" for ch in cut
    )
    return text + ("…" if len(value) > limit else "")
