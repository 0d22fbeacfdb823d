"""Tiling of time ranges into contiguous, half-open windows `[since, until)`.

Windows are aligned to calendar periods (UTC) so that the same period is read the same way by
every run, whatever day the range starts on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from clockodo_source.errors import ConfigurationError

WINDOW_UNITS = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True, order=True)
class Window:
    since: datetime
    until: datetime

    def dates(self) -> tuple[date, date]:
        """The window as inclusive dates, for endpoints that take `date_since`/`date_until`."""
        return self.since.date(), (self.until - timedelta(microseconds=1)).date()


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _next_boundary(moment: datetime, unit: str) -> datetime:
    """The first calendar `unit` boundary strictly after `moment`."""
    day = moment.date()
    if unit == "day":
        return utc_midnight(day + timedelta(days=1))
    if unit == "week":
        return utc_midnight(day + timedelta(days=7 - day.weekday()))
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    first = date(day.year, 1 if unit == "year" else day.month - (day.month - 1) % months, 1)
    return utc_midnight(_add_months(first, months))


def tile(since: datetime, until: datetime, unit: str = "month") -> Iterator[Window]:
    """Cover `[since, until)` exactly: no gap, no overlap, boundaries on calendar `unit`s."""
    if unit not in WINDOW_UNITS:
        raise ConfigurationError(
            f"window must be one of {', '.join(WINDOW_UNITS)} (got {unit!r}); e.g. --window month"
        )
    cursor = since
    while cursor < until:
        boundary = min(_next_boundary(cursor, unit), until)
        yield Window(cursor, boundary)
        cursor = boundary


def years(since: date, until: date) -> list[int]:
    """Every calendar year touched by the inclusive date range."""
    return list(range(since.year, until.year + 1))
