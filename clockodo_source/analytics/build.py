"""Building the analytics models in the pipeline's dataset.

Each model is replaced as a whole: where the warehouse has transactional DDL (DuckDB,
PostgreSQL) the old table is dropped and the new one created in one transaction, elsewhere
``CREATE OR REPLACE TABLE`` swaps it in one statement. A failing model therefore leaves its
previous version in place, never a half-built table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.sql_client import SqlClientBase

from clockodo_source.analytics.dialect import Dialect, dialect_for
from clockodo_source.analytics.models import MODELS, Model, SqlContext
from clockodo_source.analytics.storage import stored_columns


def build_models(pipeline: dlt.Pipeline, now: datetime | None = None) -> dict[str, int]:
    """(Re)build every model whose source tables are loaded; returns rows per built model.

    ``now`` is the moment the models describe (default: the current time): entries starting
    after it are left out, a running entry counts up to it, and its UTC date is "today".
    A model whose source tables or columns are missing (a run restricted to some entities)
    is skipped and left out of the result.
    """
    moment = _as_utc(now or datetime.now(UTC))
    dialect = dialect_for(pipeline)
    try:
        present = stored_columns(pipeline, {t for model in MODELS for t in model.inputs})
    except DestinationUndefinedEntity:
        return {}
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        ctx = SqlContext(dialect, client.make_qualified_table_name, moment)
        for model in MODELS:
            if _has_inputs(model, present):
                counts[model.name] = _replace(client, dialect, model, ctx)
    return counts


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _has_inputs(model: Model, present: Mapping[str, frozenset[str]]) -> bool:
    return all(
        table in present and set(columns) <= present[table]
        for table, columns in model.inputs.items()
    )


def _replace(client: SqlClientBase[Any], dialect: Dialect, model: Model, ctx: SqlContext) -> int:
    table = client.make_qualified_table_name(model.name)
    statements = dialect.replace_table(table, model.select(ctx))
    if dialect.create_or_replace:
        client.execute_sql(statements[0])
    else:
        with client.begin_transaction():
            for statement in statements:
                client.execute_sql(statement)
    rows = client.execute_sql(f"SELECT COUNT(*) FROM {table}")
    return int(rows[0][0]) if rows else 0
