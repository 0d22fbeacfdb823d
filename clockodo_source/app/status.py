"""`clockodo-pipeline status`: per table the rows stored, the last scan and reconcile."""

from __future__ import annotations

import argparse

import dlt

from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.app.summary import stored_counts
from clockodo_source.app.workspace import RunInProgress, run_lock
from clockodo_source.settings import ENTITIES
from clockodo_source.state import SourceState


def status_command(args: argparse.Namespace) -> str:
    """Restoring the state from the destination would replace the working folder a run in
    progress uses: while one runs, the local copy of the state is shown."""
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    note = ""
    try:
        with run_lock(pipeline.pipelines_dir, pipeline.pipeline_name):
            pipeline.sync_destination()
    except RunInProgress as busy:
        note = f"\n{busy}: the state shown may be behind it"
    return format_status(pipeline) + note


def _when(value: object) -> str:
    return "-" if value is None else str(getattr(value, "isoformat", lambda: value)())


def format_status(pipeline: dlt.Pipeline) -> str:
    states = SourceState.of_pipeline(pipeline.state).resources()
    stored = stored_counts(pipeline, list(ENTITIES))
    lines = [f"{'table':<20} {'rows':>10}  {'last scan':<26} {'last reconcile':<26} cursor"]
    for table in ENTITIES:
        state = states.get(table)
        count = stored.get(table)
        lines.append(
            f"{table:<20} {'-' if count is None else f'{count:,}':>10}  "
            f"{_when(state and state.last_scan):<26} "
            f"{_when(state and state.last_reconcile):<26} {_when(state and state.cursor)}"
        )
    trace = pipeline.last_trace
    if trace is not None:
        lines.append(f"last run finished: {trace.finished_at}")
    lines.append(f"dlt state: {pipeline.working_dir} (in Python: dlt.attach("
                 f"{pipeline.pipeline_name!r}, pipelines_dir={pipeline.pipelines_dir!r}))")
    return "\n".join(lines)
