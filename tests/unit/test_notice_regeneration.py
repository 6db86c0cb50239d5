"""A notice downloads as it was published, without replaying the board from its first event."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.assignment.application.boards import Boards, board_stream, http_context
from services.assignment.application.notices import (
    Rendered,
    matches_record,
    publish_notice,
    regenerate_notice,
)
from shared.contracts.assignment import Post
from shared.contracts.cases import Category, Enterprise
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.memory import InMemoryRecorder
from shared.workdays.calendar import SHANGHAI
from tests.support import credit_code

NOW = datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)


class CountingRecorder(InMemoryRecorder):
    """Remembers from which version each read of a stream started."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, int]] = []

    async def read_stream(
        self, stream_id: str, from_version: int = 1, recorded_until: Any = None
    ) -> list[EventEnvelope]:
        self.reads.append((stream_id, from_version))
        return await super().read_stream(stream_id, from_version, recorded_until)


async def _board_with_one_assignment(boards: Boards) -> None:
    context = http_context("finance", "k1", "staff-1", None)
    await boards.decide(context, lambda b: b.add_staff("s1", "王科长", Post.SECTION_CHIEF, "预算科", NOW))
    enterprise = Enterprise(name="格力电器(郑州)有限公司", credit_code=credit_code(1))
    context = http_context("finance", "k1", "case-1", None)
    await boards.decide(context, lambda b: b.open_case("c1", enterprise, Category.FUND_DISBURSEMENT, NOW))


async def _publish(boards: Boards) -> Rendered:
    return await publish_notice(
        http_context("finance", "k1", "notice-1", None),
        boards=boards,
        issuer="财政金融局",
        prefix="高新财金",
        title=None,
        issued_on=date(2026, 10, 8),
    )


async def test_a_notice_downloads_byte_for_byte_from_its_own_event_after_the_board_moved_on() -> None:
    # Given a published notice and a board that moved on afterwards
    recorder = CountingRecorder()
    boards = Boards(recorder, clock=lambda: NOW)  # the board's history happened in October
    await _board_with_one_assignment(boards)
    published = await _publish(boards)
    context = http_context("finance", "k1", "staff-2", None)
    await boards.decide(context, lambda b: b.add_staff("s2", "李科长", Post.SECTION_CHIEF, "国库科", NOW))
    recorder.reads.clear()

    # When it is downloaded again
    again = await regenerate_notice("finance", published.event.notice_id, boards=boards, recorder=recorder)

    # Then the documents are the published ones, and the board was not replayed from its first event
    assert again is not None and matches_record(again)
    assert again.pdf == published.pdf and again.docx == published.docx
    assert [row.concierge for row in published.event.rows or []] == ["王科长"]
    assert (board_stream("finance"), 1) not in recorder.reads


async def test_an_unknown_or_other_bureaus_notice_is_not_found() -> None:
    recorder = CountingRecorder()
    boards = Boards(recorder, clock=lambda: NOW)  # the board's history happened in October
    await _board_with_one_assignment(boards)
    published = await _publish(boards)
    assert await regenerate_notice("finance", "no-such-notice", boards=boards, recorder=recorder) is None
    assert (
        await regenerate_notice("innovation", published.event.notice_id, boards=boards, recorder=recorder)
        is None
    )


async def test_a_notice_published_before_the_table_was_recorded_still_regenerates_from_the_board() -> None:
    # Given a notice event without its rows (as recorded by earlier versions)
    recorder = CountingRecorder()
    boards = Boards(recorder, clock=lambda: NOW)  # the board's history happened in October
    await _board_with_one_assignment(boards)
    published = await _publish(boards)
    board = await boards.current("finance")
    board.notices[published.event.notice_id] = published.event.model_copy(update={"rows": None})

    # When it is downloaded, the board is replayed up to the version it was generated from
    again = await regenerate_notice("finance", published.event.notice_id, boards=boards, recorder=recorder)

    # Then the bytes are the same
    assert again is not None and again.pdf == published.pdf and again.docx == published.docx
