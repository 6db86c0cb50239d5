"""The notice as PDF in the GB/T 9704-2012 layout, with its font embedded; byte-for-byte reproducible.

One embedded serif font (see `typeface.py`) stands in for 小标宋, 仿宋 and 宋体. reportlab subsets it per
document under deterministic names (AAAAAA+…, in order of first use) and `invariant=1` fixes the dates and the
document id, so the same content always gives the same bytes on every machine.
"""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Spacer, Table, TableStyle

from services.assignment.notice.content import TABLE_HEADER, NoticeContent
from services.assignment.notice.geometry import (
    BOTTOM,
    CELL_PADDING,
    LEFT,
    LINE,
    MARK_TOP,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    PITCH,
    RIGHT,
    RULE_GAP,
    SIZE_2,
    SIZE_3,
    SIZE_SMALL_4,
    TOP,
    TYPE_HEIGHT,
    TYPE_WIDTH,
    column_widths,
    mark_size,
)
from services.assignment.notice.pdf_flowables import RED, CjkText, RedRule, SignatureBlock, draw_page_number
from services.assignment.notice.typeface import FONT, ensure_printable, register, text_width

CELL_LEADING = SIZE_SMALL_4 * 1.4


def render_pdf(content: NoticeContent) -> bytes:
    """Return the PDF bytes; the same content always gives the same bytes. Raises UnprintableText."""
    ensure_printable(content.printed_fields())
    register()
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        leftMargin=LEFT,
        rightMargin=RIGHT,
        topMargin=TOP,
        bottomMargin=BOTTOM,
        title=content.title,
        author=content.issuer,
        subject=content.document_number,
        creator="专责店小二",
        invariant=1,
        initialFontName=FONT,  # else reportlab declares Helvetica on every page, a font it does not embed
        initialFontSize=SIZE_3,
    )
    # A frame without padding: reportlab's default 6 pt would shrink the standard's type area.
    area = Frame(LEFT, BOTTOM, TYPE_WIDTH, TYPE_HEIGHT, 0, 0, 0, 0, id="type-area")
    doc.addPageTemplates([PageTemplate("notice", [area], onPage=draw_page_number)])
    doc.build(story(content))
    return buffer.getvalue()


def story(content: NoticeContent) -> list[Flowable]:
    """The flowables of the notice, top to bottom."""
    size = mark_size(content.mark)
    return [
        Spacer(1, MARK_TOP),
        CjkText(content.mark, size=size, leading=size, align="center", color=RED),
        Spacer(1, 2 * LINE),  # 发文字号: two blank lines under the mark
        CjkText(content.document_number, align="center", pitch=PITCH),
        Spacer(1, RULE_GAP - (LINE - SIZE_3) / 2),  # 4 mm from the characters, not from their line box
        RedRule(),
        Spacer(1, 2 * LINE),  # the title: two blank lines under the rule
        CjkText(content.title, size=SIZE_2, leading=LINE * 1.25, align="center"),
        Spacer(1, LINE),  # 主送机关: one blank line under the title
        CjkText(f"{content.addressee}：", align="left", pitch=PITCH),
        CjkText(content.body, indent_chars=2, pitch=PITCH),
        Spacer(1, LINE / 2),
        assignment_table(content),
        Spacer(1, LINE / 2),  # the seal's top within one line of the text above it
        SignatureBlock(content.issuer, content.date_text),
    ]


def assignment_table(content: NoticeContent) -> Table:
    """The table of enterprises and concierges, its columns as wide as their text (names wrap)."""
    texts = [list(TABLE_HEADER)] + [
        [str(i), r.enterprise, r.credit_code, r.concierge, r.post]
        for i, r in enumerate(content.rows, start=1)
    ]
    widths = column_widths(texts, lambda t: text_width(t, SIZE_SMALL_4), flexible=1, total=TYPE_WIDTH)
    cells = [
        [CjkText(text, size=SIZE_SMALL_4, leading=CELL_LEADING, align="center") for text in row]
        for row in texts
    ]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, SIZE_SMALL_4),  # reportlab sets it even for flowable cells
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("TOPPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("BOTTOMPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ]
        )
    )
    return table
