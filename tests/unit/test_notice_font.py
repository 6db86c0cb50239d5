"""The committed notice font: open-licensed, small enough, and covering what Chinese notices print."""

import pytest

from services.assignment.notice.build_font import gb2312_characters
from services.assignment.notice.typeface import (
    FONT,
    FONT_FILE,
    SUPPLEMENT,
    SUPPLEMENT_FILE,
    UnprintableText,
    ensure_printable,
    runs,
    uncovered,
)


def test_the_committed_font_travels_with_its_licence_and_stays_under_12_mb() -> None:
    licence = (FONT_FILE.parent / "OFL.txt").read_text(encoding="utf-8")

    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert FONT_FILE.stat().st_size < 12 * 1024 * 1024
    assert SUPPLEMENT_FILE.stat().st_size < 5 * 1024 * 1024


def test_given_any_gb2312_character_or_common_punctuation_when_checked_then_the_font_draws_it() -> None:
    assert uncovered("".join(gb2312_characters())) == ""
    assert uncovered("ＡＢＣ１２３，。、；：？！（）《》「」『』【】〔〕“”‘’…—·%") == ""
    assert uncovered("堃喆犇珺玥昇镕") == ""  # name characters outside GB 2312 (in GBK / GB 18030)


def test_given_characters_outside_the_font_when_checked_then_each_is_named_once() -> None:
    assert uncovered("𠀾记𠀾公司\n") == "𠀾"
    with pytest.raises(UnprintableText) as refused:
        ensure_printable({"标题": "正常", "第2行": "𪚥公司"})
    assert refused.value.missing == {"第2行": "𪚥"}


def test_given_rare_name_characters_beyond_the_basic_block_when_checked_then_the_supplement_draws_them() -> (
    None
):
    # 䶮 and 㛃 (Extension A) are in real people's names; 𬌗 (Extension E, GB 18030), 﨑 (a compatibility form).
    assert uncovered("刘䶮 王㛃 𬌗 﨑") == ""


def test_given_text_with_rare_characters_when_split_then_only_they_use_the_supplement() -> None:
    assert list(runs("刘䶮记㛃㛃公司")) == [
        (FONT, "刘"),
        (SUPPLEMENT, "䶮"),
        (FONT, "记"),
        (SUPPLEMENT, "㛃㛃"),
        (FONT, "公司"),
    ]
    assert list(runs("周建华\n")) == [(FONT, "周建华\n")]
