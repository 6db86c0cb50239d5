"""HTTP entry points for the working-day calendar: read a year, publish or correct one."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from services.assignment.application.boards import Context
from services.assignment.entrypoints.http_models import Day
from services.assignment.entrypoints.idempotent import idempotent
from shared.auth.rights import CalendarPublisher, Reader
from shared.contracts.answers import Time
from shared.contracts.calendar import WorkdayCalendarPublished
from shared.contracts.text import OptionalText500
from shared.http_numbers import plain_digits
from shared.idempotency import IdempotencyKey
from shared.workdays.calendar import problems_of_published_year

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])


# Years the system plans in: the seeded calendar starts in 2004; dates elsewhere stop at 2100.
def four_digits(value: Any) -> Any:
    """Let a year through only as four plain digits ("+2028", "02028", "2028.0" refused)."""
    value = plain_digits(value)
    if isinstance(value, str) and len(value) != 4:
        raise ValueError("年份须为四位数字，如 2027 / a year is four digits, e.g. 2027")
    return value


# The bounds on the type publish as JSON Schema's minimum and maximum (on Path they would not, beside a validator).
Year = Annotated[
    int, Ge(2004), Le(2100), BeforeValidator(four_digits), Path(description="A calendar year, 2004-2100")
]


class CalendarYearView(BaseModel):
    """A year's calendar as in force now."""

    year: int
    version: int
    provisional: bool
    published_by: str
    published_at: Time
    holidays: list[date]
    makeup_workdays: list[date]


class PublishYear(BaseModel):
    """A year's days off and make-up working days (调休), as published; who publishes is the caller."""

    model_config = ConfigDict(extra="forbid")

    holidays: list[Day] = Field(
        max_length=60, description="Days off of the year (法定节假日 and the days moved for 调休)"
    )
    makeup_workdays: list[Day] = Field(
        default=[], max_length=30, description="Weekend days worked (调休上班)"
    )
    source: OptionalText500 = Field(default="", description="e.g. 国办发明电〔2026〕N号")


@router.get("/{year}", summary="A year's working-day calendar (provisional when not yet published)")
async def get_year(year: Year, caller: Reader, request: Request) -> CalendarYearView:
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
    "/{year}",
    status_code=201,
    summary="Publish or correct a year (zone operator key); open due dates it changes are recomputed",
)
async def publish_year(
    year: Year,
    body: PublishYear,
    caller: CalendarPublisher,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> WorkdayCalendarPublished:
    """Record WorkdayCalendarPublished with the next version of the year."""
    # The calendar counts every bureau's due dates: only the zone's operators may change it (rights.py).
    problems = problems_of_published_year(year, body.holidays, body.makeup_workdays)
    if problems:
        raise HTTPException(422, [{"loc": ["body"], "msg": p, "type": "value_error"} for p in problems])

    async def run(context: Context) -> WorkdayCalendarPublished:
        try:
            return await request.app.state.calendars.publish(  # type: ignore[no-any-return]
                context,
                {"year": year, **body.model_dump(), "published_by": f"{caller.bureau}/{caller.key_id}"},
            )
        except ValidationError as exc:
            reasons = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
            raise HTTPException(422, reasons) from exc

    return await idempotent(request, caller, idempotency_key, body, WorkdayCalendarPublished, run)
