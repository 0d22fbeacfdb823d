"""Which entries an invoice or a mark-billed covers, read from the destination.

A selection is a customer, optionally one of its projects, and local days ``[since, until)``
of the ``timezone`` option; it takes the entries with ``billable = 1`` whose ``time_since``
falls in those days and not after the moment of reading (planned entries are not work done).
Hours and values are computed by the analytics models' own SQL expressions, so an invoice
and the ``unbilled_time`` model always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.sql_client import SqlClientBase

from clockodo_source.analytics.dialect import dialect_for
from clockodo_source.analytics.filters import parse_filters
from clockodo_source.analytics.models.context import SqlContext
from clockodo_source.analytics.models.run_entries import entry_seconds, entry_value
from clockodo_source.calendar import configured_timezone, local_range
from clockodo_source.errors import ConfigurationError
from clockodo_source.options import parse_date
from clockodo_source.rows import as_utc

_ENTRY_COLUMNS = ("id", "type", "projects_id", "services_id", "lumpsum_services_id", "text",
                  "hourly_rate", "lumpsum", "lumpsum_services_amount", "lumpsum_services_price",
                  "time_since")
_NAMED = ("projects", "services", "lumpsum_services")


@dataclass(frozen=True)
class Selection:
    """Validated selection: local days ``[since, until)`` in ``zone``."""

    customer: int
    project: int | None
    since: date
    until: date
    zone: tzinfo

    @property
    def last_day(self) -> date:
        return self.until - timedelta(days=1)

    def instants(self, now: datetime) -> tuple[datetime, datetime]:
        """The UTC range to select by: the local days, cut at ``now`` (whole seconds, as the
        API takes them) so that planned entries stay out."""
        since, until = local_range(self.since, self.until, self.zone)
        cut = now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        return since, min(until, cut)

    def describe(self) -> str:
        project = f", project {self.project}" if self.project is not None else ""
        return (f"customer {self.customer}{project}, {self.since} to {self.last_day} "
                f"({getattr(self.zone, 'key', 'UTC')})")


def parse_selection(
    *, customer: Any, project: Any = None, month: Any = None, since: Any = None,
    until: Any = None, zone: tzinfo | None = None,
) -> Selection:
    """Check the user's values: a customer id, and a month or a since/until pair of days.

    Raises ``ConfigurationError`` with one line naming the option and a valid example.
    """
    if month is not None and (since is not None or until is not None):
        raise ConfigurationError("give either --month (e.g. 2026-03) or --since and --until "
                                 "(e.g. --since 2026-03-01 --until 2026-04-01), not both")
    try:
        filters = parse_filters(month=month, customer=customer, project=project)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if filters.customer is None:
        raise ConfigurationError("a customer is required: --customer ID, e.g. --customer 3001")
    if filters.since is not None and filters.until is not None:
        first, end = filters.since, filters.until
    elif since is not None and until is not None:
        first, end = parse_date(since, "--since"), parse_date(until, "--until")
        if end <= first:
            raise ConfigurationError(f"--until ({end}) must be after --since ({first}); until "
                                     "is the day after the last, e.g. --since 2026-03-01 "
                                     "--until 2026-04-01 for March")
    else:
        raise ConfigurationError("give the period: --month YYYY-MM, or --since and --until "
                                 "(e.g. --month 2026-03)")
    return Selection(filters.customer, filters.project, first, end, zone or configured_timezone())


@dataclass(frozen=True)
class Entry:
    """One selected entry with its hours (time entries only) and value."""

    id: int
    type: int
    projects_id: int | None
    services_id: int | None
    lumpsum_services_id: int | None
    text: str | None
    hourly_rate: float | None
    lumpsum: float | None
    amount: float | None
    price: float | None
    day: date
    hours: float | None
    value: float | None


@dataclass(frozen=True)
class Selected:
    """What the destination holds for a selection: the entries and the names to title them."""

    selection: Selection
    since: datetime
    until: datetime
    customer_name: str
    names: dict[str, dict[int, str]]
    entries: list[Entry]

    @property
    def entry_ids(self) -> list[int]:
        return sorted(entry.id for entry in self.entries)

    @property
    def hours(self) -> float:
        return sum(entry.hours or 0.0 for entry in self.entries)

    @property
    def value(self) -> float:
        return sum(entry.value or 0.0 for entry in self.entries)

    def name(self, table: str, key: int | None) -> str:
        return self.names[table].get(key, f"#{key}") if key is not None else ""


def read_selection(pipeline: dlt.Pipeline, selection: Selection,
                   now: datetime | None = None) -> Selected:
    """The selected entries and names from the pipeline's dataset (DuckDB or PostgreSQL)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    since, until = selection.instants(moment)
    try:
        dialect = dialect_for(pipeline)
    except ValueError as exc:
        raise ConfigurationError(f"billing reads the destination with SQL: {exc}") from None
    try:
        with pipeline.sql_client() as client:
            ctx = SqlContext(dialect, client.make_qualified_table_name, moment)
            customer = _rows(client, f"SELECT name FROM {ctx.table('customers')} WHERE id = "
                                     f"{selection.customer}")
            names = {table: _names(client, ctx.table(table)) for table in _NAMED}
            owners = dict(_rows(client, f"SELECT id, customers_id FROM {ctx.table('projects')}"))
            rows = _rows(client, _entries_sql(ctx, selection, since, until))
    except DestinationUndefinedEntity:
        raise ConfigurationError(
            f"dataset {pipeline.dataset_name} holds no loaded Clockodo data (entries, customers, "
            "projects, services, lumpsum_services): run `clockodo-pipeline run` first"
        ) from None
    if not customer:
        raise ConfigurationError(
            f"customer {selection.customer} is not among the loaded customers of dataset "
            f"{pipeline.dataset_name}: check the id, or load it with `clockodo-pipeline run`"
        )
    if selection.project is not None and owners.get(selection.project) != selection.customer:
        where = (f"belongs to customer {owners[selection.project]}"
                 if selection.project in owners else "is not among the loaded projects")
        raise ConfigurationError(
            f"project {selection.project} {where}, not customer {selection.customer}: "
            "check --project and --customer"
        )
    entries = [_entry(row, selection.zone) for row in rows]
    return Selected(selection, since, until, str(customer[0][0]), names, entries)


def _entries_sql(ctx: SqlContext, selection: Selection, since: datetime,
                 until: datetime) -> str:
    d = ctx.dialect
    project = "" if selection.project is None else f" AND e.projects_id = {selection.project}"
    columns = ", ".join(f"e.{name}" for name in _ENTRY_COLUMNS)
    # ids are validated integers, and the instants are rendered by the dialect
    return f"""WITH selected AS (
    SELECT {columns}, e.revenue, {entry_seconds(ctx)} AS entry_seconds
    FROM {ctx.table("entries")} AS e
    WHERE e.billable = 1 AND e.customers_id = {selection.customer}{project}
        AND e.time_since >= {d.timestamp(since)} AND e.time_since < {d.timestamp(until)}
)
SELECT {", ".join(_ENTRY_COLUMNS)}, entry_seconds / 3600 AS hours,
    {entry_value("entry_seconds")} AS value
FROM selected
ORDER BY time_since, id"""


def _rows(client: SqlClientBase[Any], sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in client.execute_sql(sql) or []]


def _names(client: SqlClientBase[Any], table: str) -> dict[int, str]:
    return {int(key): str(name) for key, name in _rows(client, f"SELECT id, name FROM {table}")}


def _entry(row: tuple[Any, ...], zone: tzinfo) -> Entry:
    (key, type_, project, service, lumpsum_service, text, rate, lumpsum, amount, price,
     started, hours, value) = row
    moment = as_utc(started)
    return Entry(
        id=int(key), type=int(type_), projects_id=_int(project), services_id=_int(service),
        lumpsum_services_id=_int(lumpsum_service), text=text, hourly_rate=_float(rate),
        lumpsum=_float(lumpsum), amount=_float(amount), price=_float(price),
        day=moment.astimezone(zone).date(), hours=_float(hours), value=_float(value),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
