"""Read-only look-ups of what the destination already holds for a table and range.

Clockodo leaves no trace of deleted rows, so the only way to find them is to compare what a
re-read range returns with what was stored for that range before. SQL destinations are read
through dlt's own SQL client; the filesystem destination keeps merged tables as Delta tables,
read with the `deltalake` library (DuckDB would need an extension download to read them).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.destination.exceptions import DestinationUndefinedEntity, SqlClientNotAvailable
from dlt.destinations.sql_client import SqlClientBase
from dlt.pipeline.exceptions import PipelineConfigMissing

from clockodo_source.settings import ROW_ID_COLUMN
from clockodo_source.stats import Key

Rows = list[tuple[Any, ...]]


class Reader(Protocol):
    def select(self, table: str, columns: Sequence[str], range_column: str | None,
               lower: Any, upper: Any) -> pa.Table | None: ...

    def count(self, table: str) -> int | None: ...


class SqlReader:
    def __init__(self, client: SqlClientBase[Any]) -> None:
        self.client = client

    def select(self, table: str, columns: Sequence[str], range_column: str | None,
               lower: Any, upper: Any) -> pa.Table | None:
        """As arrow: DuckDB hands its result over in columns, without a Python object per
        value."""
        escape = self.client.escape_column_name
        query = (f"SELECT {', '.join(escape(name) for name in columns)} "
                 f"FROM {self.client.make_qualified_table_name(table)}")
        args: tuple[Any, ...] = ()
        if range_column:
            query += f" WHERE {escape(range_column)} >= %s AND {escape(range_column)} < %s"
            args = (lower, upper)
        try:
            with self.client.execute_query(query, *args) as cursor, warnings.catch_warnings():
                # DuckDB 2 renamed the arrow fetch that dlt 1.31's `cursor.arrow()` calls, and
                # warns of a copy of the result, which is a window's keys: cheap
                warnings.simplefilter("ignore", UserWarning)
                native = getattr(cursor.native_cursor, "to_arrow_table", None)
                result: pa.Table | None = native() if native else cursor.arrow()
        except DestinationUndefinedEntity:
            return None
        return result

    def count(self, table: str) -> int | None:
        try:
            name = self.client.make_qualified_table_name(table)
            result = self.client.execute_sql(f"SELECT COUNT(*) FROM {name}")
        except DestinationUndefinedEntity:
            return None
        return int(result[0][0]) if result else 0


class DeltaReader:
    def __init__(self, pipeline: dlt.Pipeline) -> None:
        self.pipeline = pipeline

    def _dataset(self, table: str) -> Any:
        from dlt.common.libs.deltalake import get_delta_tables

        try:
            found = get_delta_tables(self.pipeline, table)
        except (ValueError, FileNotFoundError):
            return None
        return found[table].to_pyarrow_dataset() if table in found else None

    def select(self, table: str, columns: Sequence[str], range_column: str | None,
               lower: Any, upper: Any) -> pa.Table | None:
        dataset = self._dataset(table)
        if dataset is None:
            return None
        condition = None
        if range_column:
            field = pc.field(range_column)
            condition = (field >= lower) & (field < upper)
        result: pa.Table = dataset.to_table(columns=list(columns), filter=condition)
        return result

    def count(self, table: str) -> int | None:
        dataset = self._dataset(table)
        return None if dataset is None else int(dataset.count_rows())


@contextmanager
def reader(pipeline: dlt.Pipeline) -> Iterator[Reader | None]:
    """A reader of the pipeline's destination for the duration of the block; None when the
    pipeline has no destination to read."""
    if pipeline.destination is not None and pipeline.destination.destination_name == "filesystem":
        yield DeltaReader(pipeline)
        return
    try:
        client = pipeline.sql_client()
    except (SqlClientNotAvailable, PipelineConfigMissing):
        yield None
        return
    with client:
        yield SqlReader(client)


class StoredRows:
    """Keys (and optionally extra columns) stored in one table, selected by a range column.

    Look-ups happen inside `connected()`, which holds one connection for a whole scan:
    opening dlt's SQL client costs tens of milliseconds, a scan makes one query per window.
    """

    def __init__(
        self, table: str, key_columns: Sequence[str], range_column: str | None = None
    ) -> None:
        self.table_name = table
        self.key_columns = tuple(key_columns)
        self.range_column = range_column
        self._reader: Reader | None = None

    @contextmanager
    def connected(self) -> Iterator[StoredRows]:
        try:
            pipeline = dlt.current.pipeline()
        except PipelineConfigMissing:
            yield self
            return
        with reader(pipeline) as opened:
            self._reader = opened
            try:
                yield self
            finally:
                self._reader = None

    def table(self, lower: Any = None, upper: Any = None, extra: Sequence[str] = ()
              ) -> pa.Table | None:
        """The key columns, then `extra` ones, of rows with `lower <= range_column < upper`
        (of all rows without a range column); None when nothing was loaded yet."""
        if self._reader is None:
            return None
        found = self._reader.select(self.table_name, (*self.key_columns, *extra),
                                    self.range_column, lower, upper)
        return found if found is not None and found.num_rows else None

    def select(self, lower: Any = None, upper: Any = None, extra: Sequence[str] = ()) -> Rows:
        """`table()` as tuples, for tables small enough to compare row by row."""
        found = self.table(lower, upper, extra)
        if found is None:
            return []
        return list(zip(*(column.to_pylist() for column in found.columns), strict=True))

    def versions(self, lower: Any = None, upper: Any = None) -> dict[Key, str | None]:
        """Per stored key of the range, its row id: the version it was written as."""
        return {row[:-1]: row[-1] for row in self.select(lower, upper, extra=(ROW_ID_COLUMN,))}
