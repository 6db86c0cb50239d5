"""The committed notice font: open-licensed, small enough, and covering what Chinese notices print."""

import pytest

from services.assignment.notice.build_font import gb2312_characters
from services.assignment.notice.typeface import FONT_FILE, UnprintableText, ensure_printable, uncovered


def test_the_committed_font_travels_with_its_licence_and_stays_under_12_mb() -> None:
    licence = (FONT_FILE.parent / "OFL.txt").read_text(encoding="utf-8")

    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert FONT_FILE.stat().st_size < 12 * 1024 * 1024


def test_given_any_gb2312_character_or_common_punctuation_when_checked_then_the_font_draws_it() -> None:
    assert uncovered("".join(gb2312_characters())) == ""
    assert uncovered("ＡＢＣ１２３，。、；：？！（）《》「」『』【】〔〕“”‘’…—·%") == ""
    assert uncovered("堃喆犇珺玥昇镕") == ""  # name characters outside GB 2312 (in GBK / GB 18030)


def test_given_characters_outside_the_font_when_checked_then_each_is_named_once() -> None:
    assert uncovered("𠀾记𠀾公司\n") == "𠀾"
    with pytest.raises(UnprintableText) as refused:
        ensure_printable({"标题": "正常", "第2行": "𪚥公司"})
    assert refused.value.missing == {"第2行": "𪚥"}
