"""``sync``: the last successful load is older than ``stale_hours`` (critical: scheduled runs
stopped or keep failing), or the last run that read a table skipped it (warning: the API user
may not read it, so the table stays as it was)."""

from __future__ import annotations

from clockodo_source.alerts.alert import CRITICAL, WARNING, Alert
from clockodo_source.alerts.rules.context import Rule, RuleContext

#: reads only what the evaluation looked up before any rule: the loads and the source state
INPUTS: dict[str, tuple[str, ...]] = {}


def find(ctx: RuleContext) -> list[Alert]:
    alerts = []
    stale = ctx.thresholds.stale_hours
    age = (ctx.now - ctx.last_load).total_seconds() / 3600
    if age > stale:
        local = ctx.last_load.astimezone(ctx.zone)
        alerts.append(Alert(
            rule="sync",
            severity=CRITICAL,
            key=f"sync:{ctx.pipeline_name}",
            subject=ctx.pipeline_name,
            message=(f"last successful load {age:,.1f} h ago, at {local:%Y-%m-%d %H:%M} "
                     f"{local.tzname()}: scheduled runs stopped or keep failing"),
            value=age,
            threshold=stale,
        ))
    for table, endpoint in sorted(ctx.skipped.items()):
        alerts.append(Alert(
            rule="sync",
            severity=WARNING,
            key=f"sync:{table}",
            subject=table,
            message=(f"the last run skipped table {table}: the API user may not read "
                     f"{endpoint} (403); the table keeps its earlier rows"),
            value=None,
            threshold=None,
        ))
    return alerts


RULE = Rule("sync", INPUTS, find)
