"""``absence_summary``: absence days per user, year and absence type, with the holiday account.

An absence counts in the year it starts (``date_since``), with Clockodo's own ``count_days``
(0.5 for a half day; 0 for hour-based overtime reductions, type 3). Holiday quota, carry and
the days left belong to the holiday rows (type 1) only, so summing a column never counts the
holiday account twice.
"""

from __future__ import annotations

from clockodo_source.analytics.models.context import Model, SqlContext
from clockodo_source.settings import ABSENCE_TYPES, codes

INPUTS = {
    "absences": ("users_id", "date_since", "type", "status", "count_days"),
    "holidays_quota": ("users_id", "year_since", "year_until", "count"),
    "holidays_carries": ("users_id", "year", "count"),
}

HOLIDAY = 1


#: what each column holds
COLUMNS = {
    "users_id": "the user (users.id)",
    "year": "the year the absences start in",
    "type": f"absence type: {codes(ABSENCE_TYPES)}",
    "days": "days requested or approved (status 0 or 1)",
    "approved_days": "days approved (status 1)",
    "holidays_quota": "holiday entitlement of the year, days (type 1 rows only)",
    "holidays_carry": "holidays carried into the year, days (type 1 rows only)",
    "holidays_left": "quota + carry - approved holiday days (type 1 rows only)",
}


def select(ctx: SqlContext) -> str:
    d = ctx.dialect
    quota = "COALESCE(q.quota, 0)"
    carry = "COALESCE(c.carry, 0)"
    return f"""WITH absence_years AS (
    SELECT users_id, CAST(EXTRACT(YEAR FROM date_since) AS BIGINT) AS year, type, status,
           count_days
    FROM {ctx.table("absences")}
),
grouped AS (
    SELECT users_id, year, type,
           SUM(CASE WHEN status IN (0, 1) THEN count_days ELSE 0 END) AS days,  -- 0 enquired
           SUM(CASE WHEN status = 1 THEN count_days ELSE 0 END) AS approved_days  -- 1 approved
    FROM absence_years
    GROUP BY users_id, year, type
),
quotas AS (
    -- a quota row holds from year_since to year_until (open-ended when null)
    SELECT g.users_id, g.year, SUM(hq.count) AS quota
    FROM grouped AS g
    JOIN {ctx.table("holidays_quota")} AS hq
        ON hq.users_id = g.users_id AND hq.year_since <= g.year
       AND (hq.year_until IS NULL OR hq.year_until >= g.year)
    WHERE g.type = {HOLIDAY}
    GROUP BY g.users_id, g.year
),
carries AS (
    SELECT users_id, year, SUM(count) AS carry
    FROM {ctx.table("holidays_carries")}
    GROUP BY users_id, year
)
SELECT
    CAST(g.users_id AS BIGINT) AS users_id,
    g.year,
    CAST(g.type AS BIGINT) AS type,
    {d.to_float("g.days")} AS days,
    {d.to_float("g.approved_days")} AS approved_days,
    CASE WHEN g.type = {HOLIDAY} THEN {d.to_float(quota)} END AS holidays_quota,
    CASE WHEN g.type = {HOLIDAY} THEN {d.to_float(carry)} END AS holidays_carry,
    CASE WHEN g.type = {HOLIDAY} THEN {d.to_float(f"{quota} + {carry} - g.approved_days")}
    END AS holidays_left
FROM grouped AS g
LEFT JOIN quotas AS q ON q.users_id = g.users_id AND q.year = g.year
LEFT JOIN carries AS c ON c.users_id = g.users_id AND c.year = g.year"""


MODEL = Model("absence_summary", INPUTS, select, __doc__ or "", COLUMNS,
              ("users_id", "year", "type"))
