"""Analytics models and reports on top of a loaded Clockodo dataset.

``build_models(pipeline)`` (re)builds five tables next to the loaded ones: ``unbilled_time``,
``utilization``, ``project_budgets``, ``overtime_balance`` and ``absence_summary``, in SQL that
runs on DuckDB and PostgreSQL and is written for BigQuery and Snowflake too.
``render_report`` and ``write_html_report`` turn them into tables, CSV, JSON or one HTML page.
"""

from __future__ import annotations

from clockodo_source.analytics.build import build_models
from clockodo_source.analytics.catalog import REPORTS
from clockodo_source.analytics.data import ModelNotBuiltError
from clockodo_source.analytics.models import MODELS
from clockodo_source.analytics.reports import FORMATS, render_report, write_html_report

MODEL_NAMES = tuple(model.name for model in MODELS)
REPORT_NAMES = tuple(REPORTS)

__all__ = [
    "FORMATS",
    "MODEL_NAMES",
    "REPORT_NAMES",
    "ModelNotBuiltError",
    "build_models",
    "render_report",
    "write_html_report",
]
