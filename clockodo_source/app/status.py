"""`clockodo-pipeline status` (and the MCP server's `status` tool): per table the rows stored,
the last scan and reconcile, the destination's last successful load and, apart from it, the
last failed run with its cause. A pipeline never loaded here is an error, not an empty table:
a mistyped `--pipeline-name` must not look like an empty pipeline (nor create one)."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.schema.typing import LOADS_TABLE_NAME

from clockodo_source.app import destinations, workspace
from clockodo_source.app.accounts import ALL
from clockodo_source.app.failures import Failure, last_failure
from clockodo_source.app.pipelines import make_pipeline, parse_entities
from clockodo_source.app.summary import stored_counts
from clockodo_source.app.workspace import RunInProgress, run_lock
from clockodo_source.errors import ConfigurationError
from clockodo_source.rows import as_utc
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
    last_successful_load: datetime | None  # the destination's last completed load
    last_failure: Failure | None  # the last run that failed here, with its one-line cause
    working_dir: str
    pipelines_dir: str
    busy: str | None  # a run in progress, whose state may be ahead of the one shown

    def as_json(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "dataset": self.dataset,
                "tables": [vars(table) for table in self.tables],
                "last_successful_load": _iso(self.last_successful_load),
                "last_failure": None if self.last_failure is None else self.last_failure.as_json(),
                "run_in_progress": self.busy}

    def failed_since_load(self) -> bool:
        """Whether the last failure came after the last successful load (still unresolved)."""
        if self.last_failure is None:
            return False
        return self.last_successful_load is None \
            or self.last_failure.at > self.last_successful_load


def status_command(args: argparse.Namespace) -> str:
    tables = parse_entities(args.entities)
    if args.account != ALL:  # the union of the accounts is views, not a pipeline of its own
        _check_known(args.pipeline_name, args.destination, args.dataset)
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    status = pipeline_status(pipeline, tables)
    if args.json:
        return json.dumps(status.as_json(), indent=2)
    return format_status(status)


def _check_known(pipeline_name: str, destination: str, dataset: str) -> None:
    """Refuse, creating nothing, a pipeline that has no state here nor in its destination."""
    directory = workspace.pipelines_dir(destination, pipeline_name, dataset)
    if os.path.isdir(os.path.join(directory, pipeline_name)):
        return
    location = workspace.location(destination, pipeline_name)
    if destination != "duckdb" or Path(location).exists():
        with tempfile.TemporaryDirectory(prefix="clockodo-status-") as scratch:
            probe = dlt.pipeline(pipeline_name=pipeline_name, dataset_name=dataset,
                                 destination=destinations.resolve(destination, pipeline_name),
                                 pipelines_dir=scratch)
            probe.sync_destination()  # a state stored in the destination (another machine)
            if probe.schema_names:
                return
    raise ConfigurationError(
        f"no pipeline {pipeline_name!r} with dataset {dataset!r} on {destination} here (nothing "
        "loaded by it, in this directory or in the destination): check --pipeline-name, "
        "--dataset and --destination, or load it first with `clockodo-pipeline run`"
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def pipeline_status(pipeline: dlt.Pipeline, tables: Sequence[str] | None = None
                    ) -> PipelineStatus:
    """The pipeline's status for `tables` (default: all), its state first restored from the
    destination. Restoring would replace the working folder a run in progress uses: while one
    runs, the local copy of the state is shown, and `busy` says so."""
    busy = None
    try:
        with run_lock(pipeline.pipelines_dir, pipeline.pipeline_name, grace=0):
            pipeline.sync_destination()
    except RunInProgress as running:
        busy = str(running)
    states = SourceState.of_pipeline(pipeline.state).resources()
    chosen = parse_entities(None) if tables is None else list(tables)
    stored = stored_counts(pipeline, chosen)
    shown = []
    for table in chosen:
        state = states.get(table)
        shown.append(TableStatus(
            table, stored.get(table), _iso(state.last_scan) if state else None,
            _iso(state.last_reconcile) if state else None,
            _iso(state.cursor) if state else None))
    return PipelineStatus(pipeline.pipeline_name, pipeline.dataset_name, shown,
                          last_successful_load(pipeline),
                          last_failure(pipeline.pipelines_dir, pipeline.pipeline_name),
                          pipeline.working_dir, pipeline.pipelines_dir, busy)


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
    loaded = status.last_successful_load
    lines.append(f"last successful load: {'none yet' if loaded is None else loaded}")
    if status.last_failure is not None:
        later = "" if status.failed_since_load() else " (a later load succeeded)"
        lines.append(f"last failed run: {status.last_failure.at}{later}: "
                     f"{status.last_failure.cause}")
    lines.append(f"dlt state: {status.working_dir} (in Python: dlt.attach("
                 f"{status.pipeline!r}, pipelines_dir={status.pipelines_dir!r}))")
    if status.busy is not None:
        lines.append(f"{status.busy}: the state shown may be behind it")
    return "\n".join(lines)
