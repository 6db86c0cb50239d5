"""The DOCX notice: A4 with the GB/T 9704-2012 margins and grid, a drawn red rule, and byte-for-byte repeats."""

import io
from datetime import date

import pytest
from docx import Document
from docx.oxml.ns import qn

from services.assignment.notice.content import NoticeContent, Row
from services.assignment.notice.docx import render_docx
from services.assignment.notice.geometry import CELL_PADDING, MM, SIZE_SMALL_4, TYPE_WIDTH
from services.assignment.notice.typeface import text_width

CONTENT = NoticeContent(
    "财政金融局",
    "高新财金〔2026〕8号",
    "关于公布“专责店小二”企业服务安排的通知",
    date(2026, 11, 27),
    (
        Row("格力电器(郑州)有限公司", "91350100M000100Y43", "周建华", "党支部副书记"),
        Row("郑州宇通客车股份有限公司高新区分公司", "91410100MA3X4K1B2C", "吴科长", "科室长"),
    ),
)


@pytest.fixture(scope="module")
def document() -> object:
    return Document(io.BytesIO(render_docx(CONTENT)))


def test_given_a_notice_when_rendered_then_the_page_is_a4_with_the_standard_margins(document: object) -> None:
    section = document.sections[0]  # type: ignore[attr-defined]

    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert round(section.top_margin.mm) == 37 and round(section.left_margin.mm) == 28
    assert round(section.page_width.mm - section.left_margin.mm - section.right_margin.mm) == 156
    assert round(section.page_height.mm - section.top_margin.mm - section.bottom_margin.mm) == 225
    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "linesAndChars"
    assert round(225 * MM / (int(grid.get(qn("w:linePitch"))) / 20)) == 22  # 22 lines a page
    pitch = 16 + int(grid.get(qn("w:charSpace"))) / 4096
    assert round(TYPE_WIDTH / pitch) == 28  # 28 characters a line


def test_given_a_notice_when_rendered_then_the_red_rule_is_a_border_under_the_number(
    document: object,
) -> None:
    paragraphs = document.paragraphs  # type: ignore[attr-defined]
    texts = [p.text for p in paragraphs]
    number = paragraphs[texts.index(CONTENT.document_number)]
    border = number._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))

    assert border.get(qn("w:val")) == "single" and border.get(qn("w:color")) == "E60012"
    assert not any("━" in text for text in texts)
    mark = paragraphs[texts.index("财政金融局文件")]
    assert str(mark.runs[0].font.color.rgb) == "E60012"


def test_given_a_notice_when_rendered_then_body_is_indented_two_characters_and_dated_in_arabic_numerals(
    document: object,
) -> None:
    paragraphs = document.paragraphs  # type: ignore[attr-defined]
    body = next(p for p in paragraphs if p.text.startswith("根据"))
    texts = [p.text for p in paragraphs]

    assert body.paragraph_format.element.pPr.ind.get(qn("w:firstLineChars")) == "200"
    assert "各科室、各有关企业：" in texts
    assert "2026年11月27日" in texts and not any("二〇" in t for t in texts)
    assert texts.index("财政金融局") == texts.index("2026年11月27日") - 1  # signature right over the date


def test_given_a_notice_when_rendered_twice_then_the_bytes_are_identical() -> None:
    assert render_docx(CONTENT) == render_docx(CONTENT)


def test_given_long_posts_when_tabled_then_the_table_fills_the_type_area_and_every_text_fits_its_cell(
    document: object,
) -> None:
    table = document.tables[0]  # type: ignore[attr-defined]
    margins = table._tbl.tblPr.find(qn("w:tblCellMar"))
    assert margins.find(qn("w:left")).get(qn("w:w")) == str(round(CELL_PADDING * 20))
    widths = [column.width for column in table.columns]

    assert abs(sum(w.pt for w in widths) - TYPE_WIDTH) < 1
    for row in table.rows:
        for column, (cell, width) in enumerate(zip(row.cells, widths, strict=True)):
            assert cell.width == width
            if column == 1:
                continue  # the enterprise column takes what is left and wraps
            assert text_width(cell.text, SIZE_SMALL_4) <= width.pt - 2 * CELL_PADDING
    assert table.rows[1].cells[4].text == "党支部副书记"
