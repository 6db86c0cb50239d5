"""The notice as DOCX in the GB/T 9704-2012 layout (A4, 37/28 mm margins, 22 x 28 grid); byte-for-byte reproducible.

Fonts: a DOCX names its fonts and the reader's machine draws them. The standard's 小标宋 is not on a stock
Windows, so the mark and the title use 宋体 (SimSun) and the body 仿宋 (FangSong), both shipped with every Chinese
Windows; digits and Latin letters use Times New Roman. The PDF, which embeds its font, is the archival copy.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any

from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

from services.assignment.notice.content import TABLE_HEADER, NoticeContent
from services.assignment.notice.docx_parts import (
    RED_HEX,
    bottom_border,
    east_asian_defaults,
    fixed_table_geometry,
    kinsoku,
    no_grid_snap,
    page_field,
    seal_placeholder,
    set_document_grid,
)
from services.assignment.notice.geometry import (
    BOTTOM,
    CELL_PADDING,
    LEFT,
    LINE,
    MARK_TOP,
    MM,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    PITCH,
    RIGHT,
    RULE_GAP,
    RULE_WIDTH,
    SEAL_DIAMETER,
    SIZE_2,
    SIZE_3,
    SIZE_4,
    SIZE_SMALL_4,
    TOP,
    TYPE_WIDTH,
    column_widths,
    mark_size,
)
from services.assignment.notice.typeface import text_width

RED = RGBColor.from_string(RED_HEX)
TITLE_FONT, BODY_FONT, LATIN_FONT = "宋体", "仿宋", "Times New Roman"
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def render_docx(content: NoticeContent) -> bytes:
    """Return the DOCX bytes; the same content always gives the same bytes."""
    doc = Document()
    _page_setup(doc)
    size = mark_size(content.mark)
    mark = _paragraph(doc, content.mark, WD_ALIGN_PARAGRAPH.CENTER, size=size, font=TITLE_FONT, color=RED)
    mark.paragraph_format.space_before = Pt(MARK_TOP)
    _blank(doc, 2)
    number = _paragraph(doc, content.document_number, WD_ALIGN_PARAGRAPH.CENTER)
    bottom_border(number, round(RULE_GAP), RULE_WIDTH)
    _blank(doc, 2)
    _paragraph(doc, content.title, WD_ALIGN_PARAGRAPH.CENTER, size=SIZE_2, font=TITLE_FONT)
    _blank(doc, 1)
    _paragraph(doc, f"{content.addressee}：", WD_ALIGN_PARAGRAPH.LEFT)
    body = _paragraph(doc, content.body, WD_ALIGN_PARAGRAPH.JUSTIFY)
    body.paragraph_format.first_line_indent = Pt(2 * PITCH)
    body.paragraph_format.element.get_or_add_pPr().get_or_add_ind().set(qn("w:firstLineChars"), "200")
    _table(doc, content)
    _blank(doc, 2)  # the seal's top stays within one line of the table
    _signature(doc, content)
    _core_properties(doc, content)
    raw = io.BytesIO()
    doc.save(raw)
    return with_fixed_zip_times(raw.getvalue())


def _page_setup(doc: Any) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Pt(PAGE_WIDTH), Pt(PAGE_HEIGHT)
    section.top_margin, section.bottom_margin = Pt(TOP), Pt(BOTTOM)
    section.left_margin, section.right_margin = Pt(LEFT), Pt(RIGHT)
    # The page number's dashes sit 7 mm under the type area: the footer ends about a line of 4号 below that.
    section.footer_distance = Pt(BOTTOM - 7 * MM - 1.3 * SIZE_4)
    set_document_grid(section)
    east_asian_defaults(doc, SIZE_3)
    normal = doc.styles["Normal"]
    kinsoku(normal)
    normal.font.size = Pt(SIZE_3)
    normal.font.name = LATIN_FONT
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    normal.paragraph_format.space_before = normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.0
    doc.settings.odd_and_even_pages_header_footer = True
    for footer, align in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),  # odd pages: right, one character in
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        paragraph.alignment = align
        indent = Pt(SIZE_4)
        paragraph.paragraph_format.left_indent = indent if align == WD_ALIGN_PARAGRAPH.LEFT else None
        paragraph.paragraph_format.right_indent = indent if align == WD_ALIGN_PARAGRAPH.RIGHT else None
        no_grid_snap(paragraph)
        page_field(paragraph, round(SIZE_4 * 2))


def _table(doc: Any, content: NoticeContent) -> None:
    texts = [list(TABLE_HEADER)] + [
        [str(i), r.enterprise, r.credit_code, r.concierge, r.post]
        for i, r in enumerate(content.rows, start=1)
    ]
    # One point more than the PDF's columns: the rounding to twips, and the reader's 仿宋 is not quite the
    # embedded font.
    widths = column_widths(texts, lambda t: text_width(t, SIZE_SMALL_4) + 1, flexible=1, total=TYPE_WIDTH)
    table = doc.add_table(rows=len(texts), cols=len(TABLE_HEADER))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    fixed_table_geometry(table, widths, CELL_PADDING)
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Pt(width)
    for row, values in zip(table.rows, texts, strict=True):
        for cell, text, width in zip(row.cells, values, widths, strict=True):
            cell.width = Pt(width)
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            paragraph = cell.paragraphs[0]
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            no_grid_snap(paragraph)
            _run(paragraph, text, SIZE_SMALL_4, BODY_FONT, None)


def _signature(doc: Any, content: NoticeContent) -> None:
    # Date 4 characters in from the right; the authority centred over the date; the seal centred on both.
    date_width = _natural(content.date_text)
    date_right = 4 * PITCH
    issuer_right = date_right + (date_width - _natural(content.issuer)) / 2
    issuer = _paragraph(doc, content.issuer, WD_ALIGN_PARAGRAPH.RIGHT)
    issuer.paragraph_format.right_indent = Pt(issuer_right)
    date = _paragraph(doc, content.date_text, WD_ALIGN_PARAGRAPH.RIGHT)
    date.paragraph_format.right_indent = Pt(date_right)
    radius = SEAL_DIAMETER / 2
    centre_x = TYPE_WIDTH - date_right - date_width / 2
    centre_y = LINE / 2 + 0.15 * radius  # both lines below the seal's centre ("居印章中心偏下")
    seal_placeholder(issuer, centre_x - radius, centre_y - LINE / 2 - 1.15 * radius, SEAL_DIAMETER)


def _natural(text: str) -> float:
    return text_width(text, SIZE_3) + (len(text) - 1) * (PITCH - SIZE_3)


def _paragraph(
    doc: Any,
    text: str,
    align: int,
    *,
    size: float = SIZE_3,
    font: str = BODY_FONT,
    color: RGBColor | None = None,
) -> Any:
    paragraph = doc.add_paragraph()
    paragraph.alignment = align
    _run(paragraph, text, size, font, color)
    return paragraph


def _run(paragraph: Any, text: str, size: float, font: str, color: RGBColor | None) -> None:
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.name = LATIN_FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
    if color is not None:
        run.font.color.rgb = color


def _blank(doc: Any, lines: int) -> None:
    for _ in range(lines):
        doc.add_paragraph()


def _core_properties(doc: Any, content: NoticeContent) -> None:
    issued = datetime(content.issued_on.year, content.issued_on.month, content.issued_on.day)
    props = doc.core_properties
    props.title, props.author, props.subject = content.title, content.issuer, content.document_number
    props.created = props.modified = issued
    props.last_modified_by, props.revision = content.issuer, 1


def with_fixed_zip_times(data: bytes) -> bytes:
    """Rewrite the zip with fixed entry times so the same document gives the same bytes."""
    # A .docx is a zip whose entries carry the time of writing; fix them so the bytes repeat.
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()
