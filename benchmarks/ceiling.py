"""The local ceilings: the same entry pages, already in memory, loaded without HTTP or connector.

``dlt_ceiling`` is a lean path through dlt (orjson, one arrow table per page with the catalog's
column types, dlt's arrow path with parquet, merge on ``id`` as the connector does);
``read_json_ceiling`` is DuckDB parsing the same bodies itself. Both are written here,
independent of the connector's code, so a slow connector cannot slow its own yardstick.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dlt
import duckdb
import orjson
import pyarrow as pa

from clockodo_source.settings import ENTITIES

_TYPES: dict[str, pa.DataType] = {
    "bigint": pa.int64(),
    "double": pa.float64(),
    "text": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Throughput:
    """Rows loaded and the seconds the load took."""

    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _schemas() -> tuple[pa.Schema, pa.Schema]:
    """The entries table as the catalog declares it, and as it arrives (times as strings)."""
    entity = ENTITIES["entries"]
    declared = pa.schema([pa.field(name, _TYPES[kind], nullable=name not in entity.primary_key)
                          for name, kind in entity.column_types.items()])
    wire = pa.schema([field.with_type(pa.string()) if pa.types.is_timestamp(field.type)
                      else field for field in declared])
    return declared, wire


def arrow_pages(bodies: Sequence[bytes]) -> Iterator[pa.Table]:
    """One typed arrow table per non-empty page, converted in C++ (rows to one struct array)."""
    declared, wire = _schemas()
    rows_type = pa.struct(list(wire))
    for body in bodies:
        rows = orjson.loads(body)["entries"]
        if rows:
            yield pa.Table.from_struct_array(pa.array(rows, type=rows_type)).cast(declared)


def dlt_ceiling(bodies: Sequence[bytes], workdir: Path) -> Throughput:
    """Load the pages into a fresh DuckDB file through dlt; rows are distinct entries.

    A one-page load first pays dlt's one-time costs (lazy imports, first schema), so the
    ceiling is the cost per row the local path cannot go below.
    """
    _load(bodies[:1], workdir / "warm-up")
    return _load(bodies, workdir)


def _load(bodies: Sequence[bytes], workdir: Path) -> Throughput:
    database = workdir / "ceiling.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="ceiling", pipelines_dir=str(workdir / "pipelines"),
        destination=dlt.destinations.duckdb(str(database)), dataset_name="clockodo",
    )
    entries = dlt.resource(arrow_pages(bodies), name="entries", primary_key="id",
                           write_disposition="merge")
    started = time.perf_counter()
    pipeline.run(entries, loader_file_format="parquet")
    seconds = time.perf_counter() - started
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = _count(connection, "clockodo.entries")
    return Throughput(rows, seconds)


def read_json_ceiling(pages: Path, workdir: Path) -> Throughput:
    """DuckDB's ``read_json`` over the page files in `pages`, into a fresh DuckDB file.

    Rows are as returned, so an entry two windows overlap counts twice (a few per thousand).
    """
    largest = max((path.stat().st_size for path in pages.glob("*.json")), default=0)
    with duckdb.connect(str(workdir / "read_json.duckdb")) as connection:
        started = time.perf_counter()
        connection.execute(
            "CREATE TABLE entries AS SELECT unnest(entries, recursive := true) "
            f"FROM read_json('{pages}/*.json', maximum_object_size = {2 * largest + 1024})"
        )
        seconds = time.perf_counter() - started
        rows = _count(connection, "entries")
    return Throughput(rows, seconds)


def _count(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    result = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(result[0]) if result else 0
