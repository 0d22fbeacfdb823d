"""`clockodo-pipeline`: incremental runs, backfills, reconciles, the demo and a status view."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, timedelta
from typing import Any

import dlt
from dlt.extract.source import DltSource

from clockodo_source import clockodo_source
from clockodo_source.alerts import CANNOT_EVALUATE
from clockodo_source.alerts import FORMATS as ALERT_FORMATS
from clockodo_source.analytics import (
    FORMATS,
    REPORT_NAMES,
    ModelNotBuiltError,
    build_models,
    render_report,
    write_html_report,
)
from clockodo_source.app import accounts
from clockodo_source.app import billing as billing_commands
from clockodo_source.app.alerts import alerts_after_run, alerts_command
from clockodo_source.app.all_accounts import DEFAULT_PARALLEL, run_all
from clockodo_source.app.demo_accounts import demo_accounts
from clockodo_source.destinations import held_open
from clockodo_source.errors import ConfigurationError
from clockodo_source.memory import bound_allocators, bound_dlt_buffers
from clockodo_source.messages import describe_failure
from clockodo_source.options import parse_date
from clockodo_source.runner import (
    RunReport,
    format_status,
    format_summary,
    make_pipeline,
    parse_entities,
    pending_backfill,
    run_backfill,
    run_source,
)
from clockodo_source.scan import BackfillPlan
from clockodo_source.settings import DEFAULT_FUTURE_DAYS
from clockodo_source.windows import WINDOW_UNITS
from clockodo_source.workspace import BUSY_EXIT, RunInProgress, pipelines_dir, run_lock

logger = logging.getLogger("clockodo_source")
HTML_REPORT = "clockodo_report.html"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--destination", default="duckdb", help="any dlt destination name")
    common.add_argument("--dataset", help="dataset (schema) name (default clockodo, with "
                        "--account clockodo_<NAME>)")
    common.add_argument("--pipeline-name", help="default clockodo_pipeline, with --account "
                        "clockodo_<NAME>")
    common.add_argument("--account", metavar="NAME", help="an account of "
                        "[sources.clockodo.accounts]; `all`: the union of all (reading only)")
    common.add_argument("--entities", help="comma-separated tables (default: all)")
    common.add_argument("--verbose", action="store_true", help="show tracebacks")
    common.add_argument(
        "--strict", action="store_true",
        help="fail on a table the API user may not read (default: skip it with a warning)",
    )

    locked = argparse.ArgumentParser(add_help=False, parents=[common])
    locked.add_argument(
        "--wait", action="store_true",
        help=f"wait for a run of the same pipeline in progress (default: exit {BUSY_EXIT})",
    )

    parser = argparse.ArgumentParser(
        prog="clockodo-pipeline", description="Load a Clockodo account into a dlt destination."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", parents=[locked], help="incremental sync")
    run.add_argument("--start-date", help="earliest entry date on a first run (YYYY-MM-DD)")
    run.add_argument("--alerts", action="store_true", help="evaluate alerts after the load")
    run.add_argument("--notify", action="append", metavar="URL", help="webhook for --alerts")
    run.add_argument("--all-accounts", action="store_true", help="run every configured account")
    run.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL,
                     help=f"accounts at a time with --all-accounts (default {DEFAULT_PARALLEL})")
    backfill = commands.add_parser(
        "backfill", parents=[locked], help="load a historical range in windows, resumable"
    )
    backfill.add_argument("--start-date", required=True)
    backfill.add_argument("--end-date", help="exclusive end date (default: now + future_days)")
    backfill.add_argument("--window", default="month")
    reconcile = commands.add_parser(
        "reconcile", parents=[locked], help="re-scan a range, apply edits and deletions"
    )
    reconcile.add_argument("--start-date")
    reconcile.add_argument("--end-date", help="exclusive end date")
    demo = commands.add_parser("demo", parents=[locked], help="sync a built-in sample company")
    demo.add_argument("--entries", type=int, default=3000, help="entries in the sample company")
    demo.add_argument("--accounts", type=int, default=1, help="sample companies, as accounts")
    commands.add_parser("status", parents=[common], help="what is loaded, per table")
    report = commands.add_parser(
        "report", parents=[common], help="unbilled time, utilization, budgets or overtime"
    )
    report.add_argument("name", choices=REPORT_NAMES)
    report.add_argument("--month", help="YYYY-MM")
    report.add_argument("--quarter", help="YYYY-Qn")
    report.add_argument("--customer", help="customer id")
    report.add_argument("--project", help="project id")
    report.add_argument("--team", help="team id")
    report.add_argument("--format", default="table", choices=FORMATS)
    report.add_argument("--output", help=f"where --format html writes (default {HTML_REPORT})")
    selection = billing_commands.selection_options()
    invoice = commands.add_parser("invoice", parents=[common, selection],
                                  help="invoice lines of unbilled time, from the destination")
    invoice.add_argument("--format", default="table", choices=billing_commands.FORMATS)
    invoice.add_argument("--output", help="write to this file instead of printing")
    mark = commands.add_parser("mark-billed", parents=[locked, selection],
                               help="mark unbilled time billed in Clockodo (dry run by default)")
    mark.add_argument("--apply", action="store_true", help="make the change (audited)")
    mark.add_argument("--force", action="store_true",
                      help="apply although Clockodo's count differs from the warehouse's")
    alerts = commands.add_parser(
        "alerts", parents=[common], help="evaluate alerts; exit 0 none, 1 warnings, 2 critical"
    )
    alerts.add_argument("--format", default="table", choices=ALERT_FORMATS)
    alerts.add_argument("--notify", action="append", metavar="URL",
                        help="POST new, changed and resolved alerts to this webhook")
    return parser


def _source_args(args: argparse.Namespace) -> dict[str, Any]:
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


def _finish(pipeline: dlt.Pipeline, report: RunReport) -> str:
    """The run summary, after rebuilding the analytics models on the fresh data."""
    summary = format_summary(pipeline, report)
    if pipeline.destination.destination_name == "filesystem":
        return f"{summary}\nmodels: not built on the filesystem destination"
    built = build_models(pipeline)
    return f"{summary}\nmodels: " + ", ".join(f"{name} {rows:,}" for name, rows in built.items())


def _sync(args: argparse.Namespace, **source_args: Any) -> tuple[dlt.Pipeline, str]:
    """One run; a `run` first finishes a backfill that an earlier, killed process left."""
    tables = parse_entities(args.entities)
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    report = RunReport(0.0, {}, None, [])
    with held_open(pipeline):
        if args.command == "run":
            pipeline.sync_destination()
            # dlt's run() restores again unless it made the restore itself (a second read of
            # the state and schemas from the destination)
            pipeline._state_restored = True
            plan = pending_backfill(pipeline, tables)
            if plan is not None:
                logger.info("finishing the interrupted backfill %s first", plan.marker())
                report.merge(run_backfill(pipeline, plan, tables, _maker(source_args)))
        report.merge(run_source(pipeline, clockodo_source(**source_args), tables))
        return pipeline, _finish(pipeline, report)


def _maker(base: dict[str, Any]) -> Callable[..., DltSource]:
    def make(**window: Any) -> DltSource:
        return clockodo_source(**{**base, **window})  # type: ignore[no-any-return]

    return make


def _demo(args: argparse.Namespace) -> str:
    from clockodo_source.demo import DEMO_KEY, DEMO_USER, demo_api

    with demo_api(args.entries) as (server, company):
        start = min(row["time_since"] for row in company.all_entries())[:10]
        pipeline, summary = _sync(
            args,
            api_user=DEMO_USER,
            api_key=DEMO_KEY,
            base_url=server.url,
            start_date=start,
            full=True,
        )
    hint = ""
    if args.destination == "duckdb":
        credentials = pipeline.destination_client().config.credentials
        hint = f"\nDuckDB file: {getattr(credentials, 'database', '?')}"
    if args.destination != "filesystem":
        page = write_html_report(pipeline, HTML_REPORT).resolve()
        hint += f"\nReport (opens offline in a browser): {page.as_uri()}"
    return f"Demo company loaded from a fake Clockodo API at {server.url}\n{summary}{hint}"


def _backfill(args: argparse.Namespace) -> str:
    tables = parse_entities(args.entities)
    start = parse_date(args.start_date, "--start-date")
    end = (
        parse_date(args.end_date, "--end-date") if args.end_date
        else date.today() + timedelta(days=DEFAULT_FUTURE_DAYS + 1)
    )
    if end <= start:
        raise ConfigurationError(f"--end-date ({end}) must be after --start-date ({start})")
    if args.window not in WINDOW_UNITS:
        raise ConfigurationError(
            f"--window must be one of {', '.join(WINDOW_UNITS)} (got {args.window!r})"
        )
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    with held_open(pipeline):
        pipeline.sync_destination()
        plan = BackfillPlan(start, end, args.window)
        source = _maker({"strict": True} if args.strict else {})
        return _finish(pipeline, run_backfill(pipeline, plan, tables, source))


def _report(args: argparse.Namespace) -> str:
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    filters = {name: getattr(args, name) for name in ("month", "quarter", "customer", "project",
                                                      "team")}
    try:
        if args.format == "html":
            target = write_html_report(pipeline, args.output or HTML_REPORT,
                                       **{k: v for k, v in filters.items() if v})
            return f"Report written to {target.resolve().as_uri()}"
        return render_report(pipeline, args.name, fmt=args.format, **filters)
    except ModelNotBuiltError:
        raise ConfigurationError(
            f"the {args.name} report has no data yet: run `clockodo-pipeline run` first"
        ) from None
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _status(args: argparse.Namespace) -> str:
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


def _locked(args: argparse.Namespace) -> AbstractContextManager[None]:
    """One run of a pipeline at a time: a second one exits at once, or waits with --wait."""
    if getattr(args, "wait", None) is None:  # status and report read only
        return nullcontext()
    directory = pipelines_dir(args.destination, args.pipeline_name, args.dataset)
    return run_lock(directory, args.pipeline_name, args.wait, on_wait=lambda holder: logger.info(
        "waiting for the run of pipeline %s in progress (%s)", args.pipeline_name, holder))


def _log_to_stderr(verbose: bool) -> None:
    """Progress and warnings of the connector go to stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("clockodo-pipeline: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    bound_allocators()
    bound_dlt_buffers()
    _log_to_stderr(args.verbose)
    account = None
    try:
        account = accounts.select(args)
        if args.command == "alerts":
            return alerts_command(args)
        if getattr(args, "all_accounts", False):
            return run_all(args, accounts.configured_accounts(), _sync, _locked,
                           _source_args(args))
        if args.command == "demo" and args.accounts > 1:
            return demo_accounts(args, _sync, _locked)
        with _locked(args):
            if args.command == "demo":
                output = _demo(args)
            elif args.command == "status":
                output = _status(args)
            elif args.command == "backfill":
                output = _backfill(args) + accounts.after_load(args, account)
            elif args.command == "report":
                output = _report(args)
            elif args.command == "invoice":
                output = billing_commands.invoice(args)
            elif args.command == "mark-billed":
                output = billing_commands.mark_billed(args)
            else:
                after = alerts_after_run(args)  # run --alerts: its settings checked first
                pipeline, output = _sync(args, **_source_args(args))
                output += accounts.after_load(args, account)
                if after is not None:
                    return after(pipeline, output)
    except KeyboardInterrupt:
        print("clockodo-pipeline: interrupted; the next run resumes", file=sys.stderr)
        return 130
    except RunInProgress as busy:
        print(f"clockodo-pipeline: {busy}", file=sys.stderr)
        return BUSY_EXIT
    except Exception as exc:
        if args.verbose:
            raise
        reason = account.describe(exc) if account else describe_failure(exc)
        print(f"clockodo-pipeline: error: {reason}", file=sys.stderr)
        return CANNOT_EVALUATE if getattr(args, "alerts", False) or args.command == "alerts" \
            else 1
    try:
        print(output)
    except BrokenPipeError:  # `| head` closed the pipe: not a failure of the run
        sys.stderr.close()
    return 0


def run() -> None:
    """Console entry point. Exits without interpreter teardown once the work is flushed:
    native threads of deltalake's and DuckDB's runtimes can abort the process ("terminate
    called without an active exception") while Python destroys them after a finished run."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
