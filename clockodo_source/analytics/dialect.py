"""The SQL that differs between warehouses, in one table keyed by dlt destination name.

The model SQL is otherwise plain ANSI (CTEs, CASE, COALESCE, NULLIF, FLOOR, LEAST, FULL OUTER
JOIN, ``DATE 'YYYY-MM-DD'`` literals, BIGINT casts), which DuckDB, PostgreSQL, BigQuery and
Snowflake all accept. Everything else (float type name, time zone conversion, date truncation,
date arithmetic, how to replace a table atomically) goes through a :class:`Dialect`.

Each template takes SQL expressions as positional arguments (``{0}``, ``{1}``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import dlt


@dataclass(frozen=True)
class Dialect:
    """SQL templates of one warehouse."""

    float_type: str
    #: ISO text (``2026-03-05 10:00:00+00:00``) -> timestamp with time zone
    timestamp_literal: str
    #: timestamp with time zone -> its calendar date in UTC (not the session time zone)
    utc_date: str
    #: timestamp with time zone, IANA zone name -> its calendar date in that zone
    local_date: str
    #: date -> first day of its month
    month_start: str
    #: date -> Monday of its ISO week
    week_start: str
    #: date, whole number of days -> date
    add_days: str
    #: year, month, day (integers) -> date
    make_date: str
    #: earlier, later timestamp -> seconds between them as a float
    seconds_between: str
    #: True: ``CREATE OR REPLACE TABLE`` is atomic; False: drop and create in one transaction
    create_or_replace: bool
    #: earlier, later date -> whole days between them
    days_between: str = "({1} - {0})"
    #: True: tables and columns take ``COMMENT ON`` (the models' descriptions)
    comment_on: bool = True

    def timestamp(self, moment: datetime) -> str:
        text = moment.astimezone(UTC).isoformat(sep=" ")
        return self.timestamp_literal.format(text)

    @staticmethod
    def date(day: date) -> str:
        return f"DATE '{day.isoformat()}'"

    def to_float(self, expression: str) -> str:
        return f"CAST({expression} AS {self.float_type})"

    def utc_day(self, timestamp: str) -> str:
        return self.utc_date.format(timestamp)

    def local_day(self, timestamp: str, zone: str) -> str:
        """The date of ``timestamp`` in the calendar of ``zone`` (an IANA name); UTC takes the
        faster ``utc_date``, as a conversion per row is the costliest part of a model."""
        if zone == "UTC":
            return self.utc_day(timestamp)
        return self.local_date.format(timestamp, zone.replace("'", "''"))

    def month_of(self, day: str) -> str:
        return self.month_start.format(day)

    def week_of(self, day: str) -> str:
        return self.week_start.format(day)

    def plus_days(self, day: str, days: str) -> str:
        return self.add_days.format(day, days)

    def date_from_parts(self, year: str, month: str, day: str) -> str:
        return self.make_date.format(year, month, day)

    def seconds(self, since: str, until: str) -> str:
        return self.seconds_between.format(since, until)

    def days(self, since: str, until: str) -> str:
        return self.days_between.format(since, until)

    def replace_table(self, table: str, select: str) -> list[str]:
        """Statements that swap ``table`` for the result of ``select`` (with DROP: views on the
        old table go with it, as they could not read the new one)."""
        if self.create_or_replace:
            return [f"CREATE OR REPLACE TABLE {table} AS\n{select}"]
        return [f"DROP TABLE IF EXISTS {table} CASCADE", f"CREATE TABLE {table} AS\n{select}"]


POSTGRES = Dialect(
    float_type="DOUBLE PRECISION",
    timestamp_literal="CAST('{0}' AS TIMESTAMP WITH TIME ZONE)",
    utc_date="CAST(({0} AT TIME ZONE 'UTC') AS DATE)",
    local_date="CAST(({0} AT TIME ZONE '{1}') AS DATE)",
    # truncate a plain TIMESTAMP: on a DATE or TIMESTAMPTZ the session time zone would leak in
    month_start="CAST(date_trunc('month', CAST({0} AS TIMESTAMP)) AS DATE)",
    week_start="CAST(date_trunc('week', CAST({0} AS TIMESTAMP)) AS DATE)",
    add_days="({0} + CAST({1} AS INTEGER))",
    make_date="make_date(CAST({0} AS INTEGER), CAST({1} AS INTEGER), CAST({2} AS INTEGER))",
    seconds_between="CAST(EXTRACT(EPOCH FROM ({1}) - ({0})) AS DOUBLE PRECISION)",
    create_or_replace=False,
)

DUCKDB = replace(
    POSTGRES,
    float_type="DOUBLE",
    # days since the epoch: a time zone conversion per row would take most of a model's time
    utc_date="(DATE '1970-01-01' + CAST(floor(epoch_us({0}) / 86400000000) AS INTEGER))",
    seconds_between="(epoch({1}) - epoch({0}))",
)

BIGQUERY = Dialect(
    float_type="FLOAT64",
    timestamp_literal="TIMESTAMP '{0}'",
    utc_date="DATE({0})",
    local_date="DATE({0}, '{1}')",
    month_start="DATE_TRUNC({0}, MONTH)",
    week_start="DATE_TRUNC({0}, ISOWEEK)",
    add_days="DATE_ADD({0}, INTERVAL CAST({1} AS INT64) DAY)",
    make_date="DATE({0}, {1}, {2})",
    seconds_between="CAST(TIMESTAMP_DIFF({1}, {0}, MICROSECOND) AS FLOAT64) / 1000000",
    create_or_replace=True,
    days_between="DATE_DIFF({1}, {0}, DAY)",
    comment_on=False,  # descriptions are table options there
)

SNOWFLAKE = Dialect(
    float_type="FLOAT",
    timestamp_literal="CAST('{0}' AS TIMESTAMP_TZ)",
    utc_date="TO_DATE(CONVERT_TIMEZONE('UTC', {0}))",
    local_date="TO_DATE(CONVERT_TIMEZONE('{1}', {0}))",
    month_start="DATE_TRUNC('MONTH', {0})",
    # Snowflake's WEEK follows the WEEK_START parameter; ISO weeks need it at 0 or 1 (Monday)
    week_start="DATE_TRUNC('WEEK', {0})",
    add_days="DATEADD(day, CAST({1} AS INTEGER), {0})",
    make_date="DATE_FROM_PARTS({0}, {1}, {2})",
    seconds_between="DATEDIFF(microsecond, {0}, {1}) / 1000000",
    create_or_replace=True,
    days_between="DATEDIFF(day, {0}, {1})",
)

DIALECTS: dict[str, Dialect] = {
    "duckdb": DUCKDB,
    "motherduck": DUCKDB,
    "postgres": POSTGRES,
    "bigquery": BIGQUERY,
    "snowflake": SNOWFLAKE,
}


def dialect_for(pipeline: dlt.Pipeline) -> Dialect:
    """The dialect of the pipeline's destination (a named destination falls back to its type)."""
    destination = pipeline.destination
    if destination is None:
        raise ValueError("the pipeline has no destination; run it once before building models")
    for name in (destination.destination_name, destination.to_name(destination.destination_type)):
        if name in DIALECTS:
            return DIALECTS[name]
    supported = ", ".join(sorted(DIALECTS))
    raise ValueError(
        f"analytics models support the destinations {supported}, "
        f"not {destination.destination_name!r}"
    )
