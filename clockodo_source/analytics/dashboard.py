"""The HTML report: one self-contained page with alerts, unbilled value, utilization and
budget burn.

Each section applies the filters that make sense for it (a month to unbilled time and
utilization, a customer to unbilled time and budgets, ...). A section whose model was not
built says so instead of failing the page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from html import escape

import dlt

from clockodo_source.analytics.catalog import REPORTS, Column, Report
from clockodo_source.analytics.charts import Bar, bar_chart
from clockodo_source.analytics.data import ModelNotBuiltError, Row, report_rows
from clockodo_source.analytics.filters import FILTER_NAMES, Filters
from clockodo_source.analytics.formats import display_value, is_numeric, table_columns
from clockodo_source.analytics.page import page
from clockodo_source.calendar import configured_timezone, zone_name
from clockodo_source.errors import ClockodoError

TOP_PROJECTS = 15


def dashboard(pipeline: dlt.Pipeline, filters: Filters, details: Report | None = None) -> str:
    """The whole page; ``details`` appends that report's rows as a table."""
    sections = [
        _alerts(pipeline),
        _section(pipeline, "unbilled", "Unbilled value by project", filters, _unbilled),
        _section(pipeline, "utilization", "Utilization", filters, _utilization),
        _section(pipeline, "budgets", "Budget burn", filters, _budgets),
    ]
    if details is not None:
        sections.append(_section(pipeline, details.name, f"Details: {details.title}", filters,
                                 _details_of(details)))
    zone = configured_timezone()
    generated = datetime.now(UTC).astimezone(zone)
    subtitle = (f"Dataset {pipeline.dataset_name} · filters: {filters.describe()} · generated "
                f"{generated:%Y-%m-%d %H:%M} {zone_name(zone)}")
    return page("Clockodo analytics", subtitle, sections)


def _alerts(pipeline: dlt.Pipeline) -> str:
    """What needs attention, first: the alerts at the configured thresholds (evaluated only:
    the page records and notifies nothing), for the whole dataset whatever the filters."""
    # the alert rules are built on these models: imported here, where the page needs them
    from clockodo_source.alerts import evaluate, headline

    try:
        evaluation = evaluate(pipeline)
    except ClockodoError as error:  # nothing loaded yet, or bad alert settings
        return (f'<h2>Alerts</h2>\n<p class="summary">not available</p>\n'
                f'<p class="empty">{escape(str(error))}.</p>')
    head = "".join(f'<th class="text">{name}</th>'
                   for name in ("severity", "rule", "subject", "message", "since"))
    body = "".join(
        f'<tr class="{escape(alert.severity)}">'
        + "".join(f'<td class="text">{escape(text)}</td>' for text in (
            alert.severity, alert.rule, alert.subject, alert.message,
            "" if alert.first_seen is None
            else f"{alert.first_seen.astimezone(evaluation.zone):%Y-%m-%d %H:%M}"))
        + "</tr>"
        for alert in evaluation.alerts
    )
    notes = "".join(f'\n<p class="note">Rule {escape(rule)} not evaluated: {escape(why)}.</p>'
                    for rule, why in evaluation.unevaluated.items())
    table = (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
             if body else '<p class="empty">Nothing needs attention.</p>')
    summary = f"{headline(evaluation)} · the whole dataset, whatever the filters"
    return f'<h2>Alerts</h2>\n<p class="summary">{escape(summary)}</p>\n{table}{notes}'


#: rows and the section's own filters -> (summary line, chart or table)
Renderer = Callable[[list[Row], Filters], tuple[str, str]]


def _section(
    pipeline: dlt.Pipeline, name: str, title: str, filters: Filters, render: Renderer
) -> str:
    report = REPORTS[name]
    own = _restrict(filters, report.filters)
    try:
        summary, body = render(report_rows(pipeline, report, own), own)
    except ModelNotBuiltError as error:
        summary, body = "not available", f'<p class="empty">{escape(str(error))}.</p>'
    return f'<h2>{escape(title)}</h2>\n<p class="summary">{escape(summary)}</p>\n{body}'


def _restrict(filters: Filters, allowed: Iterable[str]) -> Filters:
    """Only the filters a section can apply (month and quarter carry their date range)."""
    dropped = {name: None for name in FILTER_NAMES if name not in allowed}
    if "month" not in allowed and "quarter" not in allowed:
        dropped.update(since=None, until=None)
    return replace(filters, **dropped)


def _period(filters: Filters) -> str:
    return filters.month or filters.quarter or "all months"


def _unbilled(rows: list[Row], filters: Filters) -> tuple[str, str]:
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        total = totals[(row["project"], row["customer"])]
        total[0] += row["unbilled_value"] or 0.0
        total[1] += row["unbilled_hours"] or 0.0
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])
    bars = [Bar(f"{project} · {customer}", value, f"{value:,.2f} · {hours:,.1f} h")
            for (project, customer), (value, hours) in ranked[:TOP_PROJECTS]]
    value = sum(v for v, _ in totals.values())
    hours = sum(h for _, h in totals.values())
    entries = sum(row["entries"] for row in rows)
    summary = (f"{_period(filters)}: {value:,.2f} unbilled in {hours:,.1f} h "
               f"from {entries:,} entries (billable, not yet billed)")
    chart = _chart(bars, "Unbilled value by project")
    rest = ranked[TOP_PROJECTS:]
    if rest:  # a note, not a bar: the sum of many small projects would dwarf the chart
        value = sum(v for _, (v, _) in rest)
        more = f"{len(rest)} more project" + ("s" if len(rest) > 1 else "")
        chart += f'\n<p class="note">{more}: {value:,.2f}</p>'
    return summary, chart


def _utilization(rows: list[Row], filters: Filters) -> tuple[str, str]:
    if filters.since:
        label = _period(filters)
    else:
        month = _default_month(rows)
        rows = [row for row in rows if row["period_start"] == month]
        label = f"{month:%Y-%m} (latest complete month with work)" if month else "no data"
    people = _utilization_bars(rows, lambda row: row["user"])
    teams = _utilization_bars(rows, lambda row: row["team"])
    summary = f"{label}: billable hours as a share of Clockodo's target hours"
    return summary, (f"<h3>By person</h3>\n{_chart(people, 'Utilization by person', True)}\n"
                     f"<h3>By team</h3>\n{_chart(teams, 'Utilization by team', True)}")


def _default_month(rows: Sequence[Row]) -> date | None:
    """The latest month with worked hours before the current one (whose target covers days
    still to come), or the current one when it is the only month with work."""
    current = datetime.now(configured_timezone()).date().replace(day=1)
    worked = {row["period_start"] for row in rows if row["worked_hours"] > 0}
    return max({month for month in worked if month < current} or worked, default=None)


def _utilization_bars(rows: Sequence[Row], key: Callable[[Row], str]) -> list[Bar]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        total = sums[key(row)]
        total[0] += row["billable_hours"]
        total[1] += row["target_hours"]
    bars = []
    for label, (billable, target) in sorted(sums.items()):
        if target > 0:
            pct = 100 * billable / target
            bars.append(Bar(label, pct, f"{pct:,.1f} % · {billable:,.1f} of {target:,.1f} h"))
        else:
            bars.append(Bar(label, None, f"no target hours · {billable:,.1f} h billable",
                            "muted"))
    return bars


def _budgets(rows: list[Row], filters: Filters) -> tuple[str, str]:
    bars = []
    for row in rows:
        pct = row["used_pct"]
        if row["budget_kind"] == "hours":
            text = f"{row['used']:,.1f} h of {row['budget']:,.1f} h"
        else:
            text = f"{row['used']:,.2f} of {row['budget']:,.2f}"
        if pct is not None:
            text = f"{pct:,.0f} % · {text}"
        if row["runout_date"] is not None:
            text += f" · runs out {row['runout_date'].isoformat()}"
        tone = "ok" if (pct or 0) < 80 else "warn" if (pct or 0) <= 100 else "over"
        bars.append(Bar(f"{row['project']} · {row['customer']}", pct, text, tone))
    summary = ("share of each project budget used (interval budgets: the current interval); "
               "run-out forecast from the average use of the last 28 days")
    return summary, _chart(bars, "Budget burn", True)


def _details_of(report: Report) -> Renderer:
    def render(rows: list[Row], filters: Filters) -> tuple[str, str]:
        columns = table_columns(report)
        head = "".join(f'<th class="{_align(c)}">{escape(c.header)}</th>' for c in columns)
        body = "".join(
            "<tr>" + "".join(f'<td class="{_align(c)}">{escape(display_value(c, row.get(c.key)))}'
                             "</td>" for c in columns) + "</tr>"
            for row in rows
        )
        table = (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                 if rows else _EMPTY)
        return f"{len(rows):,} rows, filters: {filters.describe()}", table

    return render


def _align(column: Column) -> str:
    return "num" if is_numeric(column) else "text"


def _chart(bars: Sequence[Bar], title: str, percent: bool = False) -> str:
    """A bar chart, or a note when there is nothing to draw; percentages get a 100 % line."""
    if not bars:
        return _EMPTY
    if percent:
        return bar_chart(bars, title=title, unit=" %", reference=100, cap=200)
    return bar_chart(bars, title=title)


_EMPTY = '<p class="empty">Nothing matches these filters.</p>'
