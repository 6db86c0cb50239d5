"""The notice as PDF, in the red-header layout, with reportlab's built-in CJK font (nothing to install)."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.assignment.notice.content import NoticeContent

FONT = "STSong-Light"  # Adobe's Song (宋体) CID font: every PDF reader provides it
RED = colors.HexColor("#D40000")


class RedRule(Flowable):
    """The red line under the header (红线)."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width, self.height = width, 3 * mm

    def draw(self) -> None:
        """Draw a thick red line."""
        self.canv.setStrokeColor(RED)
        self.canv.setLineWidth(1.6)
        self.canv.line(0, self.height / 2, self.width, self.height / 2)


class Seal(Flowable):
    """Where the bureau's seal goes (印章处): a red circle over the signature, with a note, not a seal."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width, self.height = width, 2 * mm

    def draw(self) -> None:
        """Draw the placeholder circle so that it overlaps the issuer and date below, as a seal does."""
        c = self.canv
        x, y = self.width - 30 * mm, -12 * mm
        c.setStrokeColor(RED)
        c.setLineWidth(1.2)
        c.circle(x, y, 20 * mm)
        c.setFillColor(RED)
        c.setFont(FONT, 9)
        c.drawCentredString(x, y + 12 * mm, "（盖章处）")


def render_pdf(content: NoticeContent) -> bytes:
    """Return the PDF bytes; the same content always gives the same bytes."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
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
                ("FONT", (0, 0), (-1, -1), FONT, 10),
                ("FONT", (0, 0), (-1, 0), FONT, 11),
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
        RedRule(doc.width),
        Spacer(1, 8 * mm),
        Paragraph(content.title, styles["title"]),
        Spacer(1, 6 * mm),
        Paragraph("各科室、各有关企业：", styles["body_left"]),
        Paragraph(content.body, styles["body"]),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 10 * mm),
        Seal(doc.width),
        Paragraph(content.issuer, styles["sign"]),
        Paragraph(content.date_zh, styles["sign"]),
    ]
    doc.build(story)
    return buffer.getvalue()


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=14, leading=24)
    return {
        "header": ParagraphStyle("header", base, fontSize=30, leading=38, textColor=RED, alignment=TA_CENTER),
        "number": ParagraphStyle("number", base, fontSize=14, alignment=TA_CENTER),
        "title": ParagraphStyle("title", base, fontSize=20, leading=30, alignment=TA_CENTER),
        "body_left": base,
        "body": ParagraphStyle("body", base, firstLineIndent=28, alignment=TA_JUSTIFY),
        "cell": ParagraphStyle("cell", base, fontSize=10, leading=13, alignment=TA_CENTER),
        "sign": ParagraphStyle("sign", base, alignment=TA_RIGHT),
    }
