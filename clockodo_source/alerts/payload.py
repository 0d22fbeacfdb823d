"""What a webhook receives: ``{"text", "alerts", "resolved"}``.

Slack and Mattermost incoming webhooks show ``text``: one paragraph, a headline and then a
line per alert, most severe first, with emoji codes both understand. The lists carry the
alerts as the JSON output has them, for receivers that read fields.
"""

from __future__ import annotations

from typing import Any

from clockodo_source.alerts.alert import CRITICAL, WARNING, Alert, ordered
from clockodo_source.alerts.state import Changes, StoredAlert

#: alert lines in ``text``; the rest is counted in one last line
MAX_LINES = 10
_EMOJI = {CRITICAL: ":red_circle:", WARNING: ":warning:"}
_RULE_TITLES = {
    "budget": "Budget", "unbilled_age": "Unbilled", "running_clock": "Running clock",
    "missing_time": "Missing time", "overtime": "Overtime", "sync": "Sync",
}


def payload(changes: Changes, source: str) -> dict[str, Any]:
    """The body to POST; ``source`` names the pipeline and dataset the alerts are about."""
    return {
        "text": summary(changes, source),
        "alerts": [alert.as_json() for alert in ordered(changes.raised)],
        "resolved": [_resolved(row) for row in changes.resolved],
    }


def summary(changes: Changes, source: str) -> str:
    raised = ordered(changes.raised)
    critical = sum(alert.severity == CRITICAL for alert in raised)
    warnings = len(raised) - critical
    counts = [text for number, text in (
        (critical, f"{critical} critical"),
        (warnings, f"{warnings} warning{'s' if warnings > 1 else ''}"),
    ) if number]
    parts = [" and ".join(counts) + " new or changed"] if counts else []
    if changes.resolved:
        parts.append(f"{len(changes.resolved)} resolved")
    lines = [_line(alert) for alert in raised]
    lines += [f":white_check_mark: resolved: {_title(row.alert)}" for row in changes.resolved]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"... and {len(lines) - MAX_LINES} more"]
    return "\n".join([f"Clockodo alerts for {source}: {'; '.join(parts)}.", *lines])


def _line(alert: Alert) -> str:
    return f"{_EMOJI[alert.severity]} {_title(alert)}: {alert.message}"


def _title(alert: Alert) -> str:
    return f"{_RULE_TITLES.get(alert.rule, alert.rule)} · {alert.subject}"


def _resolved(row: StoredAlert) -> dict[str, Any]:
    """A resolved alert as last found (``severity``: as last notified)."""
    found = row.alert.as_json()
    found["severity"] = row.notified_severity
    found["last_seen"] = row.last_seen.isoformat()
    return found
