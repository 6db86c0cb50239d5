"""The PDF notice: its font travels inside it, it follows GB/T 9704-2012, and it repeats byte for byte."""

import re
from datetime import date

import pypdfium2 as pdfium
import pytest

from services.assignment.notice.content import NoticeContent, Row
from services.assignment.notice.geometry import CELL_PADDING, LEFT, MM, PAGE_HEIGHT, TOP, TYPE_WIDTH
from services.assignment.notice.pdf import assignment_table, render_pdf
from services.assignment.notice.pdf_flowables import CjkText
from services.assignment.notice.typeface import UnprintableText

SCALE = 2.0  # pixels per point of the test renderings
ROWS = (
    Row("格力电器(郑州)有限公司", "91350100M000100Y43", "周建华", "党支部副书记"),
    Row("郑州宇通客车股份有限公司高新区分公司", "91410100MA3X4K1B2C", "吴科长", "科室长"),
)
CONTENT = NoticeContent(
    "财政金融局", "高新财金〔2026〕8号", "关于公布“专责店小二”企业服务安排的通知", date(2026, 11, 27), ROWS
)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(CONTENT)


@pytest.fixture(scope="module")
def page(pdf: bytes) -> pdfium.PdfPage:
    return pdfium.PdfDocument(pdf)[0]


def chars_of(page: pdfium.PdfPage) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Every drawn character with its box (left, bottom, right, top) in points."""
    text = page.get_textpage()
    return [(text.get_text_range(i, 1), text.get_charbox(i)) for i in range(text.count_chars())]


def box_of(page: pdfium.PdfPage, wanted: str) -> tuple[float, float, float, float]:
    text = page.get_textpage()
    whole = text.get_text_range()
    start = whole.index(wanted)
    boxes = [text.get_charbox(i, loose=True) for i in range(start, start + len(wanted))]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def pixels(page: pdfium.PdfPage, box: tuple[float, float, float, float]) -> list[bytes]:
    """Grey rows of the rendering inside a box given in PDF points."""
    bitmap = page.render(scale=SCALE, grayscale=True)
    data, stride = bytes(bitmap.buffer), bitmap.stride
    height = page.get_height()
    left, bottom, right, top = box
    x0, x1 = int(left * SCALE), int(right * SCALE) + 1
    y0, y1 = int((height - top) * SCALE), int((height - bottom) * SCALE) + 1
    return [data[y * stride + x0 : y * stride + x1] for y in range(y0, y1)]


def test_given_a_notice_when_rendered_then_every_font_is_embedded_and_none_is_a_reader_font(
    pdf: bytes,
) -> None:
    fonts = re.findall(rb"/BaseFont\s*/([^\s/>]+)", pdf)
    descriptors = re.findall(rb"/Type\s*/FontDescriptor", pdf)

    assert fonts and all(b"ConciergeSerifSC" in name for name in fonts)
    assert b"STSong" not in pdf and b"Helvetica" not in pdf
    assert len(re.findall(rb"/FontFile2", pdf)) == len(descriptors) > 0


def test_given_a_notice_when_drawn_then_the_title_region_has_ink_and_different_characters_look_different(
    page: pdfium.PdfPage,
) -> None:
    title = box_of(page, CONTENT.title)
    assert any(min(row) < 100 for row in pixels(page, title))
    # Tofu boxes are all alike: five different characters must give five different pictures.
    drawn = {c: box for c, box in chars_of(page) if c in "关于公布专"}
    glyphs = {c: b"".join(pixels(page, box)) for c, box in drawn.items()}
    assert len(glyphs) == 5 and len(set(glyphs.values())) == 5
    assert all(min(glyph) < 100 for glyph in glyphs.values())


def test_given_a_notice_when_rendered_twice_then_the_bytes_are_identical() -> None:
    assert render_pdf(CONTENT) == render_pdf(CONTENT)


def test_given_a_notice_when_laid_out_then_page_and_type_area_follow_gb_t_9704(page: pdfium.PdfPage) -> None:
    width, height = page.get_size()
    assert (round(width / MM), round(height / MM)) == (210, 297)
    body = box_of(page, "根据")
    addressee = box_of(page, "各科室")
    assert abs(addressee[0] - LEFT) < 1 * MM  # left margin 28 mm
    assert abs(body[0] - (LEFT + 2 * TYPE_WIDTH / 28)) < 1 * MM  # indented two characters
    mark = box_of(page, CONTENT.mark)
    assert abs((PAGE_HEIGHT - mark[3]) - (TOP + 35 * MM)) < 3 * MM  # mark 35 mm under the type area's top
    centre = LEFT + TYPE_WIDTH / 2  # of the type area (28 mm left, 26 mm right)
    assert abs((mark[0] + mark[2]) / 2 - centre) < 0.5 * MM
    number = box_of(page, CONTENT.document_number)
    assert abs((number[0] + number[2]) / 2 - centre) < 0.5 * MM and number[3] < mark[1]


def test_given_a_notice_when_drawn_then_the_mark_and_the_rule_under_the_number_are_red(
    page: pdfium.PdfPage,
) -> None:
    bitmap = page.render(scale=SCALE, rev_byteorder=True)  # RGB
    data, stride, channels = bytes(bitmap.buffer), bitmap.stride, bitmap.n_channels
    height = page.get_height()

    def red_pixels(left: float, bottom: float, right: float, top: float) -> int:
        count = 0
        for y in range(int((height - top) * SCALE), int((height - bottom) * SCALE) + 1):
            for x in range(int(left * SCALE), int(right * SCALE) + 1):
                r, g, b = data[y * stride + x * channels : y * stride + x * channels + 3]
                count += r > 180 and g < 90 and b < 90
        return count

    mark = box_of(page, CONTENT.mark)
    number = box_of(page, CONTENT.document_number)
    assert red_pixels(*mark) > 500
    assert red_pixels(*number) == 0
    rule_band = (LEFT, number[1] - 6 * MM, LEFT + TYPE_WIDTH, number[1] - 2 * MM)  # 4 mm under the number
    assert red_pixels(*rule_band) >= 0.9 * TYPE_WIDTH * SCALE  # a full-width red line


def test_given_a_notice_when_dated_then_the_date_is_in_arabic_numerals_without_leading_zeros(
    pdf: bytes,
) -> None:
    document = pdfium.PdfDocument(pdf)
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))

    assert "2026年11月27日" in text and "二〇" not in text


def test_given_a_name_outside_the_font_when_rendering_then_it_is_refused_naming_the_character() -> None:
    rare = NoticeContent(
        "财政金融局",
        "高新财金〔2026〕9号",
        "通知",
        date(2026, 11, 27),
        (Row("𠀾记有限公司", "X", "张三", "科室长"),),
    )

    with pytest.raises(UnprintableText) as refused:
        render_pdf(rare)

    assert "𠀾" in str(refused.value) and "第1行" in str(refused.value)


def test_given_names_with_rare_characters_when_rendered_then_they_are_drawn_in_place_from_the_supplement() -> (
    None
):
    rare = NoticeContent(
        "财政金融局",
        "高新财金〔2026〕9号",
        "通知",
        date(2026, 11, 27),
        (Row("㛃记科技有限公司", "91350100M000100Y43", "刘䶮", "科室长"),),
    )

    pdf = render_pdf(rare)

    fonts = set(re.findall(rb"/BaseFont\s*/([^\s/>]+)", pdf))
    assert any(b"ConciergeSerifSCSupplement" in name for name in fonts)
    assert len(re.findall(rb"/FontFile2", pdf)) == len(re.findall(rb"/Type\s*/FontDescriptor", pdf))
    page = pdfium.PdfDocument(pdf)[0]
    drawn = chars_of(page)
    text = "".join(char for char, _ in drawn)
    assert "㛃记科技有限公司" in text and "刘䶮" in text
    # In place: each rare character sits right of the one before it, on the same line, with ink in its box.
    for pair in ("刘䶮", "㛃记"):
        start = text.index(pair)
        (_, before), (_, rare_box) = drawn[start], drawn[start + 1]
        assert before[2] <= rare_box[0] and abs(before[1] - rare_box[1]) < 2
        assert any(min(row) < 100 for row in pixels(page, rare_box))


def test_given_a_notice_without_rare_characters_when_rendered_then_the_supplement_is_not_embedded(
    pdf: bytes,
) -> None:
    assert b"Supplement" not in pdf


def test_given_long_posts_and_names_when_tabled_then_no_cell_text_is_wider_than_its_cell() -> None:
    table = assignment_table(CONTENT)
    table.wrap(TYPE_WIDTH, 10_000)

    for row in table._cellvalues:
        for cells, width in zip(row, table._colWidths, strict=True):
            (cell,) = cells  # reportlab keeps each cell's flowables in a tuple
            assert isinstance(cell, CjkText)
            assert max(cell.measure(line) for line in cell.lines) <= width - 2 * CELL_PADDING + 1e-6
    posts = [row[4][0] for row in table._cellvalues[1:]]
    assert posts[0].lines == ["党支部副书记"]  # a post is never broken across lines
    assert abs(sum(table._colWidths) - TYPE_WIDTH) < 1e-6
