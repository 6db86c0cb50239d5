"""The list of a bureau's arrears: filters, overdue as of today, order and pages, refusals of bad filters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from services.disbursement.application.queries import arrears_query, arrears_summary, list_arrears
from services.disbursement.bootstrap import Overrides, build_app
from services.disbursement.domain.arrears import Arrears, record_arrears
from services.disbursement.projections.store import LIVE
from services.disbursement.projections.views import arrears_view
from services.disbursement.settings import DisbursementSettings
from shared.auth.keys import Role
from shared.contracts.disbursement import OpenArrearsRequest, RepaymentReport
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.seed import default_calendar
from tests.fakes import FakeApiKeys
from tests.support import credit_code
from tests.unit.test_disbursement_http import Bureaus

TODAY = date(2026, 12, 31)
VALID = credit_code(5)
MISTYPED = VALID[:-1] + ("1" if VALID[-1] == "0" else "0")  # the check character no longer fits


def view(
    arrears_id: str, delivered_on: date, *, bureau: str = "finance", repaid: str | None = None, n: int = 2
) -> dict[str, Any]:
    request = OpenArrearsRequest.model_validate(
        {
            "enterprise": {"name": f"测试企业{n}有限公司", "credit_code": credit_code(n)},
            "debtor": "高新区建设局",
            "purpose": "运维服务",
            "amount_owed": "1000.00",
            "delivered_on": delivered_on,
        }
    )
    a = Arrears(record_arrears(arrears_id, request, today=TODAY, calendar=default_calendar()))
    if repaid:
        for event in a.repay(RepaymentReport(amount=repaid, repaid_on=delivered_on), TODAY):
            a.apply(event, a.version + 1)
    return arrears_view(a, bureau)


class Cursor:
    """Just what list_arrears asks of a cursor."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self._docs = docs

    def sort(self, keys: list[tuple[str, int]]) -> Cursor:
        for key, direction in reversed(keys):
            self._docs.sort(key=lambda d, k=key: d[k], reverse=direction < 0)  # type: ignore[misc]
        return self

    def skip(self, n: int) -> Cursor:
        return Cursor(self._docs[n:])

    def limit(self, n: int) -> Cursor:
        return Cursor(self._docs[:n])

    async def to_list(self) -> list[dict[str, Any]]:
        return self._docs


OPERATORS = {"$lt": lambda v, b: v < b, "$gte": lambda v, b: v >= b}


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, wanted in query.items():
        if key == "$or":
            if not any(matches(doc, q) for q in wanted):
                return False
            continue
        value: Any = doc
        for part in key.split("."):
            value = value[part]
        if isinstance(wanted, dict):
            if not all(OPERATORS[op](value, bound) for op, bound in wanted.items()):
                return False
        elif value != wanted:
            return False
    return True


class Views:
    """An arrears_views collection over a list (the query language list_arrears uses, nothing more)."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    async def count_documents(self, query: dict[str, Any]) -> int:
        return len([d for d in self.docs if matches(d, query)])

    def find(self, query: dict[str, Any]) -> Cursor:
        return Cursor([d for d in self.docs if matches(d, query)])


# Due (moved off days off): a 2026-09-30, b 2026-11-02, c 2026-12-01 (settled), d 2027-01-04, e of another bureau.
VIEWS = [
    view("d", date(2026, 12, 4)),
    view("c", date(2026, 11, 1), repaid="1000.00"),
    view("b", date(2026, 10, 2), n=3),
    view("a", date(2026, 8, 31)),
    view("e", date(2026, 8, 31), bureau="innovation"),
]


async def listed(**filters: Any) -> list[str]:
    db: Any = {LIVE.arrears: Views(list(VIEWS))}
    options = {"enterprise": None, "open_": None, "overdue": None, "limit": 50, "offset": 0, **filters}
    page = await list_arrears(db, LIVE, "finance", today=TODAY, **options)
    assert page.total >= len(page.items)
    return [item.arrears_id for item in page.items]


async def test_the_list_holds_only_the_bureaus_arrears_overdue_first_by_due_date_then_settled_ones() -> None:
    assert [v["due_on"] for v in VIEWS[:4]] == ["2027-01-04", "2026-12-01", "2026-11-02", "2026-09-30"]
    assert await listed() == ["a", "b", "d", "c"]
    assert await listed(limit=2, offset=1) == ["b", "d"]


async def test_the_filters_overdue_open_and_enterprise_combine() -> None:
    assert await listed(overdue=True) == ["a", "b"]
    assert await listed(overdue=False) == ["d", "c"]
    assert await listed(open_=True) == ["a", "b", "d"]
    assert await listed(open_=False) == ["c"]
    assert await listed(open_=True, overdue=False) == ["d"]
    assert await listed(open_=False, overdue=True) == []
    assert await listed(enterprise=credit_code(3)) == ["b"]


def test_settled_arrears_asked_for_as_overdue_match_nothing_without_a_read() -> None:
    assert arrears_query("finance", enterprise=None, open_=False, overdue=True, today=TODAY) is None


def test_overdue_is_counted_as_of_today_not_as_when_the_view_was_written() -> None:
    written = view("x", date(2026, 10, 28))  # due Friday 2026-11-27, written long before
    assert not arrears_summary(written, date(2026, 11, 27)).overdue
    late = arrears_summary(written, date(2026, 11, 30))
    assert (late.overdue, late.overdue_days, late.outstanding) == (True, 3, 1000)
    settled = arrears_summary(view("y", date(2026, 10, 28), repaid="1000.00"), TODAY)
    assert (settled.open, settled.overdue, settled.overdue_days, settled.settled_on) == (
        False,
        False,
        0,
        date(2026, 10, 28),
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"admin": ("finance", Role.ADMIN)})
    db: Any = None  # every request below is refused before any read
    overrides = Overrides(recorder=InMemoryRecorder(), api_keys=keys, db=db, bureaus=Bureaus())
    app = build_app(DisbursementSettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


@pytest.mark.parametrize(
    "wrong",
    [
        {"overdue": "yes"},
        {"open": "1"},
        {"enterprise": MISTYPED},
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"offset": 100001},
        {"stauts": "open"},
    ],
    ids=str,
)
async def test_a_bad_filter_or_page_is_422_naming_it(
    client: httpx.AsyncClient, wrong: dict[str, Any]
) -> None:
    answer = await client.get("/api/v1/arrears", params=wrong, headers={"Authorization": "Bearer admin"})
    assert answer.status_code == 422 and next(iter(wrong)) in answer.text, answer.text
