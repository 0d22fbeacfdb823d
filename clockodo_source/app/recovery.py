"""Bringing a pipeline that a killed process left part-way back to a consistent state.

dlt moves a run's data through the pipeline's working folder in steps: an extraction writes a
load package into a temporary folder under `normalize/`, then moves it to `normalize/extracted`;
normalizing writes `load/new/<id>`, renames it to `load/normalized/<id>`, then deletes the
extracted copy; loading moves each job file from `new_jobs` to `started_jobs` to
`completed_jobs` (with a marker for a job the destination committed before the move), records
the load in the destination, then moves the package to `load/loaded`. Every file dlt saves (a
schema, the state, a package's manifest) is first written under a temporary name, 16 hex
digits, in its storage's folder and then renamed over the file it replaces. A process killed
(OOM, a lost spot instance, a deploy) between two steps leaves:

- a temporary file not yet renamed: deleted by the next process to take the pipeline's run lock
  (`discard_partial_files`); in `schemas/` dlt would take it for a schema and fail every later
  command;
- a temporary extract folder or a partly normalized package: discarded (the run reads it
  again; dlt normalizes the extracted copy again);
- an extracted package that is also normalized: dlt would normalize it again and fail on every
  later run; its extracted copy is deleted, as normalize was about to;
- extracted or normalized packages: loaded here, since `pipeline.run()` would load them and
  return without extracting what it was given;
- started jobs without a marker, and a package completed without being moved: the destination
  may have committed them, and dlt redoes them, inserting their rows (into a replaced table, or
  a staging table and from there into a merge) or the load's record a second time. Those rows
  are deleted first, so that the redo writes them once.

After loading, the local state is synchronised with the destination: a package can hold a newer
state than the one the killed process saved. DuckDB's file lock and PostgreSQL's sessions end
with the process that held them.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.common.destination.client import WithStagingDataset
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.schema import Schema
from dlt.common.schema.utils import get_columns_names_with_prop
from dlt.common.storages import (
    LoadStorage,
    LoadStorageConfiguration,
    NormalizeStorage,
    NormalizeStorageConfiguration,
)
from dlt.common.storages.load_package import LoadJobInfo
from dlt.destinations.sql_client import SqlClientBase, WithSqlClient

from clockodo_source.settings import ROW_ID_COLUMN

logger = logging.getLogger("clockodo_source")
#: job file formats that insert rows (a `sql` job is a merge in one transaction: a replay of a
#: committed one deletes and inserts the same rows again)
COPY_FORMATS = ("parquet", "csv", "jsonl", "insert_values")
#: the name of a file dlt is writing before it renames it (`FileStorage.save_atomic`)
TEMPORARY_FILE = re.compile(r"[0-9a-f]{16}")
#: keys per DELETE statement
DELETE_CHUNK = 5_000
#: partly written files deleted per working folder and not yet said: the run's one recovery
#: line says them with the rest
_unsaid: dict[str, int] = {}


@dataclass
class Recovery:
    """What a recovery found and did, counted."""

    partial_files: int = 0
    partial_extracts: int = 0
    normalized_copies: int = 0
    partial_normalized: int = 0
    normalized: int = 0
    unknown_steps: int = 0
    loaded: int = 0

    def describe(self) -> str | None:
        """One line for the user, or None when the pipeline was consistent."""
        steps = (
            (self.partial_files, "deleted {}", "partly written file"),
            (self.partial_extracts, "discarded {} (read again now)", "partly extracted package"),
            (self.normalized_copies, "removed the extracted copy of {}", "normalized package"),
            (self.partial_normalized, "discarded {}", "partly normalized package"),
            (self.normalized, "normalized {}", "extracted package"),
            (self.unknown_steps, "redid {} of unknown outcome", "load step"),
            (self.loaded, "loaded {}", "pending package"),
        )
        done = [text.format(_n(count, noun)) for count, text, noun in steps if count]
        return "recovered from an interrupted run: " + ", ".join(done) if done else None


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def discard_partial_files(working_dir: str) -> None:
    """Delete the temporary files of writes a killed process did not finish in a pipeline's
    working folder. Only for the holder of the pipeline's run lock
    (`workspace.run_lock`): a live run's files are temporary for milliseconds too. They are
    said in the line of the run's recovery (`recover`), or by `say_discarded`."""
    working = Path(working_dir)
    if not working.is_dir():
        return
    deleted = 0
    tops = _subfolders(working)
    for folder in [working, *tops, *(sub for top in tops for sub in _subfolders(top))]:
        for path in folder.iterdir():
            if TEMPORARY_FILE.fullmatch(path.name) and path.is_file():
                path.unlink()
                deleted += 1
    if deleted:
        key = os.path.realpath(working_dir)
        _unsaid[key] = _unsaid.get(key, 0) + deleted


def say_discarded(working_dir: str) -> None:
    """Say what `discard_partial_files` deleted, for a command that does not recover."""
    _say(Recovery(partial_files=_unsaid.pop(os.path.realpath(working_dir), 0)))


def _subfolders(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.is_dir()]


def _say(found: Recovery) -> None:
    message = found.describe()
    if message:
        logger.info(message)


def recover(pipeline: dlt.Pipeline) -> Recovery:
    """Complete or discard what an earlier, killed process left in `pipeline`'s working folder
    and say so in one line; does nothing (and says nothing) when nothing was left."""
    found = Recovery(partial_files=_unsaid.pop(os.path.realpath(pipeline.working_dir), 0))
    _discard_partial(pipeline, found)
    extracted = pipeline.list_extracted_load_packages()
    if extracted:
        pipeline.normalize()
        found.normalized = len(extracted) - len(pipeline.list_extracted_load_packages())
    pending = pipeline.list_normalized_load_packages()
    if pending:
        for load_id in pending:
            found.unknown_steps += _undo_unknown_steps(pipeline, load_id)
        pipeline.load()
        found.loaded = len(pending) - len(pipeline.list_normalized_load_packages())
        pipeline.sync_destination()
    _say(found)
    return found


def _discard_partial(pipeline: dlt.Pipeline, found: Recovery) -> None:
    """Temporary extract folders, partly normalized packages and extracted copies of packages
    already normalized. dlt's API has no call for these (its abort also rewinds the local state
    and drops complete packages), so its storage classes are opened on the pipeline's folders."""
    working = pipeline.working_dir
    normalize = NormalizeStorage(False, NormalizeStorageConfiguration(
        normalize_volume_path=os.path.join(working, "normalize")))
    load = LoadStorage(False, [], LoadStorageConfiguration(
        load_volume_path=os.path.join(working, "load")))
    if normalize.is_storage_ready():
        for folder in normalize.storage.list_folder_dirs(".", to_root=False):
            if folder != NormalizeStorage.EXTRACTED_FOLDER:
                normalize.storage.delete_folder(folder, recursively=True)
                found.partial_extracts += 1
    if not load.is_storage_ready():
        return
    for load_id in load.new_packages.list_packages():
        load.new_packages.delete_package(load_id)
        found.partial_normalized += 1
    if normalize.is_storage_ready():
        done = {*load.list_normalized_packages(), *load.list_loaded_packages()}
        for load_id in normalize.extracted_packages.list_packages():
            if load_id in done:
                normalize.extracted_packages.delete_package(load_id)
                found.normalized_copies += 1


def _undo_unknown_steps(pipeline: dlt.Pipeline, load_id: str) -> int:
    """Undo what dlt may have done for `load_id` in the destination without recording it: the
    rows of each started job without a recorded outcome, deleted from the table the job writes
    to, and the completion of a package without pending jobs. Returns how many steps that were."""
    unknown = {
        os.path.basename(path)
        for path, folder in pipeline.list_pending_retry_jobs_in_package(load_id)
        if folder == "started_jobs"
    }
    info = pipeline.get_load_package_info(load_id)
    jobs = [job for job in info.jobs["started_jobs"]
            if os.path.basename(job.file_path) in unknown
            and job.job_file_info.file_format in COPY_FORMATS]
    completed = not info.jobs["new_jobs"] and not info.jobs["started_jobs"]
    client = pipeline.destination_client(info.schema.name)
    if not (jobs or completed) or not isinstance(client, WithSqlClient):
        return 0
    with client.sql_client as sql:
        for job in jobs:
            table = job.job_file_info.table_name
            staged = (isinstance(client, WithStagingDataset)
                      and client.should_load_data_to_staging_dataset(table))
            with sql.with_staging_dataset() if staged else nullcontext(sql):
                _delete_rows(sql, table, *_job_keys(job, _primary_key(info.schema, table)))
        if completed:
            load_column = info.schema.naming.normalize_identifier("load_id")
            _delete_rows(sql, info.schema.loads_table_name, [load_column], [(load_id,)])
    return len(jobs) + completed


def _primary_key(schema: Schema, table: str) -> list[str]:
    return get_columns_names_with_prop(schema.tables[table], "primary_key")


def _job_keys(job: LoadJobInfo, primary_key: Sequence[str]
              ) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The key columns of a job's rows and their values: dlt's row id where the rows carry
    one (it is unique to the row), else the table's primary key (rows of arrow tables).
    The file is read by DuckDB in memory; an `insert_values` file by running its INSERT."""
    path, file_format = job.file_path, job.job_file_info.file_format
    with duckdb.connect() as db:
        if file_format == "insert_values":
            source = _insert_values_table(db, path)
        else:
            reader = {"parquet": "read_parquet", "csv": "read_csv", "jsonl": "read_json"}
            quoted = path.replace("'", "''")
            source = f"{reader[file_format]}('{quoted}')"
        columns = [row[0] for row in db.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        keys = [ROW_ID_COLUMN] if ROW_ID_COLUMN in columns else list(primary_key)
        if not keys:
            raise RuntimeError(f"cannot tell the rows of load job {path} apart: no key")
        selected = ", ".join(f'"{key}"' for key in keys)
        return keys, db.execute(f"SELECT {selected} FROM {source}").fetchall()


def _insert_values_table(db: duckdb.DuckDBPyConnection, path: str) -> str:
    """Run an `insert_values` job's INSERT into an in-memory table of text columns (its
    literals are ones DuckDB reads) and return that table's name."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as file:
        sql = file.read()
    header = sql.split("\n", 1)[0]
    columns = re.findall(r'"((?:[^"]|"")*)"', header)
    db.execute("CREATE TABLE job (" + ", ".join(f'"{name}" VARCHAR' for name in columns) + ")")
    db.execute(sql.replace("{}", "job", 1))
    return "job"


def _delete_rows(sql: SqlClientBase[Any], table: str, keys: Sequence[str],
                 values: Sequence[tuple[Any, ...]]) -> None:
    """DELETE the rows of `table` whose `keys` are among `values`; a missing table holds none."""
    name = sql.make_qualified_table_name(table)
    escaped = [sql.escape_column_name(key) for key in keys]
    target = escaped[0] if len(escaped) == 1 else f"({', '.join(escaped)})"
    one = "%s" if len(keys) == 1 else f"({', '.join(['%s'] * len(keys))})"
    for start in range(0, len(values), DELETE_CHUNK):
        chunk = values[start:start + DELETE_CHUNK]
        query = f"DELETE FROM {name} WHERE {target} IN ({', '.join([one] * len(chunk))})"
        try:
            sql.execute_sql(query, *(value for row in chunk for value in row))
        except DestinationUndefinedEntity:
            return
