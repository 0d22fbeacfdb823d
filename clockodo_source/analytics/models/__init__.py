"""The five analytics models, in build order."""

from __future__ import annotations

from clockodo_source.analytics.models import (
    absence_summary,
    overtime_balance,
    project_budgets,
    unbilled_time,
    utilization,
)
from clockodo_source.analytics.models.context import Model, SqlContext

MODELS: tuple[Model, ...] = (
    unbilled_time.MODEL,
    utilization.MODEL,
    project_budgets.MODEL,
    overtime_balance.MODEL,
    absence_summary.MODEL,
)

__all__ = ["MODELS", "Model", "SqlContext"]
