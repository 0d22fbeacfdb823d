"""What a model's SQL is rendered with: the dialect, table names, the moment of the run and
the calendar (time zone) its days, weeks and months belong to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from clockodo_source.analytics.dialect import Dialect
from clockodo_source.calendar import zone_name

#: The last date Python (and so most readers of the models) can represent
LAST_DATE = date(9999, 12, 31)


@dataclass(frozen=True)
class SqlContext:
    """Rendering context; ``qualify`` turns a dlt table name into the destination's name."""

    dialect: Dialect
    qualify: Callable[[str], str]
    now: datetime
    #: the calendar of the ``timezone`` option
    zone: tzinfo = UTC

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def local_day(self, timestamp: str) -> str:
        """SQL of the date ``timestamp`` falls on in the model's calendar."""
        return self.dialect.local_day(timestamp, zone_name(self.zone))

    @property
    def now_sql(self) -> str:
        return self.dialect.timestamp(self.now)

    def table(self, name: str) -> str:
        return self.qualify(name)

    def day(self, value: date) -> str:
        return self.dialect.date(value)

    def interval_starts(self) -> Mapping[int, date]:
        """First day of the current budget interval, by Clockodo's ``budget.interval`` code."""
        today = self.today
        return {
            0: today - timedelta(days=today.weekday()),  # weekly (ISO week, Monday)
            1: today.replace(day=1),  # monthly
            2: date(today.year, 3 * ((today.month - 1) // 3) + 1, 1),  # quarterly
            3: date(today.year, 1, 1),  # yearly
        }


@dataclass(frozen=True)
class Model:
    """One analytics table: its name, the source columns it reads, and its SELECT."""

    name: str
    inputs: Mapping[str, tuple[str, ...]]
    select: Callable[[SqlContext], str]
    doc: str
