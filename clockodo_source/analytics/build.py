"""Building the analytics models in the pipeline's dataset.

Each model is replaced as a whole: on PostgreSQL in one transaction (refilled in place while
its columns stay the same, so views over it survive), elsewhere ``CREATE OR REPLACE TABLE``
swaps it in one statement. A failing model therefore leaves its previous version in place,
never a half-built table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.sql_client import SqlClientBase

from clockodo_source.analytics.dialect import Dialect, dialect_for
from clockodo_source.analytics.models import MODELS, Model, SqlContext
from clockodo_source.analytics.storage import stored_columns
from clockodo_source.calendar import configured_timezone
from clockodo_source.rows import as_utc


def build_models(pipeline: dlt.Pipeline, now: datetime | None = None,
                 zone: tzinfo | None = None) -> dict[str, int]:
    """(Re)build every model whose source tables are loaded; returns rows per built model.

    ``now`` is the moment the models describe (default: the current time): entries starting
    after it are left out, a running entry counts up to it, and its date is "today".
    ``zone`` is the calendar of days, weeks and months (default: the ``timezone`` option of
    ``[sources.clockodo]``, UTC unless set), so an entry at 00:30 on the 1st in Berlin counts
    in that month with ``Europe/Berlin``.
    A model whose source tables or columns are missing (a run restricted to some entities)
    is skipped and left out of the result.
    """
    moment = as_utc(now or datetime.now(UTC))
    calendar = zone or configured_timezone()
    dialect = dialect_for(pipeline)
    try:
        present = stored_columns(pipeline, {t for model in MODELS for t in model.inputs})
    except DestinationUndefinedEntity:
        return {}
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        ctx = SqlContext(dialect, client.make_qualified_table_name, moment, calendar)
        for model in MODELS:
            if _has_inputs(model, present):
                counts[model.name] = _replace(client, dialect, model, ctx)
                if dialect.comment_on:
                    _describe(client, model)
    return counts


def _describe(client: SqlClientBase[Any], model: Model) -> None:
    """The model's words (its module's doc and column descriptions) as the warehouse's
    comments, so a catalog browser shows what the MCP server and the dbt package say."""
    table = client.make_qualified_table_name(model.name)
    client.execute_many(
        [f"COMMENT ON TABLE {table} IS {_text(model.description)}"]
        + [f"COMMENT ON COLUMN {table}.{client.escape_column_name(name)} IS {_text(words)}"
           for name, words in model.columns.items()])


def _text(words: str) -> str:
    return "'" + words.replace("'", "''") + "'"


def _has_inputs(model: Model, present: Mapping[str, frozenset[str]]) -> bool:
    return all(
        table in present and set(columns) <= present[table]
        for table, columns in model.inputs.items()
    )


def _replace(client: SqlClientBase[Any], dialect: Dialect, model: Model, ctx: SqlContext) -> int:
    table = client.make_qualified_table_name(model.name)
    select = model.select(ctx)
    if dialect.create_or_replace:
        client.execute_sql(dialect.replace_table(table, select)[0])
    else:
        with client.begin_transaction():
            for statement in _refill(client, model.name, table, select) \
                    or dialect.replace_table(table, select):
                client.execute_sql(statement)
    rows = client.execute_sql(f"SELECT COUNT(*) FROM {table}")
    return int(rows[0][0]) if rows else 0


def _refill(client: SqlClientBase[Any], name: str, table: str, select: str) -> list[str]:
    """Statements that refill a stored model of unchanged columns in place (none otherwise).

    PostgreSQL refuses to drop a table that a view reads (the union dataset's `clockodo_all`
    views, or a BI tool's), so a model is only dropped and created anew when its columns
    changed (and the views on its old shape with it, see `Dialect.replace_table`)."""
    stored = [row[0] for row in client.execute_sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
        "table_name = %s ORDER BY ordinal_position", client.dataset_name, name) or []]
    with client.execute_query(f"SELECT * FROM (\n{select}\n) AS model LIMIT 0") as cursor:
        columns = [column[0] for column in cursor.description or ()]
    if not stored or stored != columns:
        return []
    return [f"DELETE FROM {table}", f"INSERT INTO {table} {select}"]
