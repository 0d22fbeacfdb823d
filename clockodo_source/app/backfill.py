"""`clockodo-pipeline backfill`: a historical range loaded one window at a time, each window
its own load with a checkpoint, so a killed backfill resumes at its first unfinished window."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import dlt

from clockodo_source.app.destinations import held_open
from clockodo_source.app.failures import failures_recorded
from clockodo_source.app.pipelines import (
    RunReport,
    finish,
    make_pipeline,
    parse_entities,
    run_source,
)
from clockodo_source.app.summary import Output
from clockodo_source.options import (
    check_range,
    entries_text_budget_option,
    parse_date,
    rate_budgets_option,
    window_option,
)
from clockodo_source.ratelimit import minimum_seconds
from clockodo_source.scan import BackfillPlan
from clockodo_source.settings import DEFAULT_FUTURE_DAYS, ENTITIES, Partition
from clockodo_source.state import SourceState
from clockodo_source.windows import tile, utc_midnight

logger = logging.getLogger("clockodo_source")


def backfill_command(args: argparse.Namespace) -> str:
    tables = parse_entities(args.entities)
    start = parse_date(args.start_date, "--start-date")
    end = (
        parse_date(args.end_date, "--end-date") if args.end_date
        else date.today() + timedelta(days=DEFAULT_FUTURE_DAYS + 1)
    )
    check_range(start, end, "--start-date", "--end-date")
    plan = BackfillPlan(start, end, window_option(args.window, "--window"))
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    with failures_recorded(pipeline), held_open(pipeline):
        pipeline.sync_destination()
        source_args = {"strict": True} if args.strict else {}
        return finish(pipeline, run_backfill(pipeline, plan, tables, source_args),
                      Output.of(args))


def windowed_tables(tables: Sequence[str]) -> list[str]:
    """Tables read in time windows, which a backfill loads window by window."""
    kinds = (Partition.ENTRY_WINDOWS, Partition.USER_WINDOWS)
    return [table for table in tables if ENTITIES[table].partition in kinds]


def pending_backfill(pipeline: dlt.Pipeline, tables: Sequence[str]) -> BackfillPlan | None:
    """An unfinished backfill recorded by one of `tables` (restored from the destination)."""
    states = SourceState.of_pipeline(pipeline.state).resources()
    for table in windowed_tables(tables):
        state = states.get(table)
        pending = BackfillPlan.pending(state) if state else None
        if pending is not None:
            return pending[0]
    return None


def resume_point(pipeline: dlt.Pipeline, plan: BackfillPlan, tables: Sequence[str]) -> date:
    """First day not yet loaded by every windowed table of `plan`."""
    states = SourceState.of_pipeline(pipeline.state).resources()
    done = []
    for table in windowed_tables(tables):
        state = states.get(table)
        pending = BackfillPlan.pending(state) if state else None
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
    source_args: dict[str, Any],
) -> RunReport:
    """Load `plan` one window at a time, each window its own load with its checkpoint, then
    the remaining tables once over the whole range; `source_args` go to every source."""
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
        total.merge(run_source(pipeline, windowed, **source_args, start_date=since.isoformat(),
                               end_date=until.isoformat(), backfill=plan.marker()))
    rest = [table for table in tables if table not in windowed]
    if rest:
        total.merge(run_source(pipeline, rest, **source_args,
                               start_date=plan.start.isoformat(),
                               end_date=plan.end.isoformat()))
    return total
