"""``unbilled_time``: billable but not yet billed work per customer, project, user and month."""

from __future__ import annotations

from clockodo_source.analytics.models.context import Model, SqlContext
from clockodo_source.analytics.models.run_entries import INPUTS, run_entries

#: what each column holds
COLUMNS = {
    "customers_id": "the customer (customers.id)",
    "projects_id": "the project (projects.id); null: booked on the customer only",
    "users_id": "the user who booked (users.id)",
    "month": "first day of the month of the entries' start",
    "unbilled_hours": "hours of unbilled time entries (decimal hours; running ones up to now)",
    "unbilled_value": "value of the unbilled entries, account currency",
    "entries": "number of unbilled entries (time and lump sums)",
    "oldest_unbilled_date": "day of the oldest unbilled entry",
}


def select(ctx: SqlContext) -> str:
    d = ctx.dialect
    return f"""WITH {run_entries(ctx)}
SELECT
    CAST(customers_id AS BIGINT) AS customers_id,
    CAST(projects_id AS BIGINT) AS projects_id,  -- null: booked on the customer only
    CAST(users_id AS BIGINT) AS users_id,
    entry_month AS month,
    {d.to_float("COALESCE(SUM(entry_hours), 0)")} AS unbilled_hours,
    {d.to_float("SUM(entry_value)")} AS unbilled_value,
    CAST(COUNT(*) AS BIGINT) AS entries,
    MIN(entry_date) AS oldest_unbilled_date
FROM run_entries
WHERE billable = 1  -- 1 = billable and not yet billed; 2 = billed; 0 and -1 = neither
GROUP BY customers_id, projects_id, users_id, entry_month"""


MODEL = Model("unbilled_time", INPUTS, select, __doc__ or "", COLUMNS,
              ("customers_id", "projects_id", "users_id", "month"))
