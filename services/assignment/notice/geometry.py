"""The page of GB/T 9704-2012 (党政机关公文格式) in points, shared by the PDF and the DOCX, and the table's columns.

A4; type area (版心) 156 mm x 225 mm with the top margin 37 mm and the left 28 mm, so the right is 26 mm and the
bottom 35 mm; 22 lines a page of 28 characters of 3号 (16 pt) type. 28 characters of 16 pt are 158 mm, wider
than 156 mm: as Word's document grid does, each character gets 156/28 mm (tracking slightly tightened).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

MM = 72 / 25.4
PAGE_WIDTH, PAGE_HEIGHT = 210 * MM, 297 * MM
TOP, LEFT = 37 * MM, 28 * MM
TYPE_WIDTH, TYPE_HEIGHT = 156 * MM, 225 * MM
RIGHT = PAGE_WIDTH - LEFT - TYPE_WIDTH
BOTTOM = PAGE_HEIGHT - TOP - TYPE_HEIGHT
CHARS_PER_LINE, LINES_PER_PAGE = 28, 22
PITCH = TYPE_WIDTH / CHARS_PER_LINE  # advance of one full-width character of the body
LINE = TYPE_HEIGHT / LINES_PER_PAGE  # line pitch of the body

# Chinese type sizes (字号) in points.
SIZE_2 = 22.0  # 二号: title
SIZE_3 = 16.0  # 三号: body, document number, signature, date
SIZE_4 = 14.0  # 四号: page numbers
SIZE_SMALL_4 = 12.0  # 小四: table

MARK_TOP = 35 * MM  # the mark's top edge below the top of the type area (§7.2.3)
RULE_GAP = 4 * MM  # the red rule below the document number (§7.2.5)
RULE_WIDTH = 1.0  # points; the standard fixes the colour and the length, not the weight
MARK_MAX = 42.0  # 初号; the mark shrinks to fit a long bureau name within 90 % of the type area
SEAL_DIAMETER = 40 * MM  # the usual seal of a bureau (局)
CELL_PADDING = 3.0


def mark_size(mark: str) -> float:
    """Type size of the issuing authority's mark: at most 初号, narrow enough to fit the type area."""
    return min(MARK_MAX, 0.9 * TYPE_WIDTH / max(len(mark), 1))


def column_widths(
    rows: Sequence[Sequence[str]], measure: Callable[[str], float], flexible: int, total: float = TYPE_WIDTH
) -> list[float]:
    """Widths that fit every column's longest text on one line; column `flexible` takes what is left and wraps.

    Only when that would leave the flexible column less than a quarter of the table (very long names in the
    other columns) does every other column shrink in proportion, and its text wraps too.
    """
    columns = len(rows[0])
    natural = [max(measure(row[c]) for row in rows) + 2 * CELL_PADDING for c in range(columns)]
    fixed = sum(w for c, w in enumerate(natural) if c != flexible)
    floor = total / 4
    if total - fixed < floor:
        scale = (total - floor) / fixed
        natural = [w * scale for w in natural]
        fixed = total - floor
    widths = list(natural)
    widths[flexible] = total - fixed
    return widths
