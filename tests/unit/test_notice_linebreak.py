"""Chinese line breaking (禁则) of the notice: no closing mark starts a line, no opening mark ends one."""

from services.assignment.notice.geometry import CHARS_PER_LINE, PITCH, TYPE_WIDTH
from services.assignment.notice.linebreak import break_lines, violations
from services.assignment.notice.pdf_flowables import CjkText


def one_per_character(text: str) -> float:
    return float(len(text))


def test_given_a_comma_at_a_line_start_when_broken_then_the_character_before_it_moves_down_too() -> None:
    lines = break_lines("一二三四五，六七八", 5, one_per_character)

    assert lines == ["一二三四", "五，六七八"]
    assert violations(lines) == []


def test_given_closing_quote_and_full_stop_together_when_broken_then_neither_starts_a_line() -> None:
    lines = break_lines("一二三四“五”。六七", 5, one_per_character)

    assert all(not line.startswith(("”", "。")) for line in lines)
    assert "".join(lines) == "一二三四“五”。六七"


def test_given_an_opening_bracket_at_a_line_end_when_broken_then_it_moves_to_the_next_line() -> None:
    lines = break_lines("一二三四《五六》七", 5, one_per_character)

    assert lines == ["一二三四", "《五六》七"]


def test_given_a_latin_word_when_broken_then_it_stays_whole_on_one_line() -> None:
    lines = break_lines("一二三四五六ABC123七", 8, one_per_character)

    assert lines == ["一二三四五六", "ABC123七"]


def test_given_a_word_wider_than_a_line_when_broken_then_it_is_split_by_character() -> None:
    lines = break_lines("ABCDEFGHIJ", 4, one_per_character)

    assert lines == ["ABCD", "EFGH", "IJ"]


def test_given_the_body_when_laid_out_with_the_embedded_font_then_a_comma_never_starts_a_line() -> None:
    # 2 characters of indent + 26 = the first line's 28 cells; the 27th character is a comma.
    text = "根" * 26 + "，" + "据" * 27 + "。" + "完"
    paragraph = CjkText(text, indent_chars=2, pitch=PITCH)

    paragraph.wrap(TYPE_WIDTH, 1000)

    assert paragraph.lines[0] == "根" * 25
    assert paragraph.lines[1].startswith("根，")
    assert violations(paragraph.lines) == []
    assert all(len(line) <= CHARS_PER_LINE for line in paragraph.lines)


def test_given_pure_hanzi_when_laid_out_then_a_full_line_holds_28_characters() -> None:
    paragraph = CjkText("字" * 60, pitch=PITCH)

    paragraph.wrap(TYPE_WIDTH, 1000)

    assert [len(line) for line in paragraph.lines] == [28, 28, 4]
