"""Reading a report's rows from its model, filtered, named and sorted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dlt
from dlt.destinations.sql_client import SqlClientBase

from clockodo_source.analytics.catalog import CODE_LABELS, NAME_COLUMNS, Report
from clockodo_source.analytics.dialect import Dialect
from clockodo_source.analytics.filters import Filters
from clockodo_source.analytics.storage import stored_columns

Row = dict[str, Any]
_MASTER_TABLES = tuple(table for _, table in NAME_COLUMNS.values())


class ModelNotBuiltError(LookupError):
    """The report's model table is not in the dataset (models not built, or inputs missing)."""


def report_rows(pipeline: dlt.Pipeline, report: Report, filters: Filters) -> list[Row]:
    """The model rows matching ``filters``, with names added, in the report's order."""
    present = stored_columns(pipeline, (report.model, *_MASTER_TABLES))
    if report.model not in present:
        raise ModelNotBuiltError(
            f"the {report.name} report reads the model table {report.model}, which dataset "
            f"{pipeline.dataset_name} does not hold: load its source tables, then build_models"
        )
    with pipeline.sql_client() as client:
        sql = _query(client, report, filters, "users" in present)
        columns = report.model_columns
        rows = [dict(zip(columns, values, strict=True)) for values in client.execute_sql(sql) or []]
        names = master_names(client, present)
    report_keys = {column.key for column in report.columns}
    for row in rows:
        for name_column, (id_column, table) in NAME_COLUMNS.items():
            if id_column in row:
                row[name_column] = label(names.get(table, {}), row[id_column], name_column)
        for label_column, (code_column, labels) in CODE_LABELS.items():
            if code_column in row and label_column in report_keys:
                row[label_column] = labels.get(int(row[code_column]), f"type {row[code_column]}")
    return _sorted(rows, report.order)


def _query(client: SqlClientBase[Any], report: Report, filters: Filters, users: bool) -> str:
    conditions = [report.where] if report.where else []
    if filters.since and filters.until and report.period_column:
        column = report.period_column
        conditions.append(f"{column} >= {Dialect.date(filters.since)} "
                          f"AND {column} < {Dialect.date(filters.until)}")
    if filters.year is not None and report.year_column:
        conditions.append(f"{report.year_column} = {filters.year}")
    # ids and years are validated integers, so they can be written into the SQL as literals
    if filters.customer is not None:
        conditions.append(f"customers_id = {filters.customer}")
    if filters.project is not None:
        conditions.append(f"projects_id = {filters.project}")
    if filters.team is not None:
        conditions.append(_team_condition(client, report, filters.team, users))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    table = client.make_qualified_table_name(report.model)
    return f"SELECT {', '.join(report.model_columns)} FROM {table}{where}"


def _team_condition(client: SqlClientBase[Any], report: Report, team: int, users: bool) -> str:
    if report.has_team_column:
        return f"teams_id = {team}"
    if not users:
        raise ValueError("team filter: the users table is not loaded, so members are unknown "
                         "(load it, e.g. --entities users)")
    return f"users_id IN (SELECT id FROM {client.make_qualified_table_name('users')} " \
           f"WHERE teams_id = {team})"


def master_names(client: SqlClientBase[Any], present: Mapping[str, Any]
                 ) -> dict[str, dict[int, str]]:
    """Names by id of the master tables (customers, projects, users, teams) in ``present``."""
    found = {}
    for table in _MASTER_TABLES:
        if table in present:
            sql = f"SELECT id, name FROM {client.make_qualified_table_name(table)}"
            found[table] = {int(row[0]): str(row[1]) for row in client.execute_sql(sql) or []}
    return found


def label(names: Mapping[int, str], key: Any, column: str) -> str:
    """The name a person recognizes for an id; ``#id`` when the name is unknown."""
    if key is None:
        return f"(no {column})"
    return names.get(int(key), f"#{key}")


def _sorted(rows: list[Row], order: tuple[str, ...]) -> list[Row]:
    """Stable multi-key sort; ``-key`` descends; nulls sort last either way."""
    for spec in reversed(order):
        key = spec.lstrip("-")
        descending = spec.startswith("-")
        present = [row for row in rows if row.get(key) is not None]
        missing = [row for row in rows if row.get(key) is None]
        present.sort(key=lambda row: row[key], reverse=descending)
        rows = present + missing
    return rows
