"""Deadlines in working days of the Chinese calendar (Asia/Shanghai).

A year's calendar is data: the State Council publishes holidays and make-up working days (调休) late in
the year before. A year we have no published data for is still counted (weekends and statutory holidays)
but the answer is marked provisional, so it can be recomputed once the year is published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class CalendarYear:
    """One year's days off and make-up working days, with who published them and when."""

    year: int
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    version: int
    published_by: str
    published_at: datetime
    provisional: bool = False

    def is_workday(self, day: date) -> bool:
        """Tell whether a day of this year is a working day."""
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass(frozen=True)
class Deadline:
    """A due moment and whether any year it crossed was provisional (not yet published)."""

    due: datetime
    provisional: bool
    calendar_versions: Mapping[int, int] = field(default_factory=dict)


class WorkdayCalendar:
    """Counts working days over published years, falling back to a provisional year when unpublished."""

    def __init__(self, years: Mapping[int, CalendarYear], provisional: Callable[[int], CalendarYear]) -> None:
        self._years = dict(years)
        self._provisional = provisional
        self._guessed: dict[int, CalendarYear] = {}

    def year(self, year: int) -> CalendarYear:
        """Return the published year, or a provisional one."""
        if year in self._years:
            return self._years[year]
        if year not in self._guessed:
            self._guessed[year] = self._provisional(year)
        return self._guessed[year]

    def publish(self, calendar_year: CalendarYear) -> None:
        """Use a newly published (or corrected) year from now on."""
        self._years[calendar_year.year] = calendar_year
        self._guessed.pop(calendar_year.year, None)

    def is_workday(self, day: date) -> bool:
        """Tell whether a day is a working day."""
        return self.year(day.year).is_workday(day)

    def add_workdays(self, start: datetime, days: int) -> Deadline:
        """Return the end of the `days`-th working day after the start's local date."""
        if days < 1:
            raise ValueError("a deadline needs at least one working day")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        day = start.astimezone(SHANGHAI).date()
        used: dict[int, CalendarYear] = {}
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            calendar_year = self.year(day.year)
            used[day.year] = calendar_year
            counted += calendar_year.is_workday(day)
        return Deadline(
            due=datetime.combine(day, END_OF_DAY, SHANGHAI),
            provisional=any(y.provisional for y in used.values()),
            calendar_versions={y: c.version for y, c in sorted(used.items())},
        )

    def workdays_between(self, start: date, end: date) -> int:
        """Count working days after start up to and including end (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count


def problems_of_published_year(year: int, holidays: list[date], makeup_workdays: list[date]) -> list[str]:
    """Return what is wrong with a year as submitted for publication (an empty list when it is sound)."""
    problems = []
    if not holidays:
        problems.append(
            f"{year} 年未给出任何节假日 / {year}: no holidays given (every published year has statutory holidays)"
        )
    for name, zh, days in (
        ("holidays", "节假日", holidays),
        ("makeup_workdays", "调休工作日", makeup_workdays),
    ):
        repeated = ", ".join(map(str, sorted({d for d in days if days.count(d) > 1})))
        if repeated:
            problems.append(f"{zh}有重复日期：{repeated} / {name} repeat {repeated}")
        outside = ", ".join(map(str, sorted(d for d in days if d.year != year)[:3]))
        if outside:
            problems.append(
                f"{zh}含 {year} 年以外的日期：{outside} / {name} has days outside {year}: {outside}"
            )
    both = ", ".join(map(str, sorted(set(holidays) & set(makeup_workdays))))
    if both:
        problems.append(
            f"同一天不能既是节假日又是调休工作日：{both} / both a holiday and a make-up working day: {both}"
        )
    missing = ", ".join(f"{d} {name}" for d, name in statutory_weekdays_left_out(year, holidays))
    if missing:
        problems.append(
            f"法定节假日须列为节假日：{missing} / statutory holidays on weekdays must be holidays: {missing}"
        )
    worked = ", ".join(
        f"{d} {name}" for d, name in sorted(statutory_days(year).items()) if d in makeup_workdays
    )
    if worked:
        problems.append(
            f"法定节假日不能调为工作日：{worked} / a statutory holiday cannot be a make-up working day: {worked}"
        )
    # 调休 moves work onto a weekend day; a make-up "working day" on a weekday changes nothing.
    weekdays = ", ".join(map(str, sorted(d for d in makeup_workdays if d.weekday() < 5)))
    if weekdays:
        problems.append(
            f"调休工作日须为周末：{weekdays} / make-up working days must fall on a weekend: {weekdays}"
        )
    return problems


STATUTE_KNOWN_UNTIL = 2099  # the `holidays` package computes 清明 reliably up to this year


def statutory_days(year: int) -> dict[date, str]:
    """Return the statutory holidays (全国年节及纪念日放假办法) of a year, weekends included ({} beyond 2099)."""
    import holidays as statutory

    if year > STATUTE_KNOWN_UNTIL:
        return {}
    days = statutory.China(years=year, language="zh_CN", observed=False)
    # A 调休 day off the package knows for a past year is an arrangement, not the statute.
    return {day: name for day, name in days.items() if "调休" not in name}


def statutory_weekdays_left_out(year: int, holidays: list[date]) -> list[tuple[date, str]]:
    """Return the statutory holidays on weekdays that a published year leaves out."""
    # The State Council's notice arranges 调休 around these days but never makes one a working day: a year
    # without them (a typo, a file of another year) would count them as working days in every due date.
    given = set(holidays)
    return sorted((d, name) for d, name in statutory_days(year).items() if d.weekday() < 5 and d not in given)
