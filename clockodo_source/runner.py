"""Running the source through a dlt pipeline and reporting what a run did."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.source import DltSource

from clockodo_source import destinations, workspace
from clockodo_source.errors import ConfigurationError
from clockodo_source.options import entries_text_budget_option, rate_budgets_option
from clockodo_source.ratelimit import minimum_seconds
from clockodo_source.scan import CURSOR, LAST_RECONCILE, LAST_SCAN, BackfillPlan
from clockodo_source.settings import ENTITIES, Partition
from clockodo_source.stats import SourceStats, latest
from clockodo_source.stored import reader
from clockodo_source.windows import tile, utc_midnight

SOURCE_NAME = "clockodo"
logger = logging.getLogger("clockodo_source")


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


def make_pipeline(pipeline_name: str, destination: str, dataset: str) -> dlt.Pipeline:
    if destination == "duckdb" and Path(workspace.location(destination, pipeline_name)).stem \
            == dataset:
        raise ConfigurationError(
            f"the DuckDB file and --dataset are both named {dataset!r}: DuckDB rejects a file "
            "and a schema of the same name; choose another, e.g. --dataset clockodo"
        )
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destinations.resolve(destination, pipeline_name),
        dataset_name=dataset,
        pipelines_dir=workspace.pipelines_dir(destination, pipeline_name, dataset),
        progress=dlt.progress.log(log_period=10.0, logger=sys.stderr, dump_system_stats=False),
    )


@dataclass
class RunReport:
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


def run_source(pipeline: dlt.Pipeline, source: DltSource, tables: Sequence[str]) -> RunReport:
    """Load `source` restricted to `tables`; pending packages of a crashed run load first."""
    started = time.monotonic()
    selected = source.with_resources(*tables)
    pipeline.run(selected, **destinations.run_options(pipeline, selected))
    normalize = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts: dict[str, int] = dict(normalize.row_counts) if normalize else {}
    written = {name: counts.get(name, 0) for name in tables}
    return RunReport(time.monotonic() - started, written, latest(), list(tables))


def stored_counts(pipeline: dlt.Pipeline, tables: Sequence[str]) -> dict[str, int | None]:
    """Rows per table in the destination (None where the table does not exist)."""
    with reader(pipeline) as opened:
        if opened is None:
            return dict.fromkeys(tables)
        return {table: opened.count(table) for table in tables}


def resource_states(pipeline: dlt.Pipeline) -> dict[str, dict[str, Any]]:
    sources = pipeline.state.get("sources", {})
    resources: dict[str, dict[str, Any]] = sources.get(SOURCE_NAME, {}).get("resources", {})
    return resources


def format_summary(pipeline: dlt.Pipeline, report: RunReport) -> str:
    stored = stored_counts(pipeline, report.tables)
    header = ("table", "written", "added", "updated", "removed", "stored")
    lines = [f"{header[0]:<20}" + "".join(f"{name:>10}" for name in header[1:])]
    tables = report.stats.tables if report.stats else {}
    for table in report.tables:
        changes = tables.get(table)
        figures: list[int | None] = [report.rows_written.get(table, 0)]
        figures += [changes.added, changes.updated, changes.removed] if changes else [None] * 3
        figures.append(stored.get(table))
        lines.append(f"{table:<20}" + "".join(
            f"{'-' if figure is None else f'{figure:,}':>10}" for figure in figures
        ))
    if report.stats is not None:
        for table, endpoint in sorted(report.stats.skipped.items()):
            lines.append(f"skipped {table}: the API user may not read {endpoint} (403); "
                         "use an owner/admin key, or --strict to fail instead")
        http = report.stats.requests
        lines.append(
            f"requests: {http.requests:,} (retries {http.retries}, 429s {http.throttled}, "
            f"waited {http.wait_seconds:.1f}s); took {report.seconds:.1f}s"
        )
    destination = pipeline.destination.destination_name if pipeline.destination else "?"
    lines.append(f"destination: {destination}, dataset {pipeline.dataset_name}")
    return "\n".join(lines)


def format_status(pipeline: dlt.Pipeline) -> str:
    states = resource_states(pipeline)
    stored = stored_counts(pipeline, list(ENTITIES))
    lines = [f"{'table':<20} {'rows':>10}  {'last scan':<26} {'last reconcile':<26} cursor"]
    for table in ENTITIES:
        state = states.get(table, {})
        count = stored.get(table)
        lines.append(
            f"{table:<20} {'-' if count is None else f'{count:,}':>10}  "
            f"{state.get(LAST_SCAN, '-'):<26} {state.get(LAST_RECONCILE, '-'):<26} "
            f"{state.get(CURSOR, '-')}"
        )
    trace = pipeline.last_trace
    if trace is not None:
        lines.append(f"last run finished: {trace.finished_at}")
    lines.append(f"dlt state: {pipeline.working_dir} (in Python: dlt.attach("
                 f"{pipeline.pipeline_name!r}, pipelines_dir={pipeline.pipelines_dir!r}))")
    return "\n".join(lines)


def windowed_tables(tables: Sequence[str]) -> list[str]:
    """Tables read in time windows, which a backfill loads window by window."""
    kinds = (Partition.ENTRY_WINDOWS, Partition.USER_WINDOWS)
    return [table for table in tables if ENTITIES[table].partition in kinds]


def pending_backfill(pipeline: dlt.Pipeline, tables: Sequence[str]) -> BackfillPlan | None:
    """An unfinished backfill recorded by one of `tables` (restored from the destination)."""
    states = resource_states(pipeline)
    for table in windowed_tables(tables):
        pending = BackfillPlan.pending(states.get(table, {}))
        if pending is not None:
            return pending[0]
    return None


def resume_point(pipeline: dlt.Pipeline, plan: BackfillPlan, tables: Sequence[str]) -> date:
    """First day not yet loaded by every windowed table of `plan`."""
    states = resource_states(pipeline)
    done = []
    for table in windowed_tables(tables):
        pending = BackfillPlan.pending(states.get(table, {}))
        if pending is None or pending[0] != plan:
            return plan.start
        done.append(pending[1])
    return min(done, default=plan.start)


def _configured(name: str, kind: type) -> Any:
    return dlt.config.get(f"sources.clockodo.{name}", kind)


def enhanced_list_configured() -> bool:
    """Whether entry lists will be read with texts (the default) under the current config."""
    return _configured("enhanced_list", bool) is not False


def configured_budgets(enhanced: bool) -> list[tuple[int, float]]:
    """The request budgets a run will keep to under the current config."""
    budgets = list(rate_budgets_option(_configured("rate_budgets", list)))
    if enhanced:
        budgets.append(entries_text_budget_option(_configured("entries_text_budget", list)))
    return budgets


def announce(windows: int, tables: Sequence[str], enhanced: bool) -> None:
    """Before a long backfill: the least number of requests and the least time the rate
    budgets allow for them (entry lists with texts have a budget of their own)."""
    if "entries" not in tables or windows == 0:
        return
    seconds = minimum_seconds(windows, configured_budgets(enhanced))
    logger.info(
        "backfill: %d windows, at least %d entry requests (one more per 1,000 entries); "
        "the rate budgets make that at least %s%s",
        windows, windows, _duration(seconds),
        "; set sources.clockodo.enhanced_list=false to escape the budget of entry lists with "
        "texts (sources.clockodo.entries_text_budget)" if enhanced and seconds >= 900 else "",
    )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {rest:02d}s"


def run_backfill(
    pipeline: dlt.Pipeline,
    plan: BackfillPlan,
    tables: Sequence[str],
    make_source: Callable[..., DltSource],
) -> RunReport:
    """Load `plan` one window at a time, each window its own load with its checkpoint, then
    the remaining tables once over the whole range."""
    windowed = windowed_tables(tables)
    resume = resume_point(pipeline, plan, tables)
    windows = [
        window for window in tile(utc_midnight(plan.start), utc_midnight(plan.end), plan.window)
        if window.until.date() > resume
    ]
    announce(len(windows), windowed, enhanced_list_configured())
    total = RunReport(0.0, {}, None, [])
    for number, window in enumerate(windows, start=1):
        since, until = window.since.date(), window.until.date()
        logger.info("backfill window %d/%d: %s .. %s", number, len(windows), since, until)
        source = make_source(start_date=since.isoformat(), end_date=until.isoformat(),
                             backfill=plan.marker())
        total.merge(run_source(pipeline, source, windowed))
    rest = [table for table in tables if table not in windowed]
    if rest:
        source = make_source(start_date=plan.start.isoformat(), end_date=plan.end.isoformat())
        total.merge(run_source(pipeline, source, rest))
    return total
