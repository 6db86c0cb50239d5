"""Types the HTTP answers and query strings of every service share: times in +08:00, strict query flags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator

from shared.workdays.calendar import SHANGHAI


def in_shanghai(moment: datetime) -> datetime:
    """A stored time as the API answers it: Asia/Shanghai (+08:00); a naive one was stored as UTC."""
    # Why: times are kept in UTC (events, Mongo); README promises every answered time with +08:00.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(SHANGHAI)


# A time in an answer: whatever it is built from, it is answered with the +08:00 offset.
Time = Annotated[datetime, AfterValidator(in_shanghai)]
# A query flag is "true" or "false", nothing else: "yes", "1" or "on" are refused with a 422 naming it.
TrueFalse = Literal["true", "false"]
