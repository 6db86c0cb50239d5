"""Chinese line breaking (禁则) for the notice: no line starts with closing punctuation, none ends with opening.

reportlab's own CJK wrapping (`wordWrap='CJK'`) misses the full-width comma, semicolon, colon, question and
exclamation marks in its no-start list, and where it does apply the rule it lets the character hang past the
right margin instead; both break GB/T 9704's type area. Here a line that would violate the rule gives up its
last character(s) to the next line (推出), and the renderer spreads the shorter line to the full width.

Latin words and numbers (a credit code, "2026", "No.8") are kept whole unless one alone is wider than a line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Closing punctuation, stops, and marks that continue the previous character: never at a line start.
CANNOT_START = frozenset(
    "，。、；：？！）》」』】〕〉｝］’”…—·～％‰℃°′″"  # full-width and CJK
    ",.;:?!)]}%"  # their ASCII forms
    "々〻ゝゞヽヾー"
)
# Opening punctuation: never at a line end.
CANNOT_END = frozenset("（《「『【〔〈｛［‘“([{＄￥$#＃")
_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-/_@&+']*|\s|.", re.DOTALL)

Measure = Callable[[str], float]


def units(text: str) -> list[str]:
    """Split text into unbreakable units: one CJK character, one punctuation mark, or one Latin word."""
    return _UNIT.findall(text)


def break_lines(text: str, width: float, measure: Measure, first_line_indent: float = 0.0) -> list[str]:
    """Break text into lines no wider than `width` (the first `first_line_indent` narrower), obeying 禁则."""
    parts = _split_wide_words(units(text), width, measure)
    lines: list[str] = []
    start = 0
    while start < len(parts):
        available = width - (first_line_indent if not lines else 0.0)
        end = start
        while end < len(parts) and measure("".join(parts[start : end + 1])) <= available + 1e-6:
            end += 1
        if end == start:  # not even one unit fits: take it anyway so that the text always progresses
            end = start + 1
        elif end < len(parts):
            end = _legal_break(parts, start, end)
        line = "".join(parts[start:end]).strip(" ")
        if line:
            lines.append(line)
        start = end
        while start < len(parts) and parts[start] == " ":  # a space at a break is swallowed by it
            start += 1
    return lines


def violations(lines: list[str]) -> list[str]:
    """The lines that break 禁则: those starting with closing or ending with opening punctuation."""
    bad = [line for line in lines[1:] if line[:1] in CANNOT_START]
    return bad + [line for line in lines[:-1] if line[-1:] in CANNOT_END]


def _legal_break(parts: list[str], start: int, end: int) -> int:
    # Move the break back until the next line does not start with a closing mark and this one does not end
    # with an opening one; keep at least one unit on the line. If no such place exists (a line made only of
    # punctuation), break where it fits: progress beats the rule.
    for candidate in range(end, start, -1):
        if parts[candidate] not in CANNOT_START and parts[candidate - 1] not in CANNOT_END:
            return candidate
    return end


def _split_wide_words(parts: list[str], width: float, measure: Measure) -> list[str]:
    out: list[str] = []
    for part in parts:
        if len(part) > 1 and measure(part) > width:
            out.extend(part)  # a word wider than a line is broken by character, as a last resort
        else:
            out.append(part)
    return out
