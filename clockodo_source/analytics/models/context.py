"""What a model's SQL is rendered with: the dialect, table names, the moment of the run and
the calendar (time zone) its days, weeks and months belong to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

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
    #: SQL of the moment instead of ``now`` as a literal (a dbt package: the time dbt runs);
    #: the models take every date from it in SQL, so they mean the same either way
    now_expression: str | None = None

    def local_day(self, timestamp: str) -> str:
        """SQL of the date ``timestamp`` falls on in the model's calendar."""
        return self.dialect.local_day(timestamp, zone_name(self.zone))

    @property
    def now_sql(self) -> str:
        return self.now_expression or self.dialect.timestamp(self.now)

    @property
    def today_sql(self) -> str:
        """SQL of the moment's date in the model's calendar."""
        return self.local_day(self.now_sql)

    def table(self, name: str) -> str:
        return self.qualify(name)

    def day(self, value: date) -> str:
        return self.dialect.date(value)


@dataclass(frozen=True)
class Model:
    """One analytics table: its name, the source columns it reads, and its SELECT."""

    name: str
    inputs: Mapping[str, tuple[str, ...]]
    select: Callable[[SqlContext], str]
    doc: str
    #: what each column of the SELECT holds (units, codes), in its order
    columns: Mapping[str, str] = field(default_factory=dict)
    #: the columns that make a row unique
    key: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """The doc's first sentence, without the model's name."""
        first = " ".join(self.doc.split("\n\n", 1)[0].split())
        return first.removeprefix(f"``{self.name}``: ")
