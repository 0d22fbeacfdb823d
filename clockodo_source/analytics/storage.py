"""Which tables and columns the pipeline's dataset really holds.

The dlt schema knows tables that were declared but never created (a run restricted with
``--entities``), so the models ask the destination itself, through dlt's job client, which
reads the warehouse's information schema in one query on every SQL destination.
"""

from __future__ import annotations

from collections.abc import Iterable

import dlt
from dlt.destinations.job_client_impl import SqlJobClientBase


def stored_columns(pipeline: dlt.Pipeline, tables: Iterable[str]) -> dict[str, frozenset[str]]:
    """Lower-cased column names per existing table among ``tables`` (missing ones left out)."""
    names = sorted(set(tables))
    with pipeline.destination_client() as client:
        if not isinstance(client, SqlJobClientBase):
            raise ValueError(
                f"analytics needs a SQL destination, not {pipeline.destination.destination_name!r}"
            )
        return {
            name: frozenset(column.lower() for column in columns)
            for name, columns in client.get_storage_tables(names)
            if columns
        }
