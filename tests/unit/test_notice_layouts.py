"""Notices published before the GB/T 9704 layout still regenerate byte for byte (their digests are recorded)."""

import hashlib
from datetime import date

import pytest

from services.assignment.notice.content import NoticeContent, Row
from services.assignment.notice.render import CURRENT_LAYOUT, render

CONTENT = NoticeContent(
    "财政金融局",
    "高新财金〔2026〕1号",
    "关于公布“专责店小二”企业服务安排的通知",
    date(2026, 11, 27),
    (
        Row("格力电器(郑州)有限公司", "91350100M000100Y43", "周建华", "党支部副书记"),
        Row("企业2", "91410100MA3X4K1B2C", "吴科长", "科室长"),
    ),
)
# SHA-256 of what the first version of the code (commit 16ad3eb) rendered for CONTENT. If these change, a library
# upgrade (reportlab, python-docx) changed the bytes and every published notice would fail its download check.
LAYOUT_1_PDF = "d700ca2e4661effed09ece85652b5df1bdef79058f96d1dc697cfd4ea6660c37"
LAYOUT_1_DOCX = "412164383e3beccf2c58cf886e082e7368d8599ad8060dbcd124ac21311179fa"
# The same for layout 2 at commit 9325e31, before the supplement font for rare name characters: a notice without
# them must keep its bytes (the supplement is a font of its own for that reason).
LAYOUT_2_PDF = "a647c005b717b0682268301d00159cee9dc8a7badb99abd6f4839d6df50966a2"
LAYOUT_2_DOCX = "d672df2793b5721540239c2c35a6670e88dfe6e173831289bdaf59b56c99e88a"


def test_given_a_notice_of_layout_1_when_regenerated_then_it_matches_the_digests_recorded_then() -> None:
    pdf, docx = render(CONTENT, layout=1)

    assert hashlib.sha256(pdf).hexdigest() == LAYOUT_1_PDF
    assert hashlib.sha256(docx).hexdigest() == LAYOUT_1_DOCX


def test_given_a_notice_of_layout_2_when_regenerated_then_it_matches_the_digests_recorded_then() -> None:
    pdf, docx = render(CONTENT, layout=2)

    assert hashlib.sha256(pdf).hexdigest() == LAYOUT_2_PDF
    assert hashlib.sha256(docx).hexdigest() == LAYOUT_2_DOCX


def test_given_a_new_notice_when_rendered_then_it_uses_the_current_layout() -> None:
    pdf, _ = render(CONTENT)

    assert CURRENT_LAYOUT == 2 and b"/FontFile2" in pdf
    assert render(CONTENT) == render(CONTENT, layout=CURRENT_LAYOUT)


def test_given_an_unknown_layout_when_rendering_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="layout 9"):
        render(CONTENT, layout=9)
