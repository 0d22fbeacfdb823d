"""`clockodo-pipeline run` and `reconcile`: one load of the account, then the models.

A `run` first finishes a backfill that an earlier, killed process left; `reconcile` re-reads
the whole history (or `--start-date/--end-date`) and so applies edits and deletions anywhere.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import dlt

from clockodo_source.app.backfill import pending_backfill, run_backfill
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

logger = logging.getLogger("clockodo_source")


def source_args(args: argparse.Namespace) -> dict[str, Any]:
    """Only options given on the command line; everything else comes from dlt config."""
    chosen: dict[str, Any] = {}
    if getattr(args, "start_date", None):
        chosen["start_date"] = args.start_date
    if getattr(args, "end_date", None):
        chosen["end_date"] = args.end_date
    if args.command == "reconcile":
        chosen["full"] = True
    if args.strict:
        chosen["strict"] = True
    return chosen


def sync(args: argparse.Namespace, **options: Any) -> tuple[dlt.Pipeline, str]:
    """One run of `args.command` with the source `options` on top of the command line's."""
    tables = parse_entities(args.entities)
    chosen = {**source_args(args), **options}
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    report = RunReport(0.0, {}, None, [])
    with failures_recorded(pipeline), held_open(pipeline):
        pipeline.sync_destination()
        if args.command == "run":
            plan = pending_backfill(pipeline, tables)
            if plan is not None:
                logger.info("finishing the interrupted backfill %s first", plan.marker())
                report.merge(run_backfill(pipeline, plan, tables, chosen))
        report.merge(run_source(pipeline, tables, **chosen))
        return pipeline, finish(pipeline, report, Output.of(args))
