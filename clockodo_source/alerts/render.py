"""Alerts as a text table or as JSON (``{"alerts": [...]}``), for the command line."""

from __future__ import annotations

import json

from clockodo_source.alerts.alert import CRITICAL, Alert
from clockodo_source.alerts.evaluate import Evaluation

FORMATS = ("table", "json")
_MAX_SUBJECT = 40


def render(evaluation: Evaluation, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps({"alerts": [alert.as_json() for alert in evaluation.alerts]},
                          ensure_ascii=False, indent=2) + "\n"
    return _table(evaluation)


def headline(evaluation: Evaluation) -> str:
    """``3 alerts: 1 critical, 2 warnings`` or ``no alerts``, with the moment."""
    alerts = evaluation.alerts
    local = evaluation.at.astimezone(evaluation.zone)
    moment = f"at {local:%Y-%m-%d %H:%M} {local.tzname()}"
    if not alerts:
        return f"No alerts {moment}"
    critical = sum(alert.severity == CRITICAL for alert in alerts)
    return (f"{len(alerts)} alert{'s' if len(alerts) > 1 else ''} {moment}: "
            f"{critical} critical, {len(alerts) - critical} warning"
            f"{'s' if len(alerts) - critical != 1 else ''}")


def _table(evaluation: Evaluation) -> str:
    header = ("severity", "rule", "key", "subject", "message")
    cells = [_cells(alert) for alert in evaluation.alerts]
    widths = [max([len(header[i]), *(len(row[i]) for row in cells)]) for i in range(4)]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join([*(v.ljust(w) for v, w in zip(values, widths, strict=False)),
                          values[4]]).rstrip()

    lines = [headline(evaluation)]
    if cells:
        lines += [line(header), line(tuple("-" * w for w in (*widths, len(header[4]))))]
        lines += [line(row) for row in cells]
    return "\n".join(lines) + "\n"


def _cells(alert: Alert) -> tuple[str, ...]:
    subject = alert.subject
    if len(subject) > _MAX_SUBJECT:
        subject = subject[: _MAX_SUBJECT - 1] + "…"
    return (alert.severity, alert.rule, alert.key, subject, alert.message)
