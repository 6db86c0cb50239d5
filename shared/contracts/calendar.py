"""The working-day calendar as events: a year's holidays and 调休 days, published (and corrected) by version."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

CALENDAR_STREAM = "workday-calendar-CN"


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WorkdayCalendarPublished(_Event):
    """A year's days off and make-up working days, as the State Council published them."""

    year: int = Field(ge=2000, le=2100)
    version: int = Field(ge=1)
    holidays: list[date]
    makeup_workdays: list[date]
    published_by: str = Field(min_length=1, max_length=200)
    source: str = Field(default="", max_length=500, description="e.g. 国办发明电〔2026〕N号")

    @model_validator(mode="after")
    def _days_in_year(self) -> WorkdayCalendarPublished:
        outside = [d for d in [*self.holidays, *self.makeup_workdays] if d.year != self.year]
        if outside:
            raise ValueError(
                f"含 {self.year} 年以外的日期：{outside[:3]} / days outside {self.year}: {outside[:3]}"
            )
        if set(self.holidays) & set(self.makeup_workdays):
            raise ValueError(
                "同一天不能既是节假日又是调休工作日 / a day cannot be both a holiday and a make-up working day"
            )
        return self
