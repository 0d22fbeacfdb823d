"""``running_clock``: an entry whose clock has been running for more than ``running_hours``
hours (forgotten overnight, most likely)."""

from __future__ import annotations

from datetime import timedelta

from clockodo_source.alerts.alert import WARNING, Alert
from clockodo_source.alerts.rules.context import Rule, RuleContext
from clockodo_source.rows import as_utc

INPUTS = {
    "entries": ("id", "type", "users_id", "customers_id", "projects_id", "time_since",
                "time_until"),
}
TIME_ENTRY = 1


def find(ctx: RuleContext) -> list[Alert]:
    hours = ctx.thresholds.running_hours
    started_before = ctx.dialect.timestamp(ctx.now - timedelta(hours=hours))
    rows = ctx.rows(f"""SELECT id, users_id, customers_id, projects_id, time_since
FROM {ctx.table("entries")}
WHERE time_until IS NULL AND type = {TIME_ENTRY} AND time_since < {started_before}""")
    alerts = []
    for entry_id, users_id, customers_id, projects_id, time_since in rows:
        started = as_utc(time_since)
        running = (ctx.now - started).total_seconds() / 3600
        local = started.astimezone(ctx.zone)
        alerts.append(Alert(
            rule="running_clock",
            severity=WARNING,
            key=f"running_clock:{entry_id}",
            subject=ctx.name("users", users_id, "user"),
            message=(f"clock running for {running:,.1f} h, since {local:%Y-%m-%d %H:%M} "
                     f"{local.tzname()}, on {ctx.project(projects_id, customers_id)}"),
            value=running,
            threshold=hours,
        ))
    return alerts


RULE = Rule("running_clock", INPUTS, find)
