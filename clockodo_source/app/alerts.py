"""`clockodo-pipeline alerts` and `run --alerts`: evaluate the alert rules on the destination,
tell the webhooks what changed, print the alerts and exit with the monitoring-plugin statuses
that cron, systemd, CI and monitoring checks act on: 0 no alert, 1 warnings only, 2 a critical
alert, 3 cannot evaluate (nothing loaded, destination unreachable, bad alert settings).

`run --alerts` checks the alert settings before it loads anything and exits as `alerts` does:
a run that fails (or bad alert settings) is 3, since nothing fresh could be evaluated; only a
run refused because another one is in progress keeps its 75.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import dlt

from clockodo_source.alerts import (
    CANNOT_EVALUATE,
    CannotEvaluate,
    Outcome,
    Thresholds,
    check,
    notify_urls,
    render,
)
from clockodo_source.app.messages import describe_failure
from clockodo_source.app.process import write_out
from clockodo_source.app.run import make_pipeline
from clockodo_source.app.summary import Output
from clockodo_source.errors import ConfigurationError

AfterRun = Callable[[dlt.Pipeline, str], int]


def alerts_command(args: argparse.Namespace) -> int:
    """`alerts`: settings first (a bad webhook URL is refused before any request), then the
    check on the dataset the options name."""
    try:
        urls = notify_urls(args.notify)
        thresholds = Thresholds.from_config()
        pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
        outcome = check(pipeline, notify=urls, thresholds=thresholds)
    except Exception as exc:
        return _cannot_evaluate(exc, args.verbose)
    return _show(outcome, args.format)


def alerts_after_run(args: argparse.Namespace) -> AfterRun | None:
    """For `run --alerts`: the step to call after the load, its settings checked now (before
    the run makes a request); None without `--alerts`. With `--json` the summary's object
    gets the alerts and the exit status; with `--quiet` only alerts that fire are shown."""
    if not getattr(args, "alerts", False):
        if getattr(args, "notify", None):
            raise ConfigurationError("--notify sends alerts: add --alerts to `run`")
        return None
    urls = notify_urls(args.notify)
    thresholds = Thresholds.from_config()
    output = Output.of(args)

    def after(pipeline: dlt.Pipeline, summary: str) -> int:
        if not output.json and summary:
            write_out(summary + "\n")
        try:
            outcome = check(pipeline, notify=urls, thresholds=thresholds)
        except Exception as exc:
            status = _cannot_evaluate(exc, args.verbose)
            if output.json:
                _with_alerts(summary, None, status)
            return status
        if output.json:
            _notes(outcome)
            _with_alerts(summary, [alert.as_json() for alert in outcome.evaluation.alerts],
                         outcome.status)
            return outcome.status
        if output.quiet and not outcome.evaluation.alerts:  # nothing wrong, nothing to say
            _notes(outcome)
            return outcome.status
        return _show(outcome, "table")

    return after


def _with_alerts(summary: str, alerts: list[dict[str, Any]] | None, status: int) -> None:
    """`run --alerts --json`: the run's summary object with the alerts (None: not evaluated)
    and the exit status they give, still one object."""
    write_out(json.dumps({**json.loads(summary), "alerts": alerts, "exit_status": status}) + "\n")


def _show(outcome: Outcome, fmt: str) -> int:
    """The alerts on stdout; rules left out and failed webhooks on stderr, one line each."""
    _notes(outcome)
    write_out(render(outcome.evaluation, fmt))
    return outcome.status


def _notes(outcome: Outcome) -> None:
    """Rules left out and failed webhooks, on stderr, one line each."""
    notes: Sequence[str] = [
        *(f"rule {rule} not evaluated: {why}"
          for rule, why in outcome.evaluation.unevaluated.items()),
        *outcome.failures,
    ]
    for note in notes:
        print(f"clockodo-pipeline: {note}", file=sys.stderr)


def _cannot_evaluate(exc: Exception, verbose: bool) -> int:
    if verbose:
        raise exc
    reason = str(exc) if isinstance(exc, CannotEvaluate) else describe_failure(exc)
    print(f"clockodo-pipeline: cannot evaluate alerts: {reason}", file=sys.stderr)
    return CANNOT_EVALUATE

