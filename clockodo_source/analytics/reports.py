"""The report entry points: one report in one format, or the HTML page written to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt

from clockodo_source.analytics.catalog import REPORTS
from clockodo_source.analytics.dashboard import dashboard
from clockodo_source.analytics.data import report_rows
from clockodo_source.analytics.filters import FILTER_NAMES, check_applicable, parse_filters
from clockodo_source.analytics.formats import to_csv, to_json, to_table

FORMATS = ("table", "csv", "json", "html")


def render_report(
    pipeline: dlt.Pipeline, name: str, *, month: str | None = None, quarter: str | None = None,
    year: int | str | None = None, customer: int | str | None = None,
    project: int | str | None = None, team: int | str | None = None, fmt: str = "table",
) -> str:
    """Report ``name`` (unbilled, utilization, budgets, overtime, absences) as table, csv, json
    or html.

    Filters: ``month`` "YYYY-MM", ``quarter`` "YYYY-Qn", ``year`` YYYY (overtime, absences),
    ``customer``/``project``/``team`` ids.
    A filter the report cannot apply is refused (``ValueError``) rather than ignored. The HTML
    page shows all three charts, each filtered as far as it applies, and this report's rows.
    """
    if name not in REPORTS:
        raise ValueError(f"report must be one of {', '.join(REPORTS)}, for example unbilled "
                         f"(got {name!r})")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, for example csv "
                         f"(got {fmt!r})")
    report = REPORTS[name]
    filters = parse_filters(month=month, quarter=quarter, year=year, customer=customer,
                            project=project, team=team)
    check_applicable(report.name, filters, report.filters)
    if fmt == "html":
        return dashboard(pipeline, filters, details=report)
    rows = report_rows(pipeline, report, filters)
    if fmt == "csv":
        return to_csv(report, rows)
    if fmt == "json":
        return to_json(report, filters, rows)
    return to_table(report, filters, rows)


def write_html_report(pipeline: dlt.Pipeline, path: str | Path, **filters: Any) -> Path:
    """Write the HTML page (unbilled value, utilization, budget burn) to ``path``.

    Takes the filters of :func:`render_report`; each chart applies those that fit it.
    """
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        raise ValueError(f"unknown filter {unknown[0]!r}; the filters are {', '.join(FILTER_NAMES)}"
                         ", for example month='2026-03'")
    target = Path(path)
    page = dashboard(pipeline, parse_filters(**filters))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
