"""Through the gateway: only a case of the caller's bureau is a case; odd ids and pages are refused cleanly."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.api import Api
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration


async def test_given_the_bureaus_board_stream_when_read_as_a_case_then_404(
    api: Api, stack_db: AsyncDatabase
) -> None:
    opened = await api.finance.post("/api/v1/cases", json=case_body(731))
    assert opened.status_code == 201

    async def board_recorded() -> object:  # opening a case puts its enterprise on the assignment board
        return await stack_db.events.find_one({"stream_id": "board-finance"}, {"_id": 1})

    await eventually(board_recorded, 60, "the finance board stream")

    for path in ("", "/events", "?as_of=2999-01-01T00:00:00%2B08:00"):
        for stream in ("board-finance", "workday-calendar-CN"):
            answer = await api.finance.get(f"/api/v1/cases/{stream}{path}")
            assert answer.status_code == 404, (stream, path, answer.text)


async def test_given_odd_ids_pages_and_moments_when_read_then_404_or_422_never_500(api: Api) -> None:
    for path in ("/api/v1/cases/%00", "/api/v1/cases/%00/events", "/api/v1/cases/a%01b"):
        # The gateway may refuse such a path itself (400); the case query service answers 404.
        assert (await api.finance.get(path)).status_code in (400, 404), path
    deep = await api.finance.get("/api/v1/cases", params={"offset": "99999999999999999999"})
    assert deep.status_code == 422
    absurd = await api.finance.get("/api/v1/cases/some-case", params={"as_of": "0001-01-01T00:00:00+14:00"})
    assert absurd.status_code == 422
