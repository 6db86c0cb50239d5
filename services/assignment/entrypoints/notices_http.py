"""HTTP entry points for official notices (红头文件): publish, list, and download (regenerated)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi import Path as PathParameter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.assignment.application.boards import Context
from services.assignment.application.notices import (
    matches_record,
    prefix_claimed,
    publish_notice,
    regenerate_notice,
)
from services.assignment.entrypoints.http_models import Day
from services.assignment.entrypoints.idempotent import idempotent
from services.assignment.notice.content import PREFIX_PATTERN, NumberingRefused, default_number_prefix
from services.assignment.notice.typeface import UnprintableText, uncovered
from shared.auth.rights import NoticePublisher, Reader
from shared.contracts.assignment import NoticePublished
from shared.contracts.text import Line20, Line100, shown
from shared.idempotency import IdempotencyKey
from shared.workdays.calendar import SHANGHAI

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])
MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


# The pattern is published too (Line20's own would otherwise stand in the schema).
Prefix = Annotated[
    Line20, StringConstraints(pattern=PREFIX_PATTERN), Field(json_schema_extra={"pattern": PREFIX_PATTERN})
]


class PublishNotice(BaseModel):
    """What to print on the notice; the table is the board's current assignments."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Line100 | None = None
    number_prefix: Prefix | None = Field(
        default=None, description="机关代字, e.g. 高新财金; default: the bureau's own (高新 + its short name)"
    )
    issued_on: Day | None = Field(default=None, description="Defaults to today (Asia/Shanghai)")

    @field_validator("title")
    @classmethod
    def _title_is_printable(cls, title: str | None) -> str | None:
        """Refuse a title the notice font cannot draw (it would print as empty boxes)."""
        if title is not None and (missing := uncovered(title)):
            raise ValueError(f"标题含公文字库没有的字符 / characters outside the notice font: {missing}")
        return title

    @field_validator("issued_on")
    @classmethod
    def _not_after_today(cls, issued_on: date | None) -> date | None:
        """Refuse a notice dated after today (Asia/Shanghai): it would take numbers of a year to come."""
        today = datetime.now(SHANGHAI).date()
        if issued_on is not None and issued_on > today:
            raise ValueError(f"发文日期不能晚于今天 {today} / issued_on cannot be after today, Asia/Shanghai")
        return issued_on


@router.post("", status_code=201, summary="Publish the current assignments as an official notice")
async def publish(
    body: PublishNotice,
    caller: NoticePublisher,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> NoticePublished:
    """Render the notice (PDF and DOCX) and record NoticePublished with the board version it came from."""

    async def run(context: Context) -> NoticePublished:
        bureaus = request.app.state.bureaus
        bureau = await bureaus.get(caller.bureau)
        issuer = bureau.name_zh if bureau else caller.bureau
        prefix = body.number_prefix or default_number_prefix(issuer)
        prefixes, boards = request.app.state.notice_prefixes, request.app.state.boards
        try:
            async with prefix_claimed(prefixes, bureaus, boards, caller.bureau, issuer, prefix):
                rendered = await publish_notice(
                    context,
                    boards=boards,
                    issuer=issuer,
                    prefix=prefix,
                    title=body.title,
                    issued_on=body.issued_on or datetime.now(SHANGHAI).date(),
                )
        except NumberingRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        except UnprintableText as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
        return rendered.event

    # A retry gets the notice first published, not a new document rendered from today's board.
    return await idempotent(request, caller, idempotency_key, body, NoticePublished, run)


@router.get("", summary="Notices published by your bureau")
async def list_notices(caller: Reader, request: Request) -> list[NoticePublished]:
    """Every notice of the caller's bureau, in publishing order."""
    board = await request.app.state.boards.current(caller.bureau)
    return list(board.notices.values())


@router.get(
    "/{notice_id}/document.{kind}",
    summary="Download a notice (regenerated from its events)",
    response_class=Response,
    responses={200: {"content": {media: {} for media in MEDIA.values()}, "description": "The PDF or DOCX"}},
)
async def download(
    notice_id: str,
    kind: Annotated[str, PathParameter(description="pdf or docx (another kind is a 404)")],
    caller: Reader,
    request: Request,
) -> Response:
    """Regenerate the PDF or DOCX from the events and check it against the published digest."""
    if kind not in MEDIA:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "文件只有 .pdf 和 .docx 两种 / documents are .pdf or .docx"
        )
    rendered = await regenerate_notice(
        caller.bureau, notice_id, boards=request.app.state.boards, recorder=request.app.state.recorder
    )
    if rendered is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"找不到通知 {shown(notice_id)} / notice {shown(notice_id)} not found"
        )
    if not matches_record(rendered):
        # An integrity alarm, not the caller's fault: the record and the regenerated document disagree.
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            "重新生成的通知与已发布的不一致 / regenerated notice differs from the published one",
        )
    name = f"{rendered.event.document_number}.{kind}"
    disposition = f"attachment; filename=notice.{kind}; filename*=UTF-8''{quote(name)}"
    data = rendered.pdf if kind == "pdf" else rendered.docx
    return Response(data, media_type=MEDIA[kind], headers={"Content-Disposition": disposition})
