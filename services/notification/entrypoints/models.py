"""Request and response bodies of the notification API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    field_serializer,
)

from services.notification.adapters.channels.webhooks import why_not_one_robot_user_id
from shared.contracts.answers import WholeNumber, in_shanghai, whole_number
from shared.contracts.text import Email, Line50, Line100, Mobile, OptionalText500

ChannelName = Literal["inbox", "email", "wecom", "dingtalk", "sms"]
HourMinute = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, Asia/Shanghai")]


def _one_person(user_id: str) -> str:
    # The same rule the robot channels apply at send, to ids stored before it (why_not_one_robot_user_id).
    reason = why_not_one_robot_user_id(user_id)
    if reason is not None:
        raise ValueError(f"{reason[0]} / {reason[1]}")
    return user_id


# A person's user id in WeCom or DingTalk: one person, never a mention of many.
UserId = Annotated[Line50, AfterValidator(_one_person)]


def _leadership_or_section(value: object) -> str:
    return "leadership" if value == "" else "section_name"


# The money section: a section's name as staff type it (no control, bidi or invisible-only text), or "" for
# leadership. Tagged, so a refused name is one problem with its reason, not one per branch of the union.
MoneySection = Annotated[
    Annotated[Literal[""], Tag("leadership")] | Annotated[Line100, Tag("section_name")],
    Discriminator(_leadership_or_section),
]


def shanghai(at: datetime | None) -> str | None:
    """Return a moment as users read it: ISO 8601 with +08:00."""
    # A client without tz_aware reads stored times naive: in_shanghai takes them as UTC, never local time.
    return None if at is None else in_shanghai(at).isoformat()


class ContactDetails(BaseModel):
    """A recipient's addresses and preferences (personal data: stored encrypted, shown masked)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line100 | None = None
    email: Email | None = None
    mobile: Mobile | None = None
    wecom_user_id: UserId | None = None
    dingtalk_user_id: UserId | None = None
    channels: list[ChannelName] | None = Field(
        default=None, max_length=5, description="Channels taken (staff)"
    )
    quiet_start: HourMinute | None = None
    quiet_end: HourMinute | None = None
    language: Literal["zh-CN", "en"] = "zh-CN"


class RatingBody(BaseModel):
    """The enterprise's rating through its link."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    rating: WholeNumber = Field(ge=1, le=5, description="1 (poor) to 5 (excellent); 1 and 2 reopen the case")
    comment: OptionalText500 = ""


# The optional fields' bounds stand inside their types: on `WholeNumber | None` pydantic could not publish them
# as minimum/maximum.
Workdays0To10 = Annotated[int, Field(ge=0, le=10), BeforeValidator(whole_number), Strict()]
Workdays1To30 = Annotated[int, Field(ge=1, le=30), BeforeValidator(whole_number), Strict()]


class RulesBody(BaseModel):
    """A bureau's reminder and escalation ladder; `expected_version` is the version the caller saw."""

    # Strict: "yes", "0" or 1 for a flag and "2" or true for a number are refused, never read as a value.
    model_config = ConfigDict(extra="forbid", strict=True)

    expected_version: WholeNumber = Field(ge=1)
    remind_workdays_before: WholeNumber = Field(ge=0, le=10)
    remind_on_due_day: bool
    supervise_after_overdue_workdays: WholeNumber = Field(ge=1, le=30)
    supervision_deadline_workdays: WholeNumber = Field(ge=1, le=30)
    # The money ladders: left out, they keep their values in force (clients of rules v1 keep working).
    stuck_escalate_after_workdays: Workdays1To30 | None = Field(
        default=None, description="Working days after the stuck reminder before leadership hears"
    )
    arrears_remind_workdays_before: Workdays0To10 | None = Field(
        default=None, description="Remind this many working days before arrears are due (0: no)"
    )
    arrears_remind_on_due_day: bool | None = None
    arrears_escalate_after_overdue_workdays: Workdays1To30 | None = Field(
        default=None, description="Working days overdue before leadership hears of arrears"
    )
    money_section: MoneySection | None = Field(
        default=None, description="Section whose chiefs answer for money with no concierge; empty: leadership"
    )


class DeliveryView(BaseModel):
    """One line of the delivery log (addresses masked)."""

    id: str
    cause: str
    case_id: str | None
    recipient: str
    channel: str
    template: str
    status: str
    attempts: int
    last_error: str | None
    withdrawn_reason: str | None  # status withdrawn: why it was never sent (the event that ended its ladder)
    address: str | None
    created_at: datetime
    not_before: datetime
    sent_at: datetime | None

    @field_serializer("created_at", "not_before", "sent_at")
    def _local(self, at: datetime | None) -> str | None:
        return shanghai(at)
