"""The notice's table lists enterprises as a reader counts (2号 before 10号)."""

from __future__ import annotations

from services.assignment.notice.content import _numbers_as_numbers

NAMES = ["测试企业10号", "测试企业2号", "测试企业1号", "测试企业12号"]


def test_enterprises_with_numbers_in_their_names_are_listed_by_the_numbers_value() -> None:
    assert sorted(NAMES, key=_numbers_as_numbers) == [
        "测试企业1号",
        "测试企业2号",
        "测试企业10号",
        "测试企业12号",
    ]


def test_digits_other_than_ascii_ones_are_text_and_never_stop_a_notice() -> None:
    names = ["企业3①", "企业²", "企业10", "企业3"]
    assert sorted(names, key=_numbers_as_numbers) == ["企业3", "企业3①", "企业10", "企业²"]
