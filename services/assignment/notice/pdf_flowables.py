"""The pieces of the PDF notice that reportlab does not have: CJK text laid on the GB/T 9704 grid with 禁则,
the red rule, the signature block with its seal placeholder, and the page number."""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors
from reportlab.platypus import Flowable

from services.assignment.notice.geometry import (
    BOTTOM,
    LEFT,
    LINE,
    MM,
    PITCH,
    RULE_WIDTH,
    SEAL_DIAMETER,
    SIZE_3,
    SIZE_4,
    TYPE_WIDTH,
)
from services.assignment.notice.linebreak import break_lines
from services.assignment.notice.typeface import register, text_out, text_width

RED = colors.HexColor("#E60012")  # the red of red-header documents (红头)
BLACK = colors.black
EM_CENTRE = 0.38  # the ideographic em box spans -0.12..0.88 em around the baseline: its middle is 0.38 em up


class CjkText(Flowable):
    """A paragraph of Chinese text: broken with 禁则, justified to the grid, split across pages by lines."""

    def __init__(
        self,
        text: str,
        *,
        size: float = SIZE_3,
        leading: float = LINE,
        align: str = "justify",
        indent_chars: float = 0.0,
        pitch: float | None = None,
        color: Any = BLACK,
        lines: list[str] | None = None,
        justify_last: bool = False,
    ) -> None:
        super().__init__()
        self.text, self.size, self.leading, self.align, self.color = text, size, leading, align, color
        self.pitch = pitch if pitch is not None else size
        self.tracking = self.pitch - size  # extra advance per character so that a hanzi takes one grid cell
        self.indent = indent_chars * self.pitch
        self.lines: list[str] = lines if lines is not None else []
        self._prebroken = lines is not None
        self.justify_last = justify_last
        self.width = self.height = 0.0

    def measure(self, text: str) -> float:
        """Width of `text` on this paragraph's grid (one pitch per full-width character)."""
        return text_width(text, self.size) + len(text) * self.tracking

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        """Break the text into lines for this width."""
        self.width = availWidth
        if not self._prebroken:
            self.lines = break_lines(self.text, availWidth, self.measure, self.indent)
        self.height = len(self.lines) * self.leading
        return availWidth, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        """Split between lines so the paragraph continues on the next page."""
        self.wrap(availWidth, availHeight)
        fits = int((availHeight + 1e-6) // self.leading)
        if fits <= 0 or fits >= len(self.lines):
            return []
        head, tail = self._part(self.lines[:fits], True), self._part(self.lines[fits:], False)
        head.indent = self.indent
        return [head, tail]

    def _part(self, lines: list[str], justify_last: bool) -> CjkText:
        return CjkText(
            self.text,
            size=self.size,
            leading=self.leading,
            align=self.align,
            pitch=self.pitch,
            color=self.color,
            lines=lines,
            justify_last=justify_last,
        )

    def draw(self) -> None:
        """Draw each line on its grid line; every line but the last is spread to the full width."""
        canvas = self.canv
        for n, line in enumerate(self.lines):
            indent = self.indent if n == 0 else 0.0
            natural = self.measure(line) - self.tracking
            spacing = self.tracking
            last = n == len(self.lines) - 1 and not self.justify_last
            if self.align == "justify" and not last and len(line) > 1:
                spacing += (self.width - indent - natural) / (len(line) - 1)
                x = indent
            elif self.align == "center":
                x = (self.width - natural) / 2
            elif self.align == "right":
                x = self.width - natural
            else:
                x = indent
            baseline = self.height - (n + 0.5) * self.leading - EM_CENTRE * self.size
            text = canvas.beginText(x, baseline)
            text.setFont(register(), self.size)
            text.setCharSpace(spacing)
            text.setFillColor(self.color)
            text_out(text, line, self.size)
            canvas.drawText(text)


class RedRule(Flowable):
    """The red separating rule of the header (版头中的分隔线): red, as wide as the type area."""

    def __init__(self, width: float = TYPE_WIDTH) -> None:
        super().__init__()
        self.width, self.height = width, RULE_WIDTH

    def draw(self) -> None:
        """Draw the rule."""
        self.canv.setStrokeColor(RED)
        self.canv.setLineWidth(RULE_WIDTH)
        self.canv.line(0, RULE_WIDTH / 2, self.width, RULE_WIDTH / 2)


class SignatureBlock(Flowable):
    """Issuing authority and date (§7.3.5.1): date 4 characters from the right, the authority centred over it,
    and the seal over both (here a placeholder circle, labelled as such), both lines below its centre."""

    def __init__(self, issuer: str, date_text: str) -> None:
        super().__init__()
        self.issuer, self.date_text = issuer, date_text
        self.radius = SEAL_DIAMETER / 2
        self.width, self.height = TYPE_WIDTH, SEAL_DIAMETER

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        """A fixed block: the seal's height."""
        return self.width, self.height

    def date_box(self) -> tuple[float, float]:
        """(left, right) of the date line, in points from the left of the type area."""
        right = self.width - 4 * PITCH
        return right - self._natural(self.date_text), right

    def _natural(self, text: str) -> float:
        return text_width(text, SIZE_3) + (len(text) - 1) * (PITCH - SIZE_3)

    def draw(self) -> None:
        """Draw the seal placeholder, then the authority and the date over it."""
        canvas, font = self.canv, register()
        left, right = self.date_box()
        centre_x, centre_y = (left + right) / 2, self.height - self.radius
        canvas.setStrokeColor(RED)
        canvas.setLineWidth(1.2)
        canvas.circle(centre_x, centre_y, self.radius)
        canvas.setFillColor(RED)
        canvas.setFont(font, 8)
        canvas.drawCentredString(centre_x, centre_y + self.radius * 0.55, "印章位置（示意）")
        issuer_base = centre_y - 0.15 * self.radius - EM_CENTRE * SIZE_3
        for text, baseline in ((self.issuer, issuer_base), (self.date_text, issuer_base - LINE)):
            line = canvas.beginText(centre_x - self._natural(text) / 2, baseline)
            line.setFont(font, SIZE_3)
            line.setCharSpace(PITCH - SIZE_3)
            line.setFillColor(BLACK)
            text_out(line, text, SIZE_3)
            canvas.drawText(line)


def draw_page_number(canvas: Any, doc: Any) -> None:
    """Page number (§7.5): 4号 Arabic numerals between dashes, 7 mm below the type area, outside corner."""
    number = canvas.getPageNumber()
    text = f"— {number} —"
    font = register()
    width = text_width(text, SIZE_4)
    top = BOTTOM - 7 * MM  # the dashes' top edge 7 mm below the type area
    baseline = top - 0.5 * SIZE_4
    # Odd pages at the right, even at the left, one character in from the type area's edge.
    x = LEFT + TYPE_WIDTH - SIZE_4 - width if number % 2 == 1 else LEFT + SIZE_4
    canvas.saveState()
    canvas.setFont(font, SIZE_4)
    canvas.setFillColor(BLACK)
    canvas.drawString(x, baseline, text)
    canvas.restoreState()
