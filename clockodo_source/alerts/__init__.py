"""Alerts: budgets running out, unbilled time, clocks left running, days without booked time,
overtime piling up and syncs that stopped, evaluated on a loaded dataset.

``evaluate(pipeline)`` returns the alerts and changes nothing; ``check(pipeline, notify=[url])``
is what a schedule runs: evaluate, notify webhooks of what changed since the last
notification, and remember the alerts in the dataset's ``alert_state`` table. Thresholds come
from dlt config section ``[alerts]`` (env ``ALERTS__<KEY>``); see :class:`Thresholds`.
"""

from __future__ import annotations

from clockodo_source.alerts.alert import (
    CANNOT_EVALUATE,
    NO_ALERT,
    SOME_CRITICAL,
    WARNINGS_ONLY,
    Alert,
    exit_status,
)
from clockodo_source.alerts.evaluate import CannotEvaluate, Evaluation, Outcome, check, evaluate
from clockodo_source.alerts.render import FORMATS, headline, render
from clockodo_source.alerts.state import STATE_TABLE
from clockodo_source.alerts.thresholds import Thresholds, notify_urls

__all__ = [
    "CANNOT_EVALUATE",
    "FORMATS",
    "NO_ALERT",
    "SOME_CRITICAL",
    "STATE_TABLE",
    "WARNINGS_ONLY",
    "Alert",
    "CannotEvaluate",
    "Evaluation",
    "Outcome",
    "Thresholds",
    "check",
    "evaluate",
    "exit_status",
    "headline",
    "notify_urls",
    "render",
]
