"""An alert: which rule fired, how severe it is, and the words a person reads.

The exit statuses follow the monitoring-plugin convention (0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN), so cron jobs, systemd units, CI and Nagios-style checks can act on them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

WARNING = "warning"
CRITICAL = "critical"
#: most severe first
SEVERITIES = (CRITICAL, WARNING)
#: the rules in the order they are listed (the contract's order)
RULE_NAMES = ("budget", "unbilled_age", "running_clock", "missing_time", "overtime", "sync")

NO_ALERT = 0
WARNINGS_ONLY = 1
SOME_CRITICAL = 2
CANNOT_EVALUATE = 3


@dataclass(frozen=True)
class Alert:
    """One condition that needs a person's attention.

    ``key`` identifies the condition across runs (``budget:40003``), so a notification names
    only what is new, changed in severity or resolved; ``first_seen`` is when it was first
    found (kept in the ``alert_state`` table), None until an evaluation has looked it up.
    """

    rule: str
    severity: str
    key: str
    subject: str
    message: str
    value: float | None
    threshold: float | None
    first_seen: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "key": self.key,
            "subject": self.subject,
            "message": self.message,
            "value": None if self.value is None else round(self.value, 2),
            "threshold": self.threshold,
            "first_seen": None if self.first_seen is None else self.first_seen.isoformat(),
        }


def ordered(alerts: Iterable[Alert]) -> list[Alert]:
    """Most severe first; within a severity by rule, the largest value first, then key."""
    return sorted(alerts, key=lambda alert: (
        SEVERITIES.index(alert.severity), RULE_NAMES.index(alert.rule),
        -(alert.value or 0.0), alert.key,
    ))


def exit_status(alerts: Iterable[Alert]) -> int:
    """0 no alert, 1 warnings only, 2 at least one critical alert."""
    severities = {alert.severity for alert in alerts}
    if CRITICAL in severities:
        return SOME_CRITICAL
    return WARNINGS_ONLY if severities else NO_ALERT
