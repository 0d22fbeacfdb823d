"""Entries as they stood at the moment of the run: the CTEs every entry-based model starts from.

* entries starting after the run (planned) are dropped;
* a running entry (no ``time_until``) counts from its start up to the run;
* ``entry_hours`` exists for time entries (type 1) only: lump sums have a value but no hours;
* ``entry_value`` is the API's ``revenue`` where given, else the entry's own price:
  type 1 hourly rate x duration, type 2 ``lumpsum``, type 3 amount x unit price;
* day, month and ISO week are taken from ``time_since`` in the calendar of the ``timezone``
  option (UTC by default).
"""

from __future__ import annotations

from clockodo_source.analytics.models.context import SqlContext

INPUTS = {
    "entries": (
        "type", "customers_id", "projects_id", "users_id", "billable", "time_since",
        "time_until", "duration", "revenue", "hourly_rate", "lumpsum",
        "lumpsum_services_amount", "lumpsum_services_price",
    ),
}


def entry_seconds(ctx: SqlContext, e: str = "e") -> str:
    """SQL of the seconds a time entry of table alias ``e`` counts at the run (running ones
    up to the run; null for lump sums)."""
    d = ctx.dialect
    return f"""CASE
            WHEN {e}.type <> 1 THEN NULL
            WHEN {e}.time_until IS NULL THEN {d.seconds(f"{e}.time_since", ctx.now_sql)}
            ELSE {d.to_float(
                f"COALESCE({e}.duration, {d.seconds(f'{e}.time_since', f'{e}.time_until')})")}
        END"""


def entry_value(seconds: str) -> str:
    """SQL of an entry's value from its columns and its ``seconds`` (see the module doc)."""
    return f"""COALESCE(revenue, CASE type
            WHEN 1 THEN hourly_rate * {seconds} / 3600
            WHEN 2 THEN lumpsum
            WHEN 3 THEN lumpsum_services_amount * lumpsum_services_price
        END)"""


def run_entries(ctx: SqlContext) -> str:
    """``timed_entries`` and ``run_entries`` CTE definitions (without the leading WITH)."""
    d = ctx.dialect
    return f"""timed_entries AS (
    SELECT
        e.type, e.customers_id, e.projects_id, e.users_id, e.billable,
        {ctx.local_day("e.time_since")} AS entry_date,
        {entry_seconds(ctx)} AS entry_seconds,
        e.revenue, e.hourly_rate, e.lumpsum,
        e.lumpsum_services_amount, e.lumpsum_services_price
    FROM {ctx.table("entries")} AS e
    WHERE e.time_since <= {ctx.now_sql}
),
run_entries AS (
    SELECT
        type, customers_id, projects_id, users_id, billable, entry_date,
        {d.month_of("entry_date")} AS entry_month,
        {d.week_of("entry_date")} AS entry_week,
        entry_seconds / 3600 AS entry_hours,
        {entry_value("entry_seconds")} AS entry_value
    FROM timed_entries
)"""
