"""Every column of every row of every table, compared with the fake company's own data.

Expected rows are the wire rows the fake serves, flattened the way dlt does (a nested object
becomes `parent__child` columns, a list a child table whose rows point at their parent's
`_dlt_id`), each value converted by the type of the column that holds it: ISO date-times to UTC
instants, dates to dates, a key the wire row lacks to NULL. Where a destination keeps a nested
value as one JSON column (Delta files of merged tables), that column holds the nested value.

The comparison starts from what the destination holds (its tables and columns) and the wire
rows, never from a list of columns written here, so drift fails: a stored data column no wire
row has a field for, or a wire field no column holds. Values are normalised only as far as
destinations differ (naive or aware datetimes, Decimal or float, JSON as text or parsed); an
empty text and NULL never become equal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import dlt
from dlt.common.destination.client import WithStateSync
from dlt.common.libs.deltalake import get_delta_tables
from dlt.common.schema import Schema

from clockodo_source.fake.company import FakeCompany
from clockodo_source.settings import ENTITIES, WORK_TIMES_START
from tests.expected import expected_keys, first_entry_day

Key = tuple[Any, ...]
Row = dict[str, Any]

#: Master-data tables and the fake's list each is served from
_LISTS = {
    "projects": "projects", "customers": "customers", "users": "users", "teams": "teams",
    "services": "services", "lumpsum_services": "lumpsum_services",
    "surcharges": "surcharge_models", "target_hours": "target_hours",
    "overtime_carries": "overtime_carries", "holidays_quota": "holidays_quotas",
    "holidays_carries": "holidays_carries",
}
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: dlt's columns of a child table that place a row under its parent
_PARENT, _INDEX, _ID = "_dlt_parent_id", "_dlt_list_idx", "_dlt_id"
#: shown of a failed comparison; the count says how many there were
_SHOWN = 25
_NIGHT_FLAGS = ("time_since_is_previous_day", "time_until_is_next_day")
#: Declared columns the fake never serves a value for, and why. Listing one the fake does
#: serve, or that is not stored, fails too, so this only ever shrinks.
NOT_SERVED: dict[str, dict[str, str]] = {
    "entries": {"offset": "SDK/legacy field, sent when duration differs from until - since; "
                          "the fake never sends it"},
    "work_times": {"offset": "sent only for days before 2023-01-01; work times start later"},
    "surcharges": {
        f"{kind}__{flag}": "the API sends the day flags only for the non-night kinds"
        for kind in ("night", "night_increased") for flag in _NIGHT_FLAGS
    },
}


def wire_rows(company: FakeCompany, start: date) -> dict[str, list[Row]]:
    """Every row the fake serves per table to a full scan from `start`, as the source requests
    it (enhanced entry lists, user reports of the catalog's type); the expected keys choose
    among them (entries of the scanned range, absences of its years)."""
    now = company.now
    years = range(start.year, now.year + 2)
    report_type = int(dict(ENTITIES["user_reports"].params).get("type", 0))
    rows: dict[str, list[Row]] = {
        table: company.master(name) for table, name in _LISTS.items()
    }
    rows["customers_projects"] = [
        {"customers_id": project["customers_id"], "projects_id": project["id"]}
        for project in rows["projects"]
    ]
    rows["entries"] = company.all_entries()
    rows["absences"] = company.master("absences")
    rows["work_times"] = [
        day for user in company.users
        for day in company.work_time_days(user["id"], max(start, WORK_TIMES_START), now.date())
    ]
    rows["non_business_days"] = [row for year in years for row in company.nonbusiness_days(year)]
    # the API's report has no year: the source stores the one it asked for
    rows["user_reports"] = [
        {**row, "year": year} for year in years for row in company.user_reports(year, report_type)
    ]
    return rows


# ------------------------------------------------------------------ values


def _instant(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _nested(value: Any) -> Any:
    """A nested (JSON) value with its date-times as UTC instants and its dates as dates."""
    if isinstance(value, dict):
        return {key: _nested(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nested(item) for item in value]
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        return _instant(datetime.fromisoformat(value))
    if isinstance(value, str) and _DATE.fullmatch(value):
        return date.fromisoformat(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def expected_value(value: Any, data_type: str | None) -> Any:
    """A wire value as a column of `data_type` must hold it; one that does not fit the type
    stays as it is, so the comparison shows it."""
    if value is None:
        return None
    if data_type == "timestamp" and isinstance(value, str) and _DATETIME.fullmatch(value):
        return _instant(datetime.fromisoformat(value))
    if data_type == "date" and isinstance(value, str) and _DATE.fullmatch(value):
        return date.fromisoformat(value)
    if data_type == "double" and _is_number(value):
        return float(value)
    if data_type == "json":
        return _nested(value)
    return value


def stored_value(value: Any, data_type: str | None) -> Any:
    """A stored value in the form `expected_value` gives, whatever the destination returned."""
    if value is None:
        return None
    if data_type == "timestamp" and isinstance(value, datetime):
        return _instant(value)
    if data_type == "double" and _is_number(value):
        return float(value)
    if data_type == "bigint" and isinstance(value, Decimal) and value == int(value):
        return int(value)
    if data_type == "json":
        return _nested(json.loads(value) if isinstance(value, str) else value)
    return value


# ------------------------------------------------------------------ stored


@dataclass
class Stored:
    """One table as the destination holds it."""

    name: str
    parent: str | None
    columns: dict[str, str | None]  # name -> dlt data type
    rows: list[Row]


def _schema_types(schema: Schema, table: str) -> tuple[str | None, dict[str, Any]]:
    hints = schema.tables.get(table, {})
    columns = schema.get_table_columns(table) if table in schema.tables else {}
    return hints.get("parent"), {name: column.get("data_type") for name, column in columns.items()}


def _sql_tables(pipeline: dlt.Pipeline, known: set[str]
                ) -> Iterator[tuple[str, list[str], list[tuple[Any, ...]]]]:
    with pipeline.sql_client() as client:
        names = [row[0] for row in client.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            pipeline.dataset_name)]
        for name in sorted(set(names) & known):
            with client.execute_query(
                    f"SELECT * FROM {client.make_qualified_table_name(name)}") as cursor:
                columns = [column[0] for column in cursor.description]
                yield name, columns, list(cursor.fetchall())


def _delta_tables(pipeline: dlt.Pipeline, known: set[str]
                  ) -> Iterator[tuple[str, list[str], list[tuple[Any, ...]]]]:
    for name, table in sorted(get_delta_tables(pipeline).items()):
        if name not in known:
            continue
        data = table.to_pyarrow_table()
        yield name, data.column_names, [tuple(row.values()) for row in data.to_pylist()]


def _loaded_schema(pipeline: dlt.Pipeline) -> Schema:
    """The dlt schema the data was loaded with: the pipeline's own, else the one its
    destination holds for it, else the newest one there (a pipeline of another name that
    only reads what a CLI run loaded)."""
    if pipeline.default_schema_name is None:
        pipeline.sync_destination()
    if pipeline.default_schema_name is not None:
        return pipeline.default_schema
    with pipeline.destination_client() as client:
        assert isinstance(client, WithStateSync), "the destination keeps no dlt schema"
        stored = client.get_stored_schema()
    assert stored is not None, f"nothing was loaded into {pipeline.dataset_name}"
    return Schema.from_dict(json.loads(stored.schema))


def stored_tables(pipeline: dlt.Pipeline) -> dict[str, Stored]:
    """Every table of the dlt schema the destination holds, with every column it has there
    (SQL destinations through dlt's SQL client, Delta tables through deltalake); tables dlt
    did not load (analytics models) are not the source's."""
    reader = (_delta_tables if pipeline.destination.destination_name == "filesystem"
              else _sql_tables)
    schema = _loaded_schema(pipeline)
    tables = {}
    for name, columns, rows in reader(pipeline, set(schema.data_table_names())):
        parent, types = _schema_types(schema, name)
        typed = {column: types.get(column) for column in columns}
        tables[name] = Stored(name, parent, typed, [
            {column: stored_value(value, typed[column])
             for column, value in zip(columns, row, strict=True)}
            for row in rows
        ])
    return tables


# ------------------------------------------------------------------ flattening


@dataclass
class Flattened:
    """Expected rows per table and key, and the columns the wire rows gave values for."""

    rows: dict[str, dict[Key, Row]] = field(default_factory=dict)
    fields: dict[str, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _add(stored: Mapping[str, Stored], out: Flattened, table: str, wire: Mapping[str, Any],
         key: Key) -> None:
    """Flatten one wire row into `table` as dlt does, guided by the stored columns: a nested
    value the destination keeps whole stays whole; a null object covers its flattened
    columns; a null list is an empty child table."""
    columns = stored[table].columns if table in stored else {}
    row: Row = {}

    def walk(prefix: str, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            column = prefix + name
            child = f"{table}__{column}"
            if column in columns or (value is None and not _covers(columns, column)
                                     and child not in stored):
                row[column] = value
            elif isinstance(value, dict):
                walk(column + "__", value)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    nested = item if isinstance(item, dict) else {"value": item}
                    _add(stored, out, child, nested, (*key, (column, index)))
            elif value is None:
                row.update(dict.fromkeys(_covered(columns, column)))
            else:
                row[column] = value

    walk("", wire)
    out.fields.setdefault(table, set()).update(row)
    converted = {name: expected_value(value, columns.get(name)) for name, value in row.items()}
    for column, value in row.items():
        if columns.get(column) == "text" and isinstance(value, str) and (
                _DATETIME.fullmatch(value) or _DATE.fullmatch(value)):
            out.problems.append(f"{table}.{column} holds the date/time {value!r} as text")
    table_rows = out.rows.setdefault(table, {})
    if key in table_rows:
        out.problems.append(f"{table}: the fake serves key {key} twice")
    table_rows[key] = converted


def _covered(columns: Mapping[str, Any], prefix: str) -> list[str]:
    return [column for column in columns if column.startswith(prefix + "__")]


def _covers(columns: Mapping[str, Any], prefix: str) -> bool:
    return bool(_covered(columns, prefix))


def _root_key(table: str, row: Row) -> Key:
    return tuple(row.get(column) for column in ENTITIES[table].primary_key)


def expected_rows(company: FakeCompany, stored: Mapping[str, Stored],
                  start: date | None = None) -> Flattened:
    """The rows a full scan from `start` (default: the first entry's day) must have stored,
    flattened per table and keyed by primary key, child rows by their path below it."""
    start = start or first_entry_day(company)
    wanted = expected_keys(company, start)
    out = Flattened()
    for table, rows in wire_rows(company, start).items():
        types = stored[table].columns if table in stored else {}
        found: set[Key] = set()
        for wire in rows:
            key = tuple(expected_value(wire.get(column), types.get(column))
                        for column in ENTITIES[table].primary_key)
            if key in wanted[table]:
                found.add(key)
                _add(stored, out, table, wire, key)
        out.rows.setdefault(table, {})
        for key in sorted(wanted[table] - found, key=repr)[:_SHOWN]:
            out.problems.append(f"{table}: the fake serves no row for expected key {key}")
    return out


# ------------------------------------------------------------------ comparison


def _stored_keyed(stored: Mapping[str, Stored]) -> tuple[dict[str, dict[Key, Row]], list[str]]:
    """Stored rows per table keyed like `expected_rows`: root rows by primary key, child rows
    by their parent's key and their place in the parent's list."""
    keyed: dict[str, dict[Key, Row]] = {}
    by_id: dict[str, Key] = {}
    problems: list[str] = []
    for table in sorted(stored, key=lambda name: name.count("__")):
        part = stored[table]
        rows: dict[Key, Row] = keyed.setdefault(table, {})
        for row in part.rows:
            if part.parent is None:
                key = _root_key(table, row)
            elif row.get(_PARENT) not in by_id:
                problems.append(f"{table}: a row whose parent is not stored: {row}")
                continue
            else:
                column = table[len(part.parent) + 2:]
                key = (*by_id[row[_PARENT]], (column, row[_INDEX]))
            if key in rows:
                problems.append(f"{table}: key {key} is stored twice")
            rows[key] = row
            if row.get(_ID) is not None:
                by_id[row[_ID]] = key
    return keyed, problems


def _data_columns(columns: Mapping[str, Any]) -> set[str]:
    return {column for column in columns if not column.startswith("_")}


def _compare_table(table: str, stored: Stored | None, expected: dict[Key, Row],
                   actual: dict[Key, Row], fields: set[str], stale: set[Key]) -> list[str]:
    problems = []
    columns = stored.columns if stored else {}
    data = _data_columns(columns)
    unserved = set(NOT_SERVED.get(table, {}))
    for column in sorted(data - fields - unserved):
        # a declared field this company never serves (no monthly target hours) stays NULL
        if any(row.get(column) is not None for row in actual.values()):
            problems.append(f"{table}.{column} is stored but no wire row has that field")
    for column in sorted(unserved & fields):
        problems.append(f"{table}.{column} is served now: remove it from NOT_SERVED")
    for column in sorted(unserved - data):
        problems.append(f"{table}.{column} is not stored: remove it from NOT_SERVED")
    for column in sorted(fields - data):
        problems.append(f"{table}: wire field {column!r} has no stored column")
    for column in sorted(set(columns) - data):
        if not column.startswith("_dlt_") and column != "_deleted":
            problems.append(f"{table}.{column}: a column of ours nobody compares")
    for key in sorted(expected.keys() - actual.keys(), key=repr)[:_SHOWN]:
        problems.append(f"{table}: row {key} is missing")
    for key in sorted(actual.keys() - expected.keys(), key=repr)[:_SHOWN]:
        problems.append(f"{table}: row {key} is stored but the fake has none")
    for key in sorted(expected.keys() & actual.keys() - stale, key=repr):
        want, got = expected[key], actual[key]
        if got.get("_deleted"):
            problems.append(f"{table}: row {key} is stored as deleted")
        for column in sorted(data & (fields | unserved)):
            if want.get(column) != got.get(column) or (
                    type(want.get(column)) is not type(got.get(column))):
                problems.append(f"{table} {key}.{column}: stored {got.get(column)!r}, "
                                f"the fake serves {want.get(column)!r}")
    return problems


def assert_exact(pipeline: dlt.Pipeline, company: FakeCompany, start: date | None = None,
                 stale: Mapping[str, Iterable[Key]] | None = None) -> None:
    """The destination holds exactly the fake's rows of a full scan from `start`: every row
    once, every column of it equal to the wire value, child tables included. Rows of `stale`
    (per table, primary keys) must be there but may hold older values: edits a run was not
    meant to see."""
    skipped = {table: set(keys) for table, keys in (stale or {}).items()}
    stored = stored_tables(pipeline)
    expected = expected_rows(company, stored, start)
    actual, problems = _stored_keyed(stored)
    problems = [*expected.problems, *problems]
    for table in sorted(stored.keys() | expected.rows.keys()):
        problems += _compare_table(table, stored.get(table), expected.rows.get(table, {}),
                                   actual.get(table, {}), expected.fields.get(table, set()),
                                   skipped.get(table, set()))
    shown = "\n".join(problems[:_SHOWN])
    assert not problems, f"{len(problems)} differences from the fake's data:\n{shown}"
