"""Report rows as a text table, CSV or JSON.

Amounts and hours are rounded to two decimals in every format; CSV and JSON carry ids next
to names and keep numbers plain (no thousands separators), so they load into a spreadsheet or
``jq`` as they are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from clockodo_source.analytics.catalog import Column, Kind, Report
from clockodo_source.analytics.data import Row
from clockodo_source.analytics.filters import Filters

_MAX_TEXT = 32
_NUMERIC = (Kind.COUNT, Kind.HOURS, Kind.DAYS, Kind.AMOUNT, Kind.PERCENT)
_DECIMAL = (Kind.HOURS, Kind.DAYS, Kind.AMOUNT)


def plain_value(column: Column, value: Any) -> Any:
    """The value for CSV and JSON: dates as ISO text, decimals rounded to two places."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if column.kind in (*_DECIMAL, Kind.PERCENT):
        return round(float(value), 2)
    return value


def display_value(column: Column, value: Any) -> str:
    """The value for text and HTML tables: thousands separators, a percent sign, a dash."""
    if value is None:
        return "-"
    if isinstance(value, date):
        return value.isoformat()
    if column.kind is Kind.PERCENT:
        return f"{float(value):,.1f} %"
    if column.kind in _DECIMAL:
        return f"{float(value):,.2f}"
    if column.kind is Kind.COUNT:
        return f"{int(value):,}"
    return str(value)


def is_numeric(column: Column) -> bool:
    return column.kind in _NUMERIC


def table_columns(report: Report) -> list[Column]:
    return [column for column in report.columns if column.in_table]


def to_table(report: Report, filters: Filters, rows: Sequence[Row]) -> str:
    title = f"{report.title} (filters: {filters.describe()}; {len(rows)} rows)"
    return text_table(title, report.columns, rows)


def text_table(title: str, all_columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """A text table under ``title``, of the columns shown in tables (also for invoices)."""
    columns = [column for column in all_columns if column.in_table]
    cells = [[_clip(display_value(c, row.get(c.key))) for c in columns] for row in rows]
    widths = [max([len(c.header), *(len(line[i]) for line in cells)])
              for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [value.rjust(width) if is_numeric(column) else value.ljust(width)
                 for value, width, column in zip(values, widths, columns, strict=True)]
        return "  ".join(parts).rstrip()

    body = [line([c.header for c in columns]), line(["-" * w for w in widths])]
    body += [line(values) for values in cells] or ["(no rows)"]
    return "\n".join([title, *body]) + "\n"


def to_csv(report: Report, rows: Sequence[Row]) -> str:
    return csv_table(report.columns, rows)


def csv_table(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """CSV of ``rows`` with a header of column keys (also for invoices)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.key for column in columns])
    for row in rows:
        writer.writerow(["" if (value := plain_value(c, row.get(c.key))) is None else value
                         for c in columns])
    return buffer.getvalue()


def to_json(report: Report, filters: Filters, rows: Sequence[Row]) -> str:
    document = {
        "report": report.name,
        "model": report.model,
        "filters": {name: getattr(filters, name) for name in filters.given},
        "rows": [{c.key: plain_value(c, row.get(c.key)) for c in report.columns}
                 for row in rows],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _clip(text: str) -> str:
    """Keep text tables readable: long names are cut with an ellipsis."""
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
