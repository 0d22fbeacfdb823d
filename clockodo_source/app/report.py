"""`clockodo-pipeline report NAME`: a model's rows as a table, CSV, JSON or an HTML page."""

from __future__ import annotations

import argparse

from clockodo_source.analytics import ModelNotBuiltError, render_report, write_html_report
from clockodo_source.analytics.filters import FILTER_NAMES
from clockodo_source.app.accounts import DEMO_PIPELINE
from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.errors import ConfigurationError

HTML_REPORT = "clockodo_report.html"


def report_command(args: argparse.Namespace) -> str:
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    filters = {name: getattr(args, name) for name in FILTER_NAMES}
    try:
        if args.format == "html":
            target = write_html_report(pipeline, args.output or HTML_REPORT,
                                       **{k: v for k, v in filters.items() if v})
            return f"Report written to {target.resolve().as_uri()}"
        return render_report(pipeline, args.name, fmt=args.format, **filters)
    except ModelNotBuiltError:
        raise ConfigurationError(
            f"the {args.name} report has no data yet in pipeline {args.pipeline_name}: run "
            f"`clockodo-pipeline run` first (the demo's data: --pipeline-name {DEMO_PIPELINE})"
        ) from None
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
