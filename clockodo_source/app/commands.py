"""`clockodo-pipeline`'s commands: it parses arguments and hands each command to its module in
`clockodo_source.app` (the story of the command); nothing else happens here. The process around
it (Ctrl-C, a closed output pipe, the exit) is `clockodo_source.app.cli`'s."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from importlib.metadata import version

from clockodo_source.alerts import CANNOT_EVALUATE
from clockodo_source.alerts import FORMATS as ALERT_FORMATS
from clockodo_source.analytics import FORMATS, REPORT_NAMES
from clockodo_source.app import accounts
from clockodo_source.app import billing as billing_commands
from clockodo_source.app import mcp as mcp_app
from clockodo_source.app.alerts import alerts_after_run, alerts_command
from clockodo_source.app.all_accounts import DEFAULT_PARALLEL, run_all
from clockodo_source.app.backfill import backfill_command
from clockodo_source.app.dbt_package import DEFAULT_OUTPUT as DBT_OUTPUT
from clockodo_source.app.dbt_package import dbt_package_command
from clockodo_source.app.demo import demo_command
from clockodo_source.app.demo_accounts import demo_accounts
from clockodo_source.app.memory import bound_allocators, bound_dlt_buffers, config_defaults
from clockodo_source.app.messages import describe_failure
from clockodo_source.app.process import OutputClosed, was_interrupted, write_out
from clockodo_source.app.report import HTML_REPORT, report_command
from clockodo_source.app.run import source_args, sync
from clockodo_source.app.status import status_command
from clockodo_source.app.workspace import BUSY_EXIT, RunInProgress, pipelines_dir, run_lock

logger = logging.getLogger("clockodo_source")
#: dlt holds a Ctrl-C during normalize and load until its job pools are drained (minutes for a
#: large load) and may let a run go on that it reached at the end of a step; the CLI stops at
#: once instead, wherever the run is: the next run completes or discards what was cut short
#: (`clockodo_source.app.recovery`)
STOP_AT_ONCE = {"runtime.intercept_signals": False}
#: commands besides run and reconcile, each to the function that tells its story
COMMANDS: dict[str, Callable[[argparse.Namespace], str]] = {
    "demo": demo_command,
    "status": status_command,
    "backfill": backfill_command,
    "report": report_command,
    "invoice": billing_commands.invoice,
    "mark-billed": billing_commands.mark_billed,
    "dbt-package": dbt_package_command,
}


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
    common.add_argument("--quiet", action="store_true",
                        help="only errors and warnings (no progress, no run summary)")
    common.add_argument(
        "--strict", action="store_true",
        help="fail on a table the API user may not read (default: skip it with a warning)",
    )

    locked = argparse.ArgumentParser(add_help=False, parents=[common])
    locked.add_argument(
        "--wait", action="store_true",
        help=f"wait for a run of the same pipeline in progress (default: exit {BUSY_EXIT})",
    )

    summary = argparse.ArgumentParser(add_help=False)
    summary.add_argument("--json", action="store_true",
                         help="print the summary as one JSON object on stdout")

    parser = argparse.ArgumentParser(
        prog="clockodo-pipeline", description="Load a Clockodo account into a dlt destination."
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {version('clockodo-dlt')}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", parents=[locked, summary], help="incremental sync")
    run.add_argument("--start-date", help="earliest entry date on a first run (YYYY-MM-DD)")
    run.add_argument("--alerts", action="store_true", help="evaluate alerts after the load")
    run.add_argument("--notify", action="append", metavar="URL", help="webhook for --alerts")
    run.add_argument("--all-accounts", action="store_true", help="run every configured account")
    run.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL,
                     help=f"accounts at a time with --all-accounts (default {DEFAULT_PARALLEL})")
    backfill = commands.add_parser(
        "backfill", parents=[locked, summary], help="load a historical range in windows, resumable"
    )
    backfill.add_argument("--start-date", required=True)
    backfill.add_argument("--end-date", help="exclusive end date (default: now + future_days)")
    backfill.add_argument("--window", default="month")
    reconcile = commands.add_parser(
        "reconcile", parents=[locked, summary], help="re-scan a range, apply edits and deletions"
    )
    reconcile.add_argument("--start-date")
    reconcile.add_argument("--end-date", help="exclusive end date")
    demo = commands.add_parser("demo", parents=[locked, summary],
                               help="sync a built-in sample company")
    demo.add_argument("--entries", type=int, default=3000, help="entries in the sample company")
    demo.add_argument("--accounts", type=int, default=1, help="sample companies, as accounts")
    commands.add_parser("status", parents=[common, summary], help="what is loaded, per table")
    report = commands.add_parser(
        "report", parents=[common],
        help="unbilled time, utilization, budgets, overtime or absences",
    )
    report.add_argument("name", choices=REPORT_NAMES)
    report.add_argument("--month", help="YYYY-MM")
    report.add_argument("--quarter", help="YYYY-Qn")
    report.add_argument("--year", help="YYYY (overtime, absences)")
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
    dbt = commands.add_parser("dbt-package", parents=[common],
                              help="write a dbt project over the loaded dataset")
    dbt.add_argument("--output", help=f"its directory (default {DBT_OUTPUT})")
    mcp_app.add_options(commands.add_parser(
        "mcp", parents=[common], help="serve the dataset to AI agents (Model Context Protocol)"))
    return parser


def _locked(args: argparse.Namespace) -> AbstractContextManager[None]:
    """One run of a pipeline at a time: a second one exits at once, or waits with --wait."""
    if getattr(args, "wait", None) is None:  # status and report read only
        return nullcontext()
    directory = pipelines_dir(args.destination, args.pipeline_name, args.dataset)
    return run_lock(directory, args.pipeline_name, args.wait, on_wait=lambda holder: logger.info(
        "waiting for the run of pipeline %s in progress (%s)", args.pipeline_name, holder))


def _log_to_stderr(verbose: bool, quiet: bool) -> None:
    """Progress and warnings of the connector go to stderr, one line each (with `--quiet`
    only warnings)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("clockodo-pipeline: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    bound_allocators()
    bound_dlt_buffers()
    config_defaults(STOP_AT_ONCE)
    _log_to_stderr(args.verbose, args.quiet)
    account = None
    try:
        account = accounts.select(args)
        if args.command == "alerts":
            return alerts_command(args)
        if args.command == "mcp":
            return mcp_app.mcp_command(args)
        if getattr(args, "all_accounts", False):
            return run_all(args, accounts.configured_accounts(), sync, _locked, source_args(args))
        if args.command == "demo" and args.accounts > 1:
            return demo_accounts(args, sync, _locked)
        with _locked(args):
            if args.command in COMMANDS:
                output = COMMANDS[args.command](args)
                if args.command == "backfill":
                    output += accounts.after_load(args, account)
            else:  # run and reconcile
                after = alerts_after_run(args)  # run --alerts: its settings checked first
                pipeline, output = sync(args)
                output += accounts.after_load(args, account)
                if after is not None:
                    return after(pipeline, output)
    except RunInProgress as busy:
        print(f"clockodo-pipeline: {busy}", file=sys.stderr)
        return BUSY_EXIT
    except OutputClosed:
        raise
    except Exception as exc:
        if was_interrupted():  # the failure of what a Ctrl-C cut short
            raise KeyboardInterrupt from exc
        if args.verbose:
            raise
        reason = account.describe(exc) if account else describe_failure(exc)
        print(f"clockodo-pipeline: error: {reason}", file=sys.stderr)
        return CANNOT_EVALUATE if getattr(args, "alerts", False) or args.command == "alerts" \
            else 1
    if output:  # `--quiet` leaves nothing to print
        write_out(output + "\n")
    return 0
