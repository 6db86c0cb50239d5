"""What an official notice (红头文件) of the current assignments says, derived from the board alone.

Also the pure rules of its document number (发文字号, GB/T 9704-2012 §7.2.4): `机关代字〔年份〕序号号`, numbered
per 机关代字 per year of the issue date, no leading zeros, never backdated out of order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from services.assignment.domain.board import AssignmentBoard
from shared.contracts.assignment import Post
from shared.workdays.calendar import SHANGHAI

POST_ZH = {
    Post.DIRECTOR: "局长",
    Post.PARTY_SECRETARY: "党支部书记",
    Post.DEPUTY_DIRECTOR: "副局长",
    Post.DEPUTY_SECRETARY: "党支部副书记",
    Post.SECTION_CHIEF: "科室长",
    Post.EXPERIENCED_STAFF: "业务骨干",
    Post.SERVICE_MODEL: "服务模范",
    Post.CLERK: "经办人员",
}
_DIGIT_RUNS = re.compile(r"([0-9]+)")
DEFAULT_TITLE = "关于公布“专责店小二”企业服务安排的通知"
DEFAULT_ADDRESSEE = "各科室、各有关企业"
TABLE_HEADER = ("序号", "企业名称", "统一社会信用代码", "专责店小二", "职务")
ZONE_ABBREVIATION = "高新"
# A bureau's abbreviation (机关代字 after the zone's) where the usual one is not derivable from its name.
KNOWN_ABBREVIATIONS = {"财政金融局": "财金", "创新发展局": "创新"}
# 机关代字: hanzi only, so that 〔year〕 and the number stay apart.
PREFIX_PATTERN = r"^[\u4e00-\u9fff]{1,12}$"
_NUMBER = re.compile(r"^(?P<prefix>.+)〔(?P<year>\d{4})〕(?P<sequence>[1-9]\d*)号$")


@dataclass(frozen=True)
class Row:
    """One line of the table: an enterprise and its concierge."""

    enterprise: str
    credit_code: str
    concierge: str
    post: str


@dataclass(frozen=True)
class NoticeContent:
    """Everything printed on the notice; the same content always renders the same bytes."""

    issuer: str
    document_number: str
    title: str
    issued_on: date
    rows: tuple[Row, ...]
    addressee: str = DEFAULT_ADDRESSEE

    @property
    def mark(self) -> str:
        """The issuing authority's mark (发文机关标志), e.g. 财政金融局文件."""
        return f"{self.issuer}文件"

    @property
    def body(self) -> str:
        """The body paragraph."""
        # Its words are part of every published notice's bytes (downloads regenerate them): a change needs a
        # new layout (render.py). The table's 职务 column says who serves under a fallback approval.
        return (
            "根据“专责店小二”制度，针对存在遗留问题或提出问题的企业，我局安排管理岗人员作为“专责店小二”，"
            f"提供全程服务，协调各个环节，直至问题解决。经局党支部研究，现将{len(self.rows)}家企业的服务安排公布如下。"
        )

    @property
    def date_text(self) -> str:
        """The date as GB/T 9704-2012 writes it: Arabic numerals, full year, no leading zeros (2026年11月27日)."""
        return format_date(self.issued_on)

    def printed_fields(self) -> dict[str, str]:
        """Every piece of text the notice prints, labelled for error messages."""
        fields = {
            "发文机关": self.issuer,
            "发文字号": self.document_number,
            "标题": self.title,
            "主送机关": self.addressee,
        }
        for i, row in enumerate(self.rows, start=1):
            fields[f"第{i}行"] = " ".join((row.enterprise, row.credit_code, row.concierge, row.post))
        return fields


def notice_from_board(
    board: AssignmentBoard,
    issuer: str,
    number: str,
    title: str,
    issued_on: date,
    numbers_by_value: bool = True,
) -> NoticeContent:
    """List every enterprise served now, with its concierge, ordered by enterprise name (2号 before 10号; a
    notice published before its rows were recorded keeps the plain text order it was published with)."""
    rows = []
    for file in board.files.values():
        if file.staff_id is None:
            continue
        person = board.staff[file.staff_id]
        rows.append(Row(file.enterprise.name, file.enterprise.credit_code, person.name, POST_ZH[person.post]))
    if numbers_by_value:
        rows.sort(key=lambda r: (_numbers_as_numbers(r.enterprise), r.credit_code))
    else:
        rows.sort(key=lambda r: (r.enterprise, r.credit_code))
    return NoticeContent(issuer, number, title, issued_on, tuple(rows))


def _numbers_as_numbers(name: str) -> tuple[tuple[int, str, int], ...]:
    # 测试企业2号 before 测试企业10号, as a reader counts: runs of digits compare by their value.
    parts = _DIGIT_RUNS.split(name)  # odd places hold the ASCII digit runs (① or ² stay text)
    return tuple((1, "", int(part)) if i % 2 else (0, part, 0) for i, part in enumerate(parts) if part)


def a_notice_is_not_dated_before_an_assignment_it_lists(board: AssignmentBoard, issued_on: date) -> None:
    """Refuse (NumberingRefused) a 成文日期 earlier than an assignment the table lists (Asia/Shanghai)."""
    # A backdated notice would publish, as decided on its date, assignments made only since.
    listed = [f.assigned_at for f in board.files.values() if f.staff_id is not None and f.assigned_at]
    if listed and issued_on < (day := max(listed).astimezone(SHANGHAI).date()):
        raise NumberingRefused(
            f"公文列出的指派有 {format_date(day)} 作出的，成文日期不能早于该日 / the notice lists an assignment "
            f"made on {day.isoformat()}: it cannot be dated {issued_on.isoformat()}, before that"
        )


def format_date(day: date) -> str:
    """Write a date the GB/T 9704-2012 way, e.g. 2026年11月27日 (no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"


# ---- document numbers ----------------------------------------------------------------------------
class NumberingRefused(ValueError):
    """A document number cannot be given: the issue date would break the year's sequence."""


class Numbered(Protocol):
    """A published notice as far as numbering cares (NoticePublished has these fields)."""

    @property
    def document_number(self) -> str: ...

    @property
    def issued_on(self) -> date: ...


def format_document_number(prefix: str, year: int, sequence: int) -> str:
    """Write a document number, e.g. 高新财金〔2026〕8号 (六角括号, no 第, no leading zeros)."""
    return f"{prefix}〔{year}〕{sequence}号"


def parse_document_number(number: str) -> tuple[str, int, int] | None:
    """Split 高新财金〔2026〕8号 into (prefix, year, sequence); None when it is not one."""
    match = _NUMBER.match(number)
    if match is None:
        return None
    return match["prefix"], int(match["year"]), int(match["sequence"])


def next_document_number(published: Iterable[Numbered], prefix: str, issued_on: date) -> str:
    """The next number of `prefix` in the year of `issued_on`; refuse a date before the last one of that year."""
    if not re.match(PREFIX_PATTERN, prefix):
        raise NumberingRefused(f"机关代字只能由汉字组成 / the prefix must be hanzi only: {prefix!r}")
    year = issued_on.year
    last_sequence, last = 0, None
    for notice in published:
        parsed = parse_document_number(notice.document_number)
        if parsed is None or parsed[0] != prefix or parsed[1] != year:
            continue
        if parsed[2] > last_sequence:
            last_sequence, last = parsed[2], notice
    if last is not None and issued_on < last.issued_on:
        raise NumberingRefused(
            f"{last.document_number} 的成文日期为 {format_date(last.issued_on)}，"
            f"{format_date(issued_on)} 的公文不能排在其后 / a notice dated {issued_on.isoformat()} "
            f"would be numbered after one dated {last.issued_on.isoformat()}"
        )
    return format_document_number(prefix, year, last_sequence + 1)


def default_number_prefix(issuer: str) -> str:
    """The zone's 机关代字 for a bureau, e.g. 财政金融局 -> 高新财金, 创新发展局 -> 高新创新."""
    abbreviation = KNOWN_ABBREVIATIONS.get(issuer)
    if abbreviation is None:
        core = re.sub(r"(局|委员会|办公室|中心)$", "", issuer)
        core = "".join(c for c in core if "\u4e00" <= c <= "\u9fff")
        # The usual short form takes the first character of each two-character word: 财政金融 -> 财金.
        abbreviation = core if len(core) <= 2 else core[::2]
    return f"{ZONE_ABBREVIATION}{abbreviation}"
