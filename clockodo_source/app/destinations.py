"""Turning a `--destination` name into a dlt destination, with the fixes users expect.

dlt 1.31 rejects a PostgreSQL DSN without a password ("missing password"), although trust and
peer authentication need none; such a DSN is given an empty password here. On the filesystem
destination merges and deletions need a table format that supports them: Delta. PostgreSQL
gets a loader file format that keeps every value as the API sent it (see `EXACT_FORMATS`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination import Destination
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from clockodo_source.app.memory import config_defaults
from clockodo_source.exact import exact_format

#: DuckDB's merge of a large first load would otherwise take most of the machine's memory;
#: it spills to disk beyond this at about the same speed (a million entries: 1.8 s at 64 MB,
#: 1.3 s at 256 MB), and row order is not needed.
DUCKDB_SETTINGS = {"memory_limit": "64MB", "preserve_insertion_order": False}
#: dlt's load jobs into that database, unless configured: one at a time, since parallel jobs
#: share its memory limit (two merges of a million-entry first load ran out of it) and each
#: job already runs on every core.
DUCKDB_LOAD_WORKERS = 1


def _postgres_credentials() -> PostgresCredentials | None:
    """Configured PostgreSQL credentials lacking only a password, completed; else None."""
    try:
        configured: Any = dlt.secrets.get("destination.postgres.credentials")
    except ConfigFieldMissingException:
        return None
    if isinstance(configured, str):
        credentials = PostgresCredentials(configured)
    elif isinstance(configured, Mapping):
        credentials = PostgresCredentials()
        credentials.update(dict(configured))
    else:
        return None
    if credentials.password:
        return None
    credentials.password = ""
    return credentials


def _without_flattened_columns(resource: DltResource) -> None:
    """Drop the declared columns of nested objects (`sum_absence__sick_self`) from a resource
    that keeps nested values whole: its objects are JSON columns, and the declared ones would
    stand empty beside them."""
    columns = resource.columns
    if not isinstance(columns, dict) or not any("__" in name for name in columns):
        return
    kept = {name: hints for name, hints in columns.items() if "__" not in name}
    resource.apply_hints(columns={})
    resource.apply_hints(columns=kept)


def run_options(pipeline: dlt.Pipeline, source: DltSource) -> dict[str, Any]:
    """Arguments for `pipeline.run` that make `source` load correctly into its destination.

    Parquet where the destination takes it (dlt's default insert format is ~50x slower),
    unless values need another format (`exact.EXACT_FORMATS`). On the filesystem every table is a
    Delta table; merged tables keep nested lists as JSON columns there, because Delta merges
    cannot delete rows of nested tables, and child tables come from the data alone: a declared
    one that never got a row would be a Delta table that does not exist (dlt's
    `get_delta_tables` fails on it).
    """
    if pipeline.destination.destination_name == "filesystem":
        for resource in source.resources.values():
            resource.apply_hints(nested_hints={})
            disposition = resource.write_disposition  # a name, or a dict with merge options
            if (isinstance(disposition, dict) and disposition.get("disposition") == "merge") \
                    or disposition == "merge":
                resource.max_table_nesting = 0
                _without_flattened_columns(resource)
        return {"table_format": "delta"}
    chosen = exact_format(pipeline.destination)
    if chosen is not None:
        return {"loader_file_format": chosen}
    formats = pipeline.destination.capabilities().supported_loader_file_formats or ()
    return {"loader_file_format": "parquet"} if "parquet" in formats else {}


def _configured(key: str) -> bool:
    try:
        return dlt.secrets.get(key) is not None
    except ConfigFieldMissingException:
        return False


def resolve(name: str, pipeline_name: str) -> Destination[Any, Any] | str:
    """The destination to hand to `dlt.pipeline` for a `--destination` name.

    Without configured credentials DuckDB writes `<pipeline-name>.duckdb` in the current
    directory: dlt on its own would reuse the directory the pipeline was first run from,
    remembered in its local state.
    """
    if name == "postgres":
        credentials = _postgres_credentials()
        if credentials is not None:
            return dlt.destinations.postgres(credentials=credentials)
    if name == "duckdb" and not _configured("destination.duckdb.credentials"):
        database = DuckDbCredentials(str(Path.cwd() / f"{pipeline_name}.duckdb"))
        database.global_config = DUCKDB_SETTINGS
        config_defaults({"load.workers": DUCKDB_LOAD_WORKERS})
        return dlt.destinations.duckdb(credentials=database)
    return name


@contextmanager
def held_open(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Keep a DuckDB database open for the length of a command.

    A run opens it about ten times (state, stored rows, load, summary, models); each opening
    of the file costs 15-20 ms and each last close a checkpoint. While one connection is
    open, DuckDB hands the others the database already in memory: a no-change run of a
    300,000-entry account took 1.04 s instead of 1.15 s.
    """
    if pipeline.destination is None or pipeline.destination.destination_name != "duckdb":
        yield
        return
    with pipeline.sql_client():
        yield
