"""What an official notice (红头文件) of the current assignments says, derived from the board alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.assignment.domain.board import AssignmentBoard
from shared.contracts.assignment import Post

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
DIGITS_ZH = "〇一二三四五六七八九"
DEFAULT_TITLE = "关于公布“专责店小二”企业服务安排的通知"


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

    @property
    def body(self) -> str:
        """The body paragraph."""
        return (
            "根据“专责店小二”制度，针对存在遗留问题或提出问题的企业，我局安排管理岗人员作为“专责店小二”，"
            f"提供全程服务，协调各个环节，直至问题解决。经局党支部研究，现将{len(self.rows)}家企业的服务安排公布如下。"
        )

    @property
    def date_zh(self) -> str:
        """The issue date written the customary way, e.g. 二〇二六年十一月二十五日."""
        year = "".join(DIGITS_ZH[int(d)] for d in str(self.issued_on.year))
        return f"{year}年{_number_zh(self.issued_on.month)}月{_number_zh(self.issued_on.day)}日"


def notice_from_board(
    board: AssignmentBoard, issuer: str, number: str, title: str, issued_on: date
) -> NoticeContent:
    """List every enterprise served now, with its concierge, ordered by enterprise name."""
    rows = []
    for file in board.files.values():
        if file.staff_id is None:
            continue
        person = board.staff[file.staff_id]
        rows.append(Row(file.enterprise.name, file.enterprise.credit_code, person.name, POST_ZH[person.post]))
    rows.sort(key=lambda r: (r.enterprise, r.credit_code))
    return NoticeContent(issuer, number, title, issued_on, tuple(rows))


def _number_zh(n: int) -> str:
    if n < 10:
        return DIGITS_ZH[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else DIGITS_ZH[tens]) + "十" + (DIGITS_ZH[ones] if ones else "")
