"""Layout 1 of the notice (before GB/T 9704-2012 was followed), kept so that notices published with it still
regenerate byte for byte: their recorded SHA-256 digests are of these bytes. Never change this file; new notices
use `render.py`'s current layout. The code is the first version's, moved here unchanged but for names.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.assignment.notice.content import NoticeContent
from services.assignment.notice.docx import with_fixed_zip_times

DIGITS_ZH = "〇一二三四五六七八九"


def _date_zh(day: date) -> str:
    year = "".join(DIGITS_ZH[int(d)] for d in str(day.year))
    return f"{year}年{_number_zh(day.month)}月{_number_zh(day.day)}日"


def _number_zh(n: int) -> str:
    if n < 10:
        return DIGITS_ZH[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else DIGITS_ZH[tens]) + "十" + (DIGITS_ZH[ones] if ones else "")


PDF_FONT = "STSong-Light"  # Adobe's Song (宋体) CID font: every PDF reader provides it
PDF_RED = colors.HexColor("#D40000")


class _RedRule(Flowable):
    """The red line under the header (红线)."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width, self.height = width, 3 * mm

    def draw(self) -> None:
        """Draw a thick red line."""
        self.canv.setStrokeColor(PDF_RED)
        self.canv.setLineWidth(1.6)
        self.canv.line(0, self.height / 2, self.width, self.height / 2)


class _Seal(Flowable):
    """Where the bureau's seal goes (印章处): a red circle over the signature, with a note, not a seal."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width, self.height = width, 2 * mm

    def draw(self) -> None:
        """Draw the placeholder circle so that it overlaps the issuer and date below, as a seal does."""
        c = self.canv
        x, y = self.width - 30 * mm, -12 * mm
        c.setStrokeColor(PDF_RED)
        c.setLineWidth(1.2)
        c.circle(x, y, 20 * mm)
        c.setFillColor(PDF_RED)
        c.setFont(PDF_FONT, 9)
        c.drawCentredString(x, y + 12 * mm, "（盖章处）")


def render_pdf_v1(content: NoticeContent) -> bytes:
    """The PDF exactly as layout 1 rendered it (STSong-Light, not embedded)."""
    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=28 * mm,
        rightMargin=26 * mm,
        topMargin=30 * mm,
        bottomMargin=25 * mm,
        title=content.title,
        author=content.issuer,
        subject=content.document_number,
        creator="专责店小二",
        invariant=1,
    )
    styles = _styles()
    table = Table(
        [["序号", "企业名称", "统一社会信用代码", "专责店小二", "职务"]]
        + [
            [str(i), Paragraph(r.enterprise, styles["cell"]), r.credit_code, r.concierge, r.post]
            for i, r in enumerate(content.rows, start=1)
        ],
        colWidths=[12 * mm, 58 * mm, 44 * mm, 24 * mm, 20 * mm],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), PDF_FONT, 10),
                ("FONT", (0, 0), (-1, 0), PDF_FONT, 11),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F2F2F2")),
            ]
        )
    )
    story = [
        Paragraph(f"{content.issuer}文件", styles["header"]),
        Spacer(1, 6 * mm),
        Paragraph(content.document_number, styles["number"]),
        _RedRule(doc.width),
        Spacer(1, 8 * mm),
        Paragraph(content.title, styles["title"]),
        Spacer(1, 6 * mm),
        Paragraph("各科室、各有关企业：", styles["body_left"]),
        Paragraph(content.body, styles["body"]),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 10 * mm),
        _Seal(doc.width),
        Paragraph(content.issuer, styles["sign"]),
        Paragraph(_date_zh(content.issued_on), styles["sign"]),
    ]
    doc.build(story)
    return buffer.getvalue()


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=PDF_FONT, fontSize=14, leading=24)
    return {
        "header": ParagraphStyle(
            "header", base, fontSize=30, leading=38, textColor=PDF_RED, alignment=TA_CENTER
        ),
        "number": ParagraphStyle("number", base, fontSize=14, alignment=TA_CENTER),
        "title": ParagraphStyle("title", base, fontSize=20, leading=30, alignment=TA_CENTER),
        "body_left": base,
        "body": ParagraphStyle("body", base, firstLineIndent=28, alignment=TA_JUSTIFY),
        "cell": ParagraphStyle("cell", base, fontSize=10, leading=13, alignment=TA_CENTER),
        "sign": ParagraphStyle("sign", base, alignment=TA_RIGHT),
    }


DOCX_RED = RGBColor(0xD4, 0x00, 0x00)
DOCX_FONT = "宋体"


def render_docx_v1(content: NoticeContent) -> bytes:
    """The DOCX exactly as layout 1 rendered it (US Letter, a row of ━ for the rule)."""
    doc = Document()
    _paragraph(doc, f"{content.issuer}文件", 30, DOCX_RED, WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, content.document_number, 14, None, WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, "━" * 26, 12, DOCX_RED, WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, content.title, 20, None, WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, "各科室、各有关企业：", 14, None, WD_ALIGN_PARAGRAPH.LEFT)
    _paragraph(doc, "　　" + content.body, 14, None, WD_ALIGN_PARAGRAPH.JUSTIFY)
    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(
        table.rows[0].cells, ["序号", "企业名称", "统一社会信用代码", "专责店小二", "职务"], strict=True
    ):
        cell.text = text
    for i, row in enumerate(content.rows, start=1):
        cells = table.add_row().cells
        for cell, text in zip(
            cells, [str(i), row.enterprise, row.credit_code, row.concierge, row.post], strict=True
        ):
            cell.text = text
    _paragraph(doc, "（盖章处）", 12, DOCX_RED, WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(doc, content.issuer, 14, None, WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(doc, _date_zh(content.issued_on), 14, None, WD_ALIGN_PARAGRAPH.RIGHT)
    issued = datetime(content.issued_on.year, content.issued_on.month, content.issued_on.day)
    props = doc.core_properties
    props.title, props.author, props.subject = content.title, content.issuer, content.document_number
    props.created = props.modified = issued
    props.last_modified_by, props.revision = content.issuer, 1
    raw = io.BytesIO()
    doc.save(raw)
    return with_fixed_zip_times(raw.getvalue())


def _paragraph(doc: Any, text: str, size: int, color: RGBColor | None, align: int) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = align
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.name = DOCX_FONT
    run._element.rPr.rFonts.set(qn("w:eastAsia"), DOCX_FONT)  # python-docx sets only the Latin font name
    if color is not None:
        run.font.color.rgb = color
