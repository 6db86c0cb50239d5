"""GET /api/v1/cases… on the case query app with fakes: bounds, odd ids, odd moments, non-case streams,
filters refused with a reason, the story on the case, and every time in +08:00."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.bootstrap import Overrides, build_app
from services.casequery.projections.case_view import View, fold_all
from services.casequery.projections.story import Board, Story, fold_board, fold_story, queue_place
from services.casequery.settings import CaseQuerySettings
from services.intake.domain.case import open_case
from shared.auth.keys import Role
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import NewEvent, Recording
from tests.fakes import FakeApiKeys
from tests.support import case_body

FINANCE = {"Authorization": "Bearer finance-key"}


class FakeViews:
    """The few reads the query use cases make of the case view collection, on a list of documents."""

    def __init__(self) -> None:
        self.docs: list[View] = []
        self._skip, self._limit = 0, 0

    def _matching(self, query: dict[str, Any]) -> list[View]:
        return [d for d in self.docs if all(d.get(k) == v for k, v in query.items())]

    async def find_one(self, query: dict[str, Any]) -> View | None:
        """Return the first matching document."""
        return next(iter(self._matching(query)), None)

    async def count_documents(self, query: dict[str, Any]) -> int:
        """Count matching documents."""
        return len(self._matching(query))

    def find(self, query: dict[str, Any]) -> FakeViews:
        """Start a cursor (sort, skip and limit chain on it)."""
        self._found = self._matching(query)
        return self

    def sort(self, _keys: object) -> FakeViews:
        return self

    def skip(self, n: int) -> FakeViews:
        self._skip = n
        return self

    def limit(self, n: int) -> FakeViews:
        self._limit = n
        return self

    async def __aiter__(self) -> AsyncIterator[View]:
        for doc in self._found[self._skip : self._skip + self._limit]:
            yield doc


class InMemoryStories:
    """The case stories and board states, folded in memory from board events as the consumer would."""

    def __init__(self) -> None:
        self.stories: dict[str, Story] = {}
        self.boards: dict[str, Board] = {}

    def fold(self, envelope: EventEnvelope) -> None:
        """Fold one board event."""
        board, notes = fold_board(self.boards.get(envelope.bureau), envelope)
        self.boards[envelope.bureau] = board
        for note in notes:
            story = self.stories.get(note.case_id)
            self.stories[note.case_id] = fold_story(story, note, envelope.version, envelope.bureau)

    async def of_cases(self, bureau: str, case_ids: list[str]) -> dict[str, Story]:
        """Return the stories of these cases of the bureau."""
        return {c: s for c, s in self.stories.items() if c in case_ids and s["bureau"] == bureau}

    async def queue_places(self, bureau: str, enterprises: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Return the places of the waiting cases among these, from the board folded in memory."""
        board = self.boards.get(bureau)
        return {case_id: at for case_id in enterprises if (at := queue_place(board, case_id))}


def recording(stream_id: str, stream_type: str, bureau: str = "finance") -> Recording:
    return Recording(
        stream_id=stream_id,
        stream_type=stream_type,
        expected_version=0,
        bureau=bureau,
        actor=Actor(kind="service", id="t"),
        command_id=uuid.uuid4().hex,
        correlation_id=uuid.uuid4(),
    )


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
def views() -> FakeViews:
    return FakeViews()


@pytest.fixture
def stories() -> InMemoryStories:
    return InMemoryStories()


@pytest.fixture
async def client(
    recorder: InMemoryRecorder, views: FakeViews, stories: InMemoryStories
) -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"finance-key": ("finance", Role.VIEWER)})
    app = build_app(
        CaseQuerySettings(),
        Overrides(views=cast(AsyncCollection, views), recorder=recorder, api_keys=keys, stories=stories),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def open_finance_case(recorder: InMemoryRecorder, views: FakeViews) -> str:
    """Record a finance case and show it in the view, as the consumer would."""
    case_id = str(uuid.uuid4())
    opened = open_case(case_id, OpenCaseRequest.model_validate(case_body(5)), source="http", request_ref="k")
    result = await recorder.append(
        recording(case_id, "case"), [NewEvent("CaseOpened", 1, opened.model_dump(mode="json"))]
    )
    view = fold_all(result.events)
    assert view is not None
    views.docs.append(view)
    return case_id


async def test_given_a_case_when_read_with_the_new_bounds_then_it_is_served(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews
) -> None:
    case_id = await open_finance_case(recorder, views)

    listed = await client.get("/api/v1/cases", params={"offset": 0, "limit": 200}, headers=FINANCE)
    one = await client.get(f"/api/v1/cases/{case_id}", headers=FINANCE)
    past = await client.get(
        f"/api/v1/cases/{case_id}", params={"as_of": "2999-01-01T00:00:00+08:00"}, headers=FINANCE
    )
    history = await client.get(f"/api/v1/cases/{case_id}/events", headers=FINANCE)
    deep = await client.get("/api/v1/cases", params={"offset": 100_000}, headers=FINANCE)

    assert [r.status_code for r in (listed, one, past, history, deep)] == [200] * 5
    assert listed.json()["total"] == 1 and one.json()["case_id"] == case_id == past.json()["case_id"]
    assert deep.json()["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"offset": "99999999999999999999"},
        {"offset": "100001"},
        {"offset": "-1"},
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "99999999999999999999"},
    ],
)
async def test_given_a_page_out_of_bounds_when_listing_then_422_names_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    answer = await client.get("/api/v1/cases", params=params, headers=FINANCE)

    assert answer.status_code == 422
    assert {e["loc"][-1] for e in answer.json()["detail"]} == set(params)


@pytest.mark.parametrize("case_id", ["%00", "abc%00def", "%0A", "%7F", "a%20b", "%E4%B8%AD"])
@pytest.mark.parametrize("suffix", ["", "/events", "/history", "?as_of=2026-10-08T09:00:00%2B08:00"])
async def test_given_an_id_with_control_or_odd_characters_when_read_then_400_or_404(
    client: httpx.AsyncClient, case_id: str, suffix: str
) -> None:
    answer = await client.get(f"/api/v1/cases/{case_id}{suffix}", headers=FINANCE)

    # A control character in the path is refused before routing (400, naming it); any other odd id is no case.
    has_control = any(code in case_id for code in ("%00", "%0A", "%7F"))
    assert answer.status_code == (400 if has_control else 404), answer.text
    assert answer.json()["detail"]


@pytest.mark.parametrize(
    "as_of",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "99999-01-01T00:00:00+00:00",
        "2026-13-01T00:00:00+00:00",
        "2026-10-08T09:00:00",  # no offset: ambiguous
        "1e400",
        "yesterday",
    ],
)
async def test_given_an_absurd_moment_when_asked_as_of_it_then_422(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, views: FakeViews, as_of: str
) -> None:
    case_id = await open_finance_case(recorder, views)

    answer = await client.get(f"/api/v1/cases/{case_id}", params={"as_of": as_of}, headers=FINANCE)

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-1] == "as_of"


@pytest.mark.parametrize(
    ("stream_id", "stream_type"), [("board-finance", "board"), ("workday-calendar-CN", "calendar")]
)
@pytest.mark.parametrize("suffix", ["", "/events", "/history", "?as_of=2999-01-01T00:00:00%2B08:00"])
async def test_given_a_stream_of_the_bureau_that_is_not_a_case_when_read_as_a_case_then_404(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, stream_id: str, stream_type: str, suffix: str
) -> None:
    await recorder.append(recording(stream_id, stream_type), [NewEvent("StaffAdded", 1, {"name": "张三"})])

    answer = await client.get(f"/api/v1/cases/{stream_id}{suffix}", headers=FINANCE)

    assert answer.status_code == 404
    assert "张三" not in answer.text
