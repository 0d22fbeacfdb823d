"""Dataset ``clockodo_all``: every account's tables and models side by side, as views.

An agency loads each Clockodo account into a dataset of its own; to compare them it wants one
table per entity. Each view here is the ``UNION ALL`` of that table in every account's dataset
that holds it, with an ``_account`` column naming the account. Columns are matched by name: a
column that one account lacks (a field only its API returns, a table it may not read) is null
in that account's rows, so a new field in one account never breaks the views. They are views,
not copies: a load into an account shows at once; only a change of the tables' columns needs
a rebuild, which every load of an account does. dlt's `_dlt_loads` is united too, so alerts can
tell when data last arrived (from any account). PostgreSQL keeps a view's tables from being
dropped: the models are therefore refilled in place (`analytics.build`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dlt
from dlt.common.schema.typing import LOADS_TABLE_NAME
from dlt.destinations.sql_client import SqlClientBase

from clockodo_source.analytics.models import MODELS
from clockodo_source.settings import ENTITIES

UNION_DATASET = "clockodo_all"
ACCOUNT_COLUMN = "_account"
_MODEL_NAMES = frozenset(model.name for model in MODELS)


def in_union(table: str) -> bool:
    """A table of the source (child tables included), a model, or dlt's record of loads (which
    alerts read to tell when data last arrived); not per-dataset bookkeeping such as alert
    state or dlt's pipeline state."""
    return (table.split("__", 1)[0] in ENTITIES or table in _MODEL_NAMES
            or table == LOADS_TABLE_NAME)


def rebuild_union(pipeline: dlt.Pipeline, datasets: Mapping[str, str],
                  union: str = UNION_DATASET) -> dict[str, list[str]]:
    """Replace the views of dataset ``union`` in ``pipeline``'s destination by the union of
    ``datasets`` (account name -> its dataset; accounts not loaded yet are left out).

    Returns the accounts in each view. All views are replaced in one transaction, so a reader
    sees either the old set or the new one.
    """
    with pipeline.sql_client() as client:
        stored = _stored_columns(client, datasets.values())
        views: dict[str, list[tuple[str, str]]] = {}  # view -> (account, dataset) with the table
        for account, dataset in sorted(datasets.items()):
            for table in sorted(stored.get(dataset, {})):
                if in_union(table):
                    views.setdefault(table, []).append((account, dataset))
        with client.with_alternative_dataset_name(union):
            if not client.has_dataset():
                client.create_dataset()
            existing = _views(client, union)
            with client.begin_transaction():
                for view in existing:
                    client.execute_sql(f"DROP VIEW {client.make_qualified_table_name(view)}")
                for view, sources in views.items():
                    select = _union_select(client, view, sources, stored)
                    client.execute_sql(
                        f"CREATE VIEW {client.make_qualified_table_name(view)} AS {select}"
                    )
    return {view: [account for account, _ in sources] for view, sources in views.items()}


def _stored_columns(client: SqlClientBase[Any], datasets: Iterable[str]
                    ) -> dict[str, dict[str, list[str]]]:
    """Column names in storage order per table per dataset, from the information schema."""
    wanted = sorted(set(datasets))
    if not wanted:
        return {}
    marks = ", ".join(["%s"] * len(wanted))
    rows = client.execute_sql(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        f"WHERE table_catalog = current_database() AND table_schema IN ({marks}) "
        "ORDER BY table_schema, table_name, ordinal_position", *wanted) or []
    found: dict[str, dict[str, list[str]]] = {}
    for dataset, table, column in rows:
        found.setdefault(str(dataset), {}).setdefault(str(table), []).append(str(column))
    return found


def _views(client: SqlClientBase[Any], dataset: str) -> list[str]:
    rows = client.execute_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema = %s AND table_type = 'VIEW'", dataset) or []
    return [str(row[0]) for row in rows]


def _union_select(client: SqlClientBase[Any], view: str, sources: list[tuple[str, str]],
                  stored: Mapping[str, Mapping[str, list[str]]]) -> str:
    """One SELECT per account over every column any of them has (in first-seen order)."""
    columns: list[str] = []
    for _, dataset in sources:
        columns += [c for c in stored[dataset][view] if c not in columns and c != ACCOUNT_COLUMN]
    selects = []
    for account, dataset in sources:
        present = set(stored[dataset][view])
        # account names are validated identifiers ([a-z0-9_]), safe as a literal
        parts = [f"'{account}' AS {client.escape_column_name(ACCOUNT_COLUMN)}"]
        parts += [client.escape_column_name(c) if c in present
                  else f"NULL AS {client.escape_column_name(c)}" for c in columns]
        table = ".".join(client.make_qualified_table_name_path(view, dataset_name=dataset))
        selects.append(f"SELECT {', '.join(parts)} FROM {table}")
    return " UNION ALL ".join(selects)
