"""Pipelines of the CLI and what every loading command shares: one load of chosen tables, its
report, and the rebuild of the models after it."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt

from clockodo_source import clockodo_source
from clockodo_source.analytics import build_models
from clockodo_source.app import destinations, workspace
from clockodo_source.app.recovery import recover, say_discarded
from clockodo_source.app.summary import Output, RunSummary
from clockodo_source.errors import ConfigurationError
from clockodo_source.settings import ENTITIES
from clockodo_source.stats import SourceStats


def parse_entities(value: str | None) -> list[str]:
    """`--entities a,b,c` to table names, rejecting unknown ones before any request."""
    if not value:
        return list(ENTITIES)
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENTITIES]
    if unknown or not names:
        raise ConfigurationError(
            f"--entities has unknown table(s) {', '.join(unknown) or '(none given)'}; "
            f"valid: {','.join(ENTITIES)}"
        )
    return names


#: dlt's progress lines, on stderr through the CLI's log (so `--quiet` silences them)
PROGRESS = logging.getLogger("clockodo_source.progress")


def make_pipeline(pipeline_name: str, destination: str, dataset: str) -> dlt.Pipeline:
    """The dlt pipeline of a command, in its own folder of dlt's data directory, with what a
    killed process left half-written there deleted first (before `dlt.pipeline()` saves the
    state with the names of the files in `schemas/`), unless a live run holds the folder."""
    if destination == "duckdb" and Path(workspace.location(destination, pipeline_name)).stem \
            == dataset:
        raise ConfigurationError(
            f"the DuckDB file and --dataset are both named {dataset!r}: DuckDB rejects a file "
            "and a schema of the same name; choose another, e.g. --dataset clockodo"
        )
    pipelines_dir = workspace.pipelines_dir(destination, pipeline_name, dataset)
    try:
        with workspace.run_lock(pipelines_dir, pipeline_name, grace=0):
            pass  # a free lock, taken, clears what a killed run left half-written (`run_lock`)
    except workspace.RunInProgress:
        pass  # a run holds it: this process's own, which recovers, or another's live one
    else:
        say_discarded(os.path.join(pipelines_dir, pipeline_name))
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destinations.resolve(destination, pipeline_name),
        dataset_name=dataset,
        pipelines_dir=pipelines_dir,
        progress=dlt.progress.log(log_period=10.0, logger=PROGRESS, dump_system_stats=False),
    )


@dataclass
class RunReport:
    """What one or several loads did, for the summary."""

    seconds: float
    rows_written: dict[str, int]
    stats: SourceStats | None
    tables: Sequence[str] = field(default_factory=list)

    def merge(self, other: RunReport) -> None:
        """Fold another run into this one (one summary for a whole backfill)."""
        self.seconds += other.seconds
        for table, count in other.rows_written.items():
            self.rows_written[table] = self.rows_written.get(table, 0) + count
        if other.stats is not None:
            self.stats = self.stats or SourceStats()
            self.stats.merge(other.stats)
        self.tables = [*self.tables, *(t for t in other.tables if t not in self.tables)]


def run_source(pipeline: dlt.Pipeline, tables: Sequence[str], **source_args: Any) -> RunReport:
    """Load `tables` of a `clockodo_source(**source_args)`; its counters come back in the
    report. What a killed run left is completed or discarded first (`recover`). The caller has
    restored the state from the destination once (`sync_destination`): dlt's `run` would
    restore it again for every load, a second read of state and schemas (0.4 s of a no-change
    run), and after a crash it loads the pending packages without extracting anew."""
    started = time.monotonic()
    stats = SourceStats()
    selected = clockodo_source(stats=stats, **source_args).with_resources(*tables)
    recover(pipeline)
    pipeline.extract(selected, **destinations.run_options(pipeline, selected))
    counts = dict(pipeline.normalize().row_counts)
    pipeline.load()
    written = {name: counts.get(name, 0) for name in tables}
    return RunReport(time.monotonic() - started, written, stats, list(tables))


def finish(pipeline: dlt.Pipeline, report: RunReport, output: Output) -> str:
    """The run summary as `output` shows it, after rebuilding the analytics models on the
    fresh data."""
    summary = RunSummary.of(pipeline, report.tables, report.seconds, report.rows_written,
                            report.stats)
    if pipeline.destination.destination_name != "filesystem":
        summary.models = build_models(pipeline)
    return output.render(summary)
