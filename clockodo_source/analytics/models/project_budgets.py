"""``project_budgets``: how much of each project budget is used, and when it will run out.

A budget counts hours (time entries only) or money (the entry value rule, every entry of the
project, billable or not). A budget with an ``interval`` counts only the current week, month,
quarter or year; the run-out forecast extends the average daily use of the last 28 days.
"""

from __future__ import annotations

from clockodo_source.analytics.models.context import LAST_DATE, Model, SqlContext
from clockodo_source.analytics.models.run_entries import INPUTS as ENTRY_INPUTS
from clockodo_source.analytics.models.run_entries import run_entries

INPUTS = {
    **ENTRY_INPUTS,
    "projects": ("id", "customers_id", "budget__monetary", "budget__interval", "budget__amount"),
}

#: Days the run-out forecast averages over (today and the 27 days before it)
FORECAST_DAYS = 28


#: what each column holds
COLUMNS = {
    "projects_id": "the project (projects.id)",
    "customers_id": "the project's customer (customers.id)",
    "budget_kind": "hours or money (account currency)",
    "budget": "the budget, hours or money",
    "used": "hours or value used (in the current interval for a budget per interval)",
    "remaining": "budget - used",
    "used_pct": "used / budget x 100",
    "runout_date": "today + remaining / average daily use of the last 28 days; null: no use "
    "in those days or nothing remains",
}


def select(ctx: SqlContext) -> str:
    d = ctx.dialect
    today = ctx.today_sql
    year = f"EXTRACT(YEAR FROM {today})"
    quarter_month = f"3 * CAST(FLOOR((EXTRACT(MONTH FROM {today}) - 1) / 3) AS BIGINT) + 1"
    starts = {  # first day of the current budget interval, by Clockodo's budget.interval
        0: d.week_of(today),
        1: d.month_of(today),
        2: d.date_from_parts(year, quarter_month, "1"),
        3: d.date_from_parts(year, "1", "1"),
    }
    interval_start = "\n".join(
        f"            WHEN {code} THEN {start}" for code, start in starts.items()
    )
    window_start = d.plus_days(today, str(1 - FORECAST_DAYS))
    # a forecast beyond the last representable date is no forecast at all; LEAST keeps the
    # cast in range on engines that evaluate CASE branches before choosing one
    max_days = d.days(today, ctx.day(LAST_DATE))
    runout = d.plus_days(today, f"FLOOR(LEAST(days_left, {max_days}))")
    return f"""WITH {run_entries(ctx)},
budgets AS (
    SELECT p.id AS projects_id, p.customers_id,
           COALESCE(p.budget__monetary, FALSE) AS monetary,
           p.budget__amount AS budget,
           CASE p.budget__interval
{interval_start}
           END AS interval_start  -- null: the budget covers the whole project
    FROM {ctx.table("projects")} AS p
    WHERE p.budget__amount IS NOT NULL
),
budget_use AS (
    SELECT b.projects_id,
           SUM(CASE WHEN b.interval_start IS NULL OR e.entry_date >= b.interval_start
                    THEN CASE WHEN b.monetary THEN e.entry_value ELSE e.entry_hours END
                    ELSE 0 END) AS used,
           SUM(CASE WHEN e.entry_date >= {window_start}
                    THEN CASE WHEN b.monetary THEN e.entry_value ELSE e.entry_hours END
                    ELSE 0 END) AS recent_use
    FROM budgets AS b
    JOIN run_entries AS e ON e.projects_id = b.projects_id
    GROUP BY b.projects_id
),
measured AS (
    SELECT b.projects_id, b.customers_id, b.monetary, b.budget,
           COALESCE(u.used, 0) AS used,
           b.budget - COALESCE(u.used, 0) AS remaining,
           COALESCE(u.recent_use, 0) / {FORECAST_DAYS} AS daily_use
    FROM budgets AS b
    LEFT JOIN budget_use AS u ON u.projects_id = b.projects_id
),
forecast AS (
    -- days until the remainder is used up at the recent pace; null when nothing was used
    -- in the last 28 days or nothing remains
    SELECT m.*,
           CASE WHEN m.daily_use > 0 AND m.remaining > 0
                THEN m.remaining / m.daily_use END AS days_left
    FROM measured AS m
)
SELECT
    CAST(projects_id AS BIGINT) AS projects_id,
    CAST(customers_id AS BIGINT) AS customers_id,
    CASE WHEN monetary THEN 'money' ELSE 'hours' END AS budget_kind,
    {d.to_float("budget")} AS budget,
    {d.to_float("used")} AS used,
    {d.to_float("remaining")} AS remaining,
    {d.to_float("100 * used / NULLIF(budget, 0)")} AS used_pct,
    CASE WHEN days_left <= {max_days} THEN {runout} END AS runout_date  -- whole days
FROM forecast"""


MODEL = Model("project_budgets", INPUTS, select, __doc__ or "", COLUMNS,
              ("projects_id",))
