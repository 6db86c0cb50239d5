"""The one typeface of the PDF notice: a committed, embedded subset of Noto Serif CJK SC (SIL OFL 1.1).

GB/T 9704-2012 asks for 小标宋 (mark, title), 仿宋 (body) and 宋体 (page numbers). Those fonts are commercial or
ship only with Windows, and a PDF must look the same on every machine, so the PDF embeds one open-licensed Song
(serif) font for all of them; the sizes and colours follow the standard. `build_font.py` explains how the font
file was made and what it covers (all of GB 2312 and the whole CJK Unified Ideographs block, ASCII, full-width
forms and CJK punctuation). The rarer ideographs of names (Extension A and more) come from a second file of the
same design, embedded only in a notice that prints one. Text with a character outside both is refused, never
drawn as an empty box (tofu).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "ConciergeSerifSC"
FONT_FILE = Path(__file__).with_name("fonts") / "ConciergeSerifSC-Regular.ttf"
SUPPLEMENT = "ConciergeSerifSCSupplement"
SUPPLEMENT_FILE = FONT_FILE.with_name("ConciergeSerifSC-Supplement.ttf")
# Line ends are layout, not glyphs; every other character must be in the font.
_LAYOUT = frozenset("\n\r\t")


class UnprintableText(ValueError):
    """Text holds characters the notice font cannot draw; the message names them and where they are."""

    def __init__(self, missing: Mapping[str, str]) -> None:
        self.missing = dict(missing)
        listed = "；".join(f"{field}: {chars}" for field, chars in self.missing.items())
        super().__init__(f"公文字库不含以下字符，无法印制 / characters outside the notice font: {listed}")


@cache
def register() -> str:
    """Register the embedded font with reportlab once and return its name."""
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE)))
    return FONT


@cache
def _supplement() -> str:
    # Read on the first character that needs it: most notices never do, and the file is 3.5 MB.
    pdfmetrics.registerFont(TTFont(SUPPLEMENT, str(SUPPLEMENT_FILE)))
    return SUPPLEMENT


@cache
def _covered() -> frozenset[int]:
    register()
    return frozenset(pdfmetrics.getFont(FONT).face.charToGlyph)


@cache
def _supplemented() -> frozenset[int]:
    return frozenset(pdfmetrics.getFont(_supplement()).face.charToGlyph) - _covered()


def uncovered(text: str) -> str:
    """The characters of `text` neither font can draw, each once, in order of appearance."""
    covered = _covered()
    seen: dict[str, None] = {}
    for char in text:
        if ord(char) not in covered and char not in _LAYOUT and ord(char) not in _supplemented():
            seen[char] = None
    return "".join(seen)


def runs(text: str) -> Iterator[tuple[str, str]]:
    """Split `text` into (font name, text) runs: the main font wherever it draws the character."""
    covered = _covered()
    main = register()
    for in_main, chars in groupby(text, key=lambda char: ord(char) in covered or char in _LAYOUT):
        yield (main if in_main else _supplement()), "".join(chars)


def text_out(text_object: Any, text: str, size: float) -> None:
    """Write `text` into a reportlab text object whose font is the main one, switching fonts per run."""
    font = register()
    for run_font, run in runs(text):
        if run_font != font:  # the main font is already set: text without rare characters draws as before
            text_object.setFont(run_font, size)
            font = run_font
        text_object.textOut(run)


def ensure_printable(fields: Mapping[str, str]) -> None:
    """Raise UnprintableText naming every field (label -> text) that holds a character outside the font."""
    missing = {label: chars for label, text in fields.items() if (chars := uncovered(text))}
    if missing:
        raise UnprintableText(missing)


def text_width(text: str, size: float) -> float:
    """The natural width of `text` in points at `size`."""
    return float(sum(pdfmetrics.stringWidth(run, font, size) for font, run in runs(text)))
