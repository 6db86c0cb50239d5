"""Types the HTTP answers, query strings and bodies of every service share: times in +08:00, strict query
flags, calendar dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Strict

from shared.contracts.text import is_reading_stored
from shared.workdays.calendar import SHANGHAI


def in_shanghai(moment: datetime) -> datetime:
    """A stored time as the API answers it: Asia/Shanghai (+08:00); a naive one was stored as UTC."""
    # Why: times are kept in UTC (events, Mongo); README promises every answered time with +08:00.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(SHANGHAI)


# A time in an answer: whatever it is built from, it is answered with the +08:00 offset.
Time = Annotated[datetime, AfterValidator(in_shanghai)]
# A query flag is "true" or "false", nothing else: "yes", "1" or "on" are refused with a 422 naming it.
TrueFalse = Literal["true", "false"]


_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # [0-9], not \d: no other script's digits


def calendar_date(value: Any) -> Any:
    """Let only a calendar date through: a date object or "YYYY-MM-DD"; refuse a time, a timestamp, else."""
    # Pydantic reads "2026-11-28T00:00:00Z" and 1764288000 as a date, silently dropping the rest: a client
    # that sent a moment meant a moment, and its day in UTC may not be its day in Shanghai. Stored events
    # keep reading as recorded: a stricter rule for new input must never make one unreadable.
    if is_reading_stored():
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _CALENDAR_DATE.fullmatch(value):
        return value
    raise ValueError("须为日期 YYYY-MM-DD，不含时间 / must be a calendar date YYYY-MM-DD, without a time")


# A date in a request (body, query string or message from another system): "YYYY-MM-DD" and nothing else.
CalendarDate = Annotated[date, BeforeValidator(calendar_date)]


def whole_number(value: Any) -> Any:
    """Let a number without a fraction through as an int (3.0 is 3); the strict check takes the rest."""
    # JSON has one number type, and JSON Schema counts 3.0 as an integer: refusing it would refuse what the
    # published schema allows. 3.5, "3" and true stay refused by the strict int that follows.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer in a request body: a JSON number without a fraction, never a string or a boolean.
WholeNumber = Annotated[int, BeforeValidator(whole_number), Strict()]


_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def iso_moment(value: Any) -> Any:
    """Let only an ISO 8601 time (or a datetime) through; refuse a Unix timestamp, a number or digits."""
    # Pydantic reads 1767225600 and "1767225600" as times: a client that sent a count meant something else,
    # and a seconds/milliseconds mix-up lands in another century. Stored events keep reading as recorded.
    if is_reading_stored() or isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        return value
    numeric = isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit())
    raise ValueError(
        "须为带时区的 ISO 8601 时间，如 2026-11-28T10:00:00+08:00 / must be an ISO 8601 time with its offset, "
        f"e.g. 2026-11-28T10:00:00+08:00, {'not a number' if numeric else 'not a date-time in another form'}"
    )


# A moment in a request (body, query string or message from another system): ISO 8601 text with an offset.
IsoMoment = Annotated[AwareDatetime, BeforeValidator(iso_moment)]


# The years the working-day calendar can count (2000-2100), as a JSON Schema pattern on dates and times.
YEARS_2000_TO_2100 = r"^(20[0-9]{2}|2100)-"
