"""``utilization``: worked, billable and target hours per user and ISO week or calendar month.

Worked and billable hours are summed from time entries; target hours are Clockodo's own
``sum_target`` from the user reports (months and their week parts), never re-derived.
"""

from __future__ import annotations

from clockodo_source.analytics.models.context import Model, SqlContext
from clockodo_source.analytics.models.run_entries import INPUTS as ENTRY_INPUTS
from clockodo_source.analytics.models.run_entries import run_entries

INPUTS = {
    **ENTRY_INPUTS,
    "users": ("id", "teams_id"),
    "user_reports": ("users_id", "year", "_dlt_id"),
    "user_reports__month_details": ("nr", "sum_target", "_dlt_id", "_dlt_parent_id"),
    "user_reports__month_details__week_details": ("nr", "sum_target", "_dlt_parent_id"),
}


#: what each column holds
COLUMNS = {
    "users_id": "the user (users.id)",
    "teams_id": "the user's current team (teams.id)",
    "period": "week (ISO, from Monday) or month",
    "period_start": "first day of the week or month",
    "worked_hours": "hours of time entries (decimal hours)",
    "billable_hours": "hours of billable or billed time entries (billable 1 or 2)",
    "target_hours": "Clockodo's target hours (from the user reports)",
    "utilization_pct": "billable_hours / target_hours x 100; null when target_hours is 0",
}


def select(ctx: SqlContext) -> str:
    d = ctx.dialect
    # A report's week number is ISO: January may hold week 52/53 of the previous ISO year and
    # December week 1 of the next. ISO week N starts N-1 weeks after the Monday of 4 January.
    iso_year = """CASE
            WHEN rm.month_nr = 1 AND w.nr > 50 THEN rm.year - 1
            WHEN rm.month_nr = 12 AND w.nr = 1 THEN rm.year + 1
            ELSE rm.year
        END"""
    week_monday = d.plus_days(d.week_of(d.date_from_parts(iso_year, "1", "4")), "7 * (w.nr - 1)")
    return f"""WITH {run_entries(ctx)},
worked AS (
    SELECT users_id, 'month' AS period, entry_month AS period_start,
           SUM(entry_hours) AS worked_hours,
           SUM(CASE WHEN billable IN (1, 2) THEN entry_hours ELSE 0 END) AS billable_hours
    FROM run_entries WHERE type = 1
    GROUP BY users_id, entry_month
    UNION ALL
    SELECT users_id, 'week' AS period, entry_week AS period_start,
           SUM(entry_hours) AS worked_hours,
           SUM(CASE WHEN billable IN (1, 2) THEN entry_hours ELSE 0 END) AS billable_hours
    FROM run_entries WHERE type = 1
    GROUP BY users_id, entry_week
),
report_months AS (
    SELECT r.users_id, r.year, m.nr AS month_nr, m.sum_target, m._dlt_id
    FROM {ctx.table("user_reports")} AS r
    JOIN {ctx.table("user_reports__month_details")} AS m ON m._dlt_parent_id = r._dlt_id
),
targets AS (
    SELECT users_id, 'month' AS period,
           {d.date_from_parts("year", "month_nr", "1")} AS period_start,
           SUM(sum_target) / 3600 AS target_hours
    FROM report_months
    GROUP BY users_id, year, month_nr
    UNION ALL
    -- a week spanning two months (or years) is split over both months' details: add the parts
    SELECT week_parts.users_id, 'week' AS period, week_parts.period_start,
           SUM(week_parts.sum_target) / 3600 AS target_hours
    FROM (
        SELECT rm.users_id, {week_monday} AS period_start, w.sum_target
        FROM report_months AS rm
        JOIN {ctx.table("user_reports__month_details__week_details")} AS w
            ON w._dlt_parent_id = rm._dlt_id
    ) AS week_parts
    GROUP BY week_parts.users_id, week_parts.period_start
),
combined AS (
    SELECT COALESCE(w.users_id, t.users_id) AS users_id,
           COALESCE(w.period, t.period) AS period,
           COALESCE(w.period_start, t.period_start) AS period_start,
           COALESCE(w.worked_hours, 0) AS worked_hours,
           COALESCE(w.billable_hours, 0) AS billable_hours,
           COALESCE(t.target_hours, 0) AS target_hours
    FROM worked AS w
    FULL OUTER JOIN targets AS t
        ON t.users_id = w.users_id AND t.period = w.period AND t.period_start = w.period_start
)
SELECT
    CAST(c.users_id AS BIGINT) AS users_id,
    CAST(u.teams_id AS BIGINT) AS teams_id,  -- the user's current team
    c.period,
    c.period_start,
    {d.to_float("c.worked_hours")} AS worked_hours,
    {d.to_float("c.billable_hours")} AS billable_hours,
    {d.to_float("c.target_hours")} AS target_hours,
    {d.to_float("100 * c.billable_hours / NULLIF(c.target_hours, 0)")} AS utilization_pct
FROM combined AS c
LEFT JOIN {ctx.table("users")} AS u ON u.id = c.users_id
WHERE c.worked_hours > 0 OR c.target_hours > 0  -- report months before hiring etc. are empty"""


MODEL = Model("utilization", INPUTS, select, __doc__ or "", COLUMNS,
              ("users_id", "period", "period_start"))
