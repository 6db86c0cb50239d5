"""Document numbers (发文字号) and dates of the notice, as GB/T 9704-2012 writes them."""

from dataclasses import dataclass
from datetime import date

import pytest

from services.assignment.notice.content import (
    NoticeContent,
    NumberingRefused,
    default_number_prefix,
    format_date,
    next_document_number,
    parse_document_number,
)


@dataclass(frozen=True)
class Published:
    document_number: str
    issued_on: date


def test_given_no_notice_this_year_when_numbering_then_the_first_is_1_without_leading_zeros() -> None:
    last_year = [Published("高新财金〔2025〕7号", date(2025, 12, 30))]

    assert next_document_number(last_year, "高新财金", date(2026, 1, 5)) == "高新财金〔2026〕1号"


def test_given_notices_this_year_when_numbering_then_the_sequence_continues() -> None:
    published = [Published(f"高新财金〔2026〕{n}号", date(2026, 3, n)) for n in range(1, 10)]

    assert next_document_number(published, "高新财金", date(2026, 11, 27)) == "高新财金〔2026〕10号"


def test_given_another_bureaus_prefix_when_numbering_then_each_prefix_counts_on_its_own() -> None:
    published = [
        Published("高新创新〔2026〕4号", date(2026, 5, 1)),
        Published("高新财金〔2026〕1号", date(2026, 2, 1)),
    ]

    assert next_document_number(published, "高新财金", date(2026, 6, 1)) == "高新财金〔2026〕2号"
    assert next_document_number(published, "高新创新", date(2026, 6, 1)) == "高新创新〔2026〕5号"


def test_given_a_later_notice_when_a_backdated_one_is_numbered_then_it_is_refused() -> None:
    published = [Published("高新财金〔2026〕8号", date(2026, 11, 20))]

    with pytest.raises(NumberingRefused, match="高新财金〔2026〕8号"):
        next_document_number(published, "高新财金", date(2026, 11, 10))
    assert next_document_number(published, "高新财金", date(2026, 11, 20)) == "高新财金〔2026〕9号"


def test_given_a_prefix_with_brackets_or_digits_when_numbering_then_it_is_refused() -> None:
    with pytest.raises(NumberingRefused):
        next_document_number([], "高新〔财金〕", date(2026, 1, 1))
    with pytest.raises(NumberingRefused):
        next_document_number([], "", date(2026, 1, 1))


def test_given_a_document_number_when_parsed_then_prefix_year_and_sequence_come_back() -> None:
    assert parse_document_number("高新财金〔2026〕8号") == ("高新财金", 2026, 8)
    assert parse_document_number("高新财金〔2026〕08号") is None
    assert parse_document_number("高新财金[2026]8号") is None


def test_given_a_bureau_when_its_prefix_is_derived_then_it_is_the_zone_and_the_bureau_abbreviation() -> None:
    assert default_number_prefix("财政金融局") == "高新财金"
    assert default_number_prefix("创新发展局") == "高新创新"
    assert default_number_prefix("规划建设局") == "高新规建"


def test_given_a_date_when_printed_then_it_uses_arabic_numerals_the_full_year_and_no_leading_zeros() -> None:
    assert format_date(date(2026, 1, 5)) == "2026年1月5日"
    content = NoticeContent("财政金融局", "高新财金〔2026〕8号", "通知", date(2026, 11, 27), ())
    assert content.date_text == "2026年11月27日"
    assert content.mark == "财政金融局文件"
