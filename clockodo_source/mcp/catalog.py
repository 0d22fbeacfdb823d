"""What the dataset's tables mean, for an agent writing SQL: one line per table and column
(units, codes) and the key, from where the tables are declared (the entity catalog, each
model's module), so that an agent reads what dlt's schema and the dbt package say.

``list_tables`` and ``describe_table`` join these words to what the database really holds
(tables, columns, types, row counts), read through a read-only connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dlt

from clockodo_source.alerts import STATE_TABLE
from clockodo_source.analytics import MODEL_NAMES
from clockodo_source.analytics.models import MODELS
from clockodo_source.billing import AUDIT_TABLE
from clockodo_source.mcp.readonly import read_only
from clockodo_source.settings import ENTITIES


@dataclass(frozen=True)
class About:
    """What a table holds."""

    description: str
    primary_key: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)


def _source_tables() -> dict[str, About]:
    """The loaded tables and their child tables, as the entity catalog describes them."""
    tables: dict[str, About] = {}
    for entity in ENTITIES.values():
        for table, (description, columns) in entity.descriptions().items():
            key = entity.primary_key if table == entity.name else ("_dlt_id",)
            tables[table] = About(description, key, columns)
    return tables


ABOUT: dict[str, About] = {
    **_source_tables(),
    **{model.name: About(f"model: {model.description}", model.key, dict(model.columns))
       for model in MODELS},
    AUDIT_TABLE: About("one row per mark-billed apply: what was asked, what Clockodo changed, "
                       "and the outcome (applied, refused, failed)",
                       columns={"until": "exclusive end day",
                                "entry_ids": "JSON list of the selected entries"}),
    STATE_TABLE: About("alerts as last evaluated by `clockodo-pipeline alerts`, and what "
                       "webhooks were told", ("key",)),
}


def about(table: str) -> About:
    """The words for ``table`` (nothing for a table of no one's)."""
    return ABOUT.get(table, About(""))


def _order(table: str) -> tuple[int, str]:
    """Loaded tables first (in the catalog's order, each followed by its children), then the
    models, then the rest."""
    head = table.split("__", 1)[0]
    if head in ENTITIES:
        return list(ENTITIES).index(head), table
    if table in MODEL_NAMES:
        return len(ENTITIES) + MODEL_NAMES.index(table), table
    return len(ENTITIES) + len(MODEL_NAMES), table


def list_tables(pipeline: dlt.Pipeline) -> list[dict[str, Any]]:
    """Every table of the dataset (dlt's own ``_dlt_*`` left out) with rows and description."""
    with read_only(pipeline) as session:
        names = sorted((name for name in session.tables() if not name.startswith("_dlt_")),
                       key=_order)
        return [{"name": name, "rows": session.count(name),
                 "description": about(name).description} for name in names]


def describe_table(pipeline: dlt.Pipeline, name: str) -> dict[str, Any] | None:
    """Columns with database types, the primary key and the description; None when the
    dataset holds no such table."""
    with read_only(pipeline) as session:
        if name not in session.tables():
            return None
        columns = session.columns(name)
    described = about(name)
    return {
        "name": name,
        "description": described.description,
        "primary_key": list(described.primary_key),
        "columns": [{"name": column, "type": kind, **({"meaning": described.columns[column]}
                                                      if column in described.columns else {})}
                    for column, kind in columns],
    }
