"""``budget``: a project budget used at least ``budget_warn_pct`` percent (warning), or at
least ``budget_crit_pct`` (critical), as the ``project_budgets`` model counts it (an interval
budget: the current week, month, quarter or year)."""

from __future__ import annotations

from clockodo_source.alerts.alert import CRITICAL, WARNING, Alert
from clockodo_source.alerts.rules.context import Rule, RuleContext

INPUTS = {
    "project_budgets": ("projects_id", "customers_id", "budget_kind", "budget", "used",
                        "used_pct"),
}


def find(ctx: RuleContext) -> list[Alert]:
    warn, crit = ctx.thresholds.budget_warn_pct, ctx.thresholds.budget_crit_pct
    rows = ctx.rows(f"""SELECT projects_id, customers_id, budget_kind, budget, used, used_pct
FROM {ctx.table("project_budgets")}
WHERE used_pct >= {min(warn, crit)!r}""")
    alerts = []
    for projects_id, customers_id, kind, budget, used, used_pct in rows:
        critical = used_pct >= crit
        amount = (f"{used:,.1f} h of {budget:,.1f} h" if kind == "hours"
                  else f"{used:,.2f} of {budget:,.2f}")
        alerts.append(Alert(
            rule="budget",
            severity=CRITICAL if critical else WARNING,
            key=f"budget:{projects_id}",
            subject=ctx.project(projects_id, customers_id),
            message=f"{used_pct:,.1f} % of the budget used ({amount})",
            value=float(used_pct),
            threshold=crit if critical else warn,
        ))
    return alerts


RULE = Rule("budget", INPUTS, find)
