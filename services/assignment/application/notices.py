"""Use cases: publish the current assignments as an official notice, and regenerate a published one."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from services.assignment.adapters.notice_prefixes import NoticePrefixes
from services.assignment.application.boards import Boards, Context, board_stream
from services.assignment.domain.board import AssignmentBoard
from services.assignment.notice.content import (
    DEFAULT_TITLE,
    NoticeContent,
    NumberingRefused,
    Row,
    a_notice_is_not_dated_before_an_assignment_it_lists,
    default_number_prefix,
    next_document_number,
    notice_from_board,
    parse_document_number,
)
from services.assignment.notice.render import CURRENT_LAYOUT, render
from shared.contracts.assignment import NoticePublished, NoticeRow
from shared.contracts.events import parse_event_data
from shared.contracts.text import read_stored
from shared.eventstore.recorder import EventRecorder
from shared.workdays.calendar import SHANGHAI


@dataclass(frozen=True)
class Rendered:
    """A notice's two documents."""

    event: NoticePublished
    pdf: bytes
    docx: bytes


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Longer than any publish takes: a claim this old with no notice behind it was left over.
ORPHANED_AFTER = timedelta(minutes=2)


async def a_prefix_numbers_one_bureaus_documents(
    prefixes: NoticePrefixes, bureaus: Any, boards: Boards, bureau: str, issuer: str, prefix: str
) -> bool:
    """Claim a 机关代字 for the bureau, refusing (NumberingRefused) one another bureau has; True: a new claim."""
    # Numbers run per prefix within a bureau: two bureaus under one prefix would issue the same 发文字号.
    # A prefix the bureau holds stays its own. One nobody holds yet is another bureau's when it is that
    # bureau's default (never claimed for someone else, even for a moment) or when that bureau numbered
    # notices under it before claims were kept.
    others = [b for b in await bureaus.all() if b.id != bureau]
    if prefix != default_number_prefix(issuer):
        if owner := next((o for o in others if default_number_prefix(o.name_zh) == prefix), None):
            if await prefixes.holder(prefix) != bureau:
                raise NumberingRefused(_held(prefix, owner.name_zh))
            return False
    holder, new = await prefixes.claim(prefix, bureau)
    if holder != bureau:
        # A claim with no notice of its holder behind it, made long ago, was left by a publish that was
        # refused or cut off (a crash between the claim and the notice): it holds nothing, so it passes on.
        numbered = await _numbered_by(prefix, boards, holder)
        if numbered or not await prefixes.take_over(prefix, holder, bureau, ORPHANED_AFTER):
            known = await bureaus.get(holder)
            raise NumberingRefused(_held(prefix, known.name_zh if known else holder))
        new = True
    if new and (other := await _numbered_by_another(prefix, boards, others)):
        await prefixes.release(prefix, bureau)
        raise NumberingRefused(_held(prefix, other))
    return new


@asynccontextmanager
async def prefix_claimed(
    prefixes: NoticePrefixes, bureaus: Any, boards: Boards, bureau: str, issuer: str, prefix: str
) -> AsyncIterator[None]:
    """Hold the bureau's claim on a 机关代字 while a notice is published under it; a refused one claims nothing."""
    new = await a_prefix_numbers_one_bureaus_documents(prefixes, bureaus, boards, bureau, issuer, prefix)
    try:
        yield
    except BaseException:
        if new:  # a prefix is claimed by a notice published under it, not by a refused one
            await prefixes.release(prefix, bureau)
        raise


async def _numbered_by_another(prefix: str, boards: Boards, others: list[Any]) -> str | None:
    for other in others:
        if await _numbered_by(prefix, boards, other.id):
            return str(other.name_zh)
    return None


async def _numbered_by(prefix: str, boards: Boards, bureau: str) -> bool:
    numbered = (await boards.current(bureau)).notices.values()
    return any((parse_document_number(n.document_number) or ("",))[0] == prefix for n in numbered)


def _held(prefix: str, holder: str) -> str:
    return (
        f"机关代字「{prefix}」是{holder}的，本局公文请用本局的代字 / the prefix {prefix} numbers {holder}'s "
        "documents: number yours under your bureau's own prefix"
    )


async def publish_notice(
    context: Context, *, boards: Boards, issuer: str, prefix: str, title: str | None, issued_on: date
) -> Rendered:
    """Render the notice from the board as it stands and record NoticePublished with its digests."""
    rendered: list[Rendered] = []

    def decide(board: AssignmentBoard) -> list[BaseModel]:
        # Numbered per 机关代字 per year of the issue date; a backdated issue raises NumberingRefused.
        a_notice_is_not_dated_before_an_assignment_it_lists(board, issued_on)
        number = next_document_number(board.notices.values(), prefix, issued_on)
        content = notice_from_board(board, issuer, number, title or DEFAULT_TITLE, issued_on)
        pdf, docx = render(content)  # raises UnprintableText for a character outside the notice font
        event = NoticePublished(
            notice_id=str(uuid.uuid5(uuid.NAMESPACE_URL, context.command_id)),
            document_number=content.document_number,
            title=content.title,
            issuer=issuer,
            issued_on=issued_on,
            board_version=board.version,
            enterprises=len(content.rows),
            pdf_sha256=_digest(pdf),
            docx_sha256=_digest(docx),
            layout=CURRENT_LAYOUT,
            rows=[NoticeRow(**vars(row)) for row in content.rows],
        )
        rendered[:] = [Rendered(event, pdf, docx)]
        return board.publish_notice(event, datetime.now(SHANGHAI))

    recorded = await boards.decide(context, decide)
    if not recorded:
        raise RuntimeError("notice was not recorded")
    event = read_stored(NoticePublished, recorded[0].data)
    if not rendered or event != rendered[0].event:
        # This command was recorded before (a retry after a lost answer: nothing rendered now), or a
        # concurrent retry of it recorded first: answer with the notice recorded, not ours.
        regenerated = await regenerate_notice(
            context.bureau, event.notice_id, boards=boards, recorder=boards.recorder
        )
        if regenerated is None:
            raise RuntimeError(f"notice {event.notice_id} was recorded but cannot be read back")
        return regenerated
    return rendered[0]


async def regenerate_notice(
    bureau: str, notice_id: str, *, boards: Boards, recorder: EventRecorder
) -> Rendered | None:
    """Render a published notice again from its event: the same bytes as when it was published."""
    event = (await boards.current(bureau)).notices.get(notice_id)
    if event is None:
        return None
    if event.rows is not None:
        rows = tuple(Row(**row.model_dump()) for row in event.rows)
    else:  # published before the table was recorded on the event: replay the board up to that version
        rows = await _rows_at(bureau, event, recorder)
    content = NoticeContent(event.issuer, event.document_number, event.title, event.issued_on, rows)
    return Rendered(event, *render(content, event.layout))


async def _rows_at(bureau: str, event: NoticePublished, recorder: EventRecorder) -> tuple[Row, ...]:
    board = AssignmentBoard(bureau)
    for envelope in await recorder.read_stream(board_stream(bureau)):
        if envelope.version > event.board_version:
            break
        board.apply(
            parse_event_data(envelope.event_type, envelope.schema_version, envelope.data),
            envelope.occurred_at,
        )
        board.version = envelope.version
    return notice_from_board(
        board, event.issuer, event.document_number, event.title, event.issued_on, numbers_by_value=False
    ).rows


def matches_record(rendered: Rendered) -> bool:
    """Tell whether regenerated documents are byte-identical to what was published."""
    return (
        _digest(rendered.pdf) == rendered.event.pdf_sha256
        and _digest(rendered.docx) == rendered.event.docx_sha256
    )
