"""Seed data: published years from `chinese-calendar`, provisional years from `holidays`."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.workdays.calendar import CalendarYear, WorkdayCalendar

SEED_PUBLISHED_AT = datetime(2025, 11, 4, tzinfo=UTC)  # 国务院办公厅 notice on the 2026 holidays


def published_years() -> dict[int, CalendarYear]:
    """Return every year `chinese-calendar` knows, as version 1 published by the State Council."""
    from chinese_calendar import constants

    by_year: dict[int, tuple[set[date], set[date]]] = {}
    for day in constants.holidays:
        by_year.setdefault(day.year, (set(), set()))[0].add(day)
    for day in constants.workdays:
        by_year.setdefault(day.year, (set(), set()))[1].add(day)
    return {
        year: CalendarYear(
            year=year,
            holidays=frozenset(off),
            makeup_workdays=frozenset(on),
            version=1,
            published_by="国务院办公厅 (seeded from chinese-calendar)",
            published_at=SEED_PUBLISHED_AT,
        )
        for year, (off, on) in by_year.items()
    }


def provisional_year(year: int) -> CalendarYear:
    """Return weekends plus the statutory holidays of `holidays` (no 调休 is known yet)."""
    import holidays

    statutory = {day for day, name in holidays.China(years=year).items() if "observed" not in name.lower()}
    return CalendarYear(
        year=year,
        holidays=frozenset(statutory),
        makeup_workdays=frozenset(),
        version=0,
        published_by="provisional: statutory holidays only (holidays package)",
        published_at=datetime.now(UTC),
        provisional=True,
    )


def default_calendar() -> WorkdayCalendar:
    """Return a calendar over the seeded years with provisional fallback."""
    return WorkdayCalendar(published_years(), provisional_year)
