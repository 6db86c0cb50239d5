"""The notice as DOCX in the red-header layout; byte-for-byte reproducible."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

from services.assignment.notice.content import NoticeContent

RED = RGBColor(0xD4, 0x00, 0x00)
FONT = "宋体"
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def render_docx(content: NoticeContent) -> bytes:
    """Return the DOCX bytes; the same content always gives the same bytes."""
    doc = Document()
    _paragraph(doc, f"{content.issuer}文件", 30, RED, WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, content.document_number, 14, None, WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, "━" * 26, 12, RED, WD_ALIGN_PARAGRAPH.CENTER)
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
    _paragraph(doc, "（盖章处）", 12, RED, WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(doc, content.issuer, 14, None, WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(doc, content.date_zh, 14, None, WD_ALIGN_PARAGRAPH.RIGHT)
    issued = datetime(content.issued_on.year, content.issued_on.month, content.issued_on.day)
    props = doc.core_properties
    props.title, props.author, props.subject = content.title, content.issuer, content.document_number
    props.created = props.modified = issued
    props.last_modified_by, props.revision = content.issuer, 1
    raw = io.BytesIO()
    doc.save(raw)
    return _with_fixed_zip_times(raw.getvalue())


def _paragraph(doc: Any, text: str, size: int, color: RGBColor | None, align: int) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = align
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.name = FONT
    run._element.rPr.rFonts.set(qn("w:eastAsia"), FONT)  # python-docx sets only the Latin font name
    if color is not None:
        run.font.color.rgb = color


def _with_fixed_zip_times(data: bytes) -> bytes:
    # A .docx is a zip whose entries carry the time of writing; fix them so the bytes repeat.
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()
