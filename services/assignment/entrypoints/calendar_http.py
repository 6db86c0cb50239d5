"""HTTP entry points for the working-day calendar: read a year, publish or correct one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.assignment.application.boards import http_context
from shared.auth.http import Caller, Writer
from shared.auth.keys import Role
from shared.contracts.calendar import WorkdayCalendarPublished

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])


class CalendarYearView(BaseModel):
    """A year's calendar as in force now."""

    year: int
    version: int
    provisional: bool
    published_by: str
    published_at: datetime
    holidays: list[date]
    makeup_workdays: list[date]


class PublishYear(BaseModel):
    """A year's days off and make-up working days (调休), as published."""

    model_config = ConfigDict(extra="forbid")

    holidays: list[date]
    makeup_workdays: list[date] = []
    published_by: str = Field(default="国务院办公厅", min_length=1, max_length=200)
    source: str = Field(default="", max_length=500)


@router.get("/{year}", summary="A year's working-day calendar (provisional when not yet published)")
async def get_year(year: int, caller: Caller, request: Request) -> CalendarYearView:
    """Return the year as in force."""
    y = (await request.app.state.calendars.current()).year(year)
    return CalendarYearView(
        year=y.year,
        version=y.version,
        provisional=y.provisional,
        published_by=y.published_by,
        published_at=y.published_at,
        holidays=sorted(y.holidays),
        makeup_workdays=sorted(y.makeup_workdays),
    )


@router.put(
    "/{year}", status_code=201, summary="Publish or correct a year; provisional due dates are recomputed"
)
async def publish_year(
    year: int,
    body: PublishYear,
    caller: Writer,
    request: Request,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
) -> WorkdayCalendarPublished:
    """Record WorkdayCalendarPublished with the next version of the year."""
    if caller.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin key may publish a calendar year")
    try:
        return await request.app.state.calendars.publish(
            http_context(caller.bureau, caller.key_id, idempotency_key, None),
            {"year": year, **body.model_dump()},
        )
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]) for e in exc.errors())
        raise HTTPException(422, reasons) from exc
