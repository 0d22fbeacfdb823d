"""``overtime``: a user whose current-year overtime balance (the ``overtime_balance`` model,
Clockodo's own figure) reached ``overtime_hours``."""

from __future__ import annotations

from clockodo_source.alerts.alert import WARNING, Alert
from clockodo_source.alerts.rules.context import Rule, RuleContext

INPUTS = {"overtime_balance": ("users_id", "year", "balance_hours")}


def find(ctx: RuleContext) -> list[Alert]:
    hours = ctx.thresholds.overtime_hours
    year = ctx.today.year
    rows = ctx.rows(f"""SELECT users_id, balance_hours
FROM {ctx.table("overtime_balance")}
WHERE year = {year} AND balance_hours >= {hours!r}""")
    return [
        Alert(
            rule="overtime",
            severity=WARNING,
            key=f"overtime:{users_id}",
            subject=ctx.name("users", users_id, "user"),
            message=f"overtime balance of {balance:,.1f} h in {year}",
            value=float(balance),
            threshold=hours,
        )
        for users_id, balance in rows
    ]


RULE = Rule("overtime", INPUTS, find)
