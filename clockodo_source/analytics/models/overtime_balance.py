"""``overtime_balance``: Clockodo's own year figures per user, from the user reports.

``balance_hours`` is the report's ``diff``: worked minus target up to today, plus the year's
overtime carry, minus overtime reduced by hour absences. The year's ``target_hours`` is the
whole year's target, future days included, so it is not simply worked minus target.
"""

from __future__ import annotations

from clockodo_source.analytics.models.context import Model, SqlContext

INPUTS = {
    "user_reports": (
        "users_id", "year", "sum_target", "sum_hours", "overtime_carryover",
        "overtime_reduced", "diff",
    ),
}


#: what each column holds
COLUMNS = {
    "users_id": "the user (users.id)",
    "year": "the year",
    "target_hours": "target hours of the whole year (future days included)",
    "worked_hours": "hours worked in the year (Clockodo's report)",
    "overtime_carryover_hours": "overtime carried into the year, hours",
    "overtime_reduced_hours": "overtime reduced by hour absences, hours",
    "balance_hours": "Clockodo's balance: worked - target to date + carry - reduced, hours",
}


def select(ctx: SqlContext) -> str:
    d = ctx.dialect
    return f"""SELECT
    CAST(r.users_id AS BIGINT) AS users_id,
    CAST(r.year AS BIGINT) AS year,
    {d.to_float("r.sum_target")} / 3600 AS target_hours,  -- report sums are seconds
    {d.to_float("r.sum_hours")} / 3600 AS worked_hours,
    {d.to_float("r.overtime_carryover")} / 3600 AS overtime_carryover_hours,
    {d.to_float("r.overtime_reduced")} / 3600 AS overtime_reduced_hours,
    {d.to_float("r.diff")} / 3600 AS balance_hours
FROM {ctx.table("user_reports")} AS r"""


MODEL = Model("overtime_balance", INPUTS, select, __doc__ or "", COLUMNS,
              ("users_id", "year"))
