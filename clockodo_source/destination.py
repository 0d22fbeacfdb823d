"""Read-only look-ups of what the destination already holds for a table and range.

Clockodo leaves no trace of deleted rows, so the only way to find them is to compare what a
re-read range returns with what was stored for that range before. The comparison reads the
destination through dlt's own SQL client, so it works on every SQL destination and on
filesystem tables alike, and needs no per-row state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity, SqlClientNotAvailable
from dlt.destinations.sql_client import SqlClientBase
from dlt.pipeline.exceptions import PipelineConfigMissing


class StoredRows:
    """Keys (and optionally extra columns) stored in one table, selected by a range column.

    Look-ups happen inside `connected()`, which holds one connection for a whole scan:
    opening dlt's SQL client costs tens of milliseconds, a scan makes one query per window.
    """

    def __init__(
        self, table: str, key_columns: Sequence[str], range_column: str | None = None
    ) -> None:
        self.table = table
        self.key_columns = tuple(key_columns)
        self.range_column = range_column
        self._client: SqlClientBase[Any] | None = None

    @contextmanager
    def connected(self) -> Iterator[StoredRows]:
        try:
            client = dlt.current.pipeline().sql_client()
        except (SqlClientNotAvailable, PipelineConfigMissing):
            yield self  # no destination: nothing was stored
            return
        with client:
            self._client = client
            try:
                yield self
            finally:
                self._client = None

    def select(
        self, lower: Any = None, upper: Any = None, extra: Sequence[str] = ()
    ) -> list[tuple[Any, ...]]:
        """The key columns, then `extra` ones, of rows with `lower <= range_column < upper`
        (of all rows without a range column); empty when nothing was loaded yet."""
        client = self._client
        if client is None:
            return []
        columns = ", ".join(
            client.escape_column_name(name) for name in (*self.key_columns, *extra)
        )
        query = f"SELECT {columns} FROM {client.make_qualified_table_name(self.table)}"
        args: tuple[Any, ...] = ()
        if self.range_column:
            column = client.escape_column_name(self.range_column)
            query += f" WHERE {column} >= %s AND {column} < %s"
            args = (lower, upper)
        try:
            return [tuple(row) for row in client.execute_sql(query, *args) or []]
        except DestinationUndefinedEntity:
            return []
