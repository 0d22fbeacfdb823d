"""``unbilled_age``: a customer with billable, not yet billed entries older than
``unbilled_days`` days, from the ``unbilled_time`` model."""

from __future__ import annotations

from datetime import timedelta

from clockodo_source.alerts.alert import WARNING, Alert
from clockodo_source.alerts.rules.context import Rule, RuleContext

INPUTS = {
    "unbilled_time": ("customers_id", "unbilled_hours", "unbilled_value", "entries",
                      "oldest_unbilled_date"),
}


def find(ctx: RuleContext) -> list[Alert]:
    days = ctx.thresholds.unbilled_days
    cutoff = ctx.today - timedelta(days=days)  # older than N days: before this day
    rows = ctx.rows(f"""SELECT customers_id, MIN(oldest_unbilled_date), SUM(unbilled_hours),
       SUM(unbilled_value), SUM(entries)
FROM {ctx.table("unbilled_time")}
GROUP BY customers_id
HAVING MIN(oldest_unbilled_date) < {ctx.dialect.date(cutoff)}""")
    alerts = []
    for customers_id, oldest, hours, value, entries in rows:
        age = (ctx.today - oldest).days
        alerts.append(Alert(
            rule="unbilled_age",
            severity=WARNING,
            key=f"unbilled_age:{customers_id}",
            subject=ctx.name("customers", customers_id, "customer"),
            message=(f"unbilled work since {oldest.isoformat()} ({age} days); in all "
                     f"{hours or 0.0:,.1f} h, {value or 0.0:,.2f} in {int(entries):,} entries "
                     "not yet billed"),
            value=float(age),
            threshold=days,
        ))
    return alerts


RULE = Rule("unbilled_age", INPUTS, find)
