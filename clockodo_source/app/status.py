"""`clockodo-pipeline status` (and the MCP server's `status` tool): per table the rows stored,
the last scan and reconcile, and the destination's last successful load."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.schema.typing import LOADS_TABLE_NAME

from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.app.summary import stored_counts
from clockodo_source.app.workspace import RunInProgress, run_lock
from clockodo_source.rows import as_utc
from clockodo_source.settings import ENTITIES
from clockodo_source.state import SOURCE_NAME, SourceState
from clockodo_source.stored import SqlReader, reader


@dataclass(frozen=True)
class TableStatus:
    table: str
    rows: int | None  # None: not in the destination
    last_scan: str | None
    last_reconcile: str | None
    cursor: str | None


@dataclass(frozen=True)
class PipelineStatus:
    """What is loaded, per table, and when: what `status` prints and the MCP server serves."""

    pipeline: str
    dataset: str
    tables: list[TableStatus]
    last_run_finished: datetime | None  # this working folder's last run (dlt's trace)
    last_successful_load: datetime | None  # the destination's last completed load
    working_dir: str
    pipelines_dir: str
    busy: str | None  # a run in progress, whose state may be ahead of the one shown

    def as_json(self) -> dict[str, Any]:
        moments = (self.last_run_finished, self.last_successful_load)
        finished, loaded = (None if moment is None else moment.isoformat() for moment in moments)
        return {"pipeline": self.pipeline, "dataset": self.dataset,
                "tables": [vars(table) for table in self.tables],
                "last_run_finished": finished, "last_successful_load": loaded,
                "run_in_progress": self.busy}


def status_command(args: argparse.Namespace) -> str:
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    return format_status(pipeline_status(pipeline))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def pipeline_status(pipeline: dlt.Pipeline) -> PipelineStatus:
    """The pipeline's status, its state first restored from the destination. Restoring would
    replace the working folder a run in progress uses: while one runs, the local copy of the
    state is shown, and `busy` says so."""
    busy = None
    try:
        with run_lock(pipeline.pipelines_dir, pipeline.pipeline_name):
            pipeline.sync_destination()
    except RunInProgress as running:
        busy = str(running)
    states = SourceState.of_pipeline(pipeline.state).resources()
    stored = stored_counts(pipeline, list(ENTITIES))
    tables = []
    for table in ENTITIES:
        state = states.get(table)
        tables.append(TableStatus(
            table, stored.get(table), _iso(state.last_scan) if state else None,
            _iso(state.last_reconcile) if state else None,
            _iso(state.cursor) if state else None))
    trace = pipeline.last_trace
    return PipelineStatus(pipeline.pipeline_name, pipeline.dataset_name, tables,
                          trace.finished_at if trace is not None else None,
                          last_successful_load(pipeline), pipeline.working_dir,
                          pipeline.pipelines_dir, busy)


def last_successful_load(pipeline: dlt.Pipeline) -> datetime | None:
    """When the destination recorded the source's last completed load (dlt's load table);
    None before the first one, and on the filesystem destination."""
    with reader(pipeline) as opened:
        if not isinstance(opened, SqlReader):
            return None
        client = opened.client
        try:
            found = client.execute_sql(
                f"SELECT MAX(inserted_at) FROM {client.make_qualified_table_name(LOADS_TABLE_NAME)}"
                " WHERE status = 0 AND schema_name = %s", SOURCE_NAME)
        except DestinationUndefinedEntity:
            return None
    return as_utc(found[0][0]) if found and found[0][0] is not None else None


def format_status(status: PipelineStatus) -> str:
    lines = [f"{'table':<20} {'rows':>10}  {'last scan':<26} {'last reconcile':<26} cursor"]
    for table in status.tables:
        lines.append(
            f"{table.table:<20} {'-' if table.rows is None else f'{table.rows:,}':>10}  "
            f"{table.last_scan or '-':<26} {table.last_reconcile or '-':<26} "
            f"{table.cursor or '-'}"
        )
    if status.last_run_finished is not None:
        lines.append(f"last run finished: {status.last_run_finished}")
    if status.last_successful_load is not None:
        lines.append(f"last successful load: {status.last_successful_load}")
    lines.append(f"dlt state: {status.working_dir} (in Python: dlt.attach("
                 f"{status.pipeline!r}, pipelines_dir={status.pipelines_dir!r}))")
    if status.busy is not None:
        lines.append(f"{status.busy}: the state shown may be behind it")
    return "\n".join(lines)
