"""What the dataset's tables mean, for an agent writing SQL: one line per table, the key, and
the codes and units behind the columns that need them.

``list_tables`` and ``describe_table`` join these words to what the database really holds
(tables, columns, types, row counts), read through a read-only connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dlt

from clockodo_source.alerts import STATE_TABLE
from clockodo_source.analytics import MODEL_NAMES
from clockodo_source.billing import AUDIT_TABLE
from clockodo_source.mcp.readonly import read_only
from clockodo_source.settings import ENTITIES

_BILLABLE = ("0 not billable, 1 billable and not billed yet (unbilled), 2 billed, -1 unknown "
             "(the API user may not see it)")
_ENTRY_TYPE = "1 time entry, 2 lump-sum value, 3 lump-sum service"
_ABSENCE_TYPE = ("1 holiday, 2 special leave, 3 overtime reduction (hours), 4 sick, 5 sick "
                 "child, 6 school/education, 7 maternity protection, 8 home office, 9 work out "
                 "of office, 10 special leave unpaid, 11 sick unpaid, 12 sick child unpaid, "
                 "13 quarantine, 14 military service, 15 sick with sickness benefit")
_ABSENCE_STATUS = "0 requested, 1 approved, 2 declined, 3 approval cancelled, 4 request cancelled"
_CHILD = ("child table of {parent}: one row per element of the list {field}; join "
          "{table}._dlt_parent_id = {parent}._dlt_id (a list of ids has one column, value)")


@dataclass(frozen=True)
class About:
    """What a table holds."""

    description: str
    primary_key: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)


ABOUT: dict[str, About] = {
    "entries": About(
        "time and lump-sum entries: who booked what for which customer, project and service; "
        "time_since/time_until are UTC timestamps, time_until null = a clock still running",
        columns={"type": _ENTRY_TYPE, "billable": _BILLABLE,
                 "duration": "seconds (time entries)",
                 "revenue": "value in the account's currency, where Clockodo computed it",
                 "hourly_rate": "account currency per hour",
                 "lumpsum": "lump-sum value in the account's currency (type 2)",
                 "lumpsum_services_amount": "quantity of the lump-sum service (type 3)",
                 "lumpsum_services_price": "price per unit of the lump-sum service (type 3)",
                 "test_data": "true for Clockodo's sample data"}),
    "projects": About("projects, each of one customer, with budgets (budget__amount in hours, "
                      "or money when budget__monetary)",
                      columns={"customers_id": "the project's customer (customers.id)",
                               "budget__monetary": "true: budget__amount is money, false: hours",
                               "budget__interval": "budget per interval (null: whole project)"}),
    "customers": About("customers"),
    "users": About("users (co-workers)", columns={"teams_id": "the user's team (teams.id)"}),
    "teams": About("teams"),
    "services": About("services (kinds of work) entries are booked on"),
    "absences": About("absences of users, day by day ranges",
                      columns={"type": _ABSENCE_TYPE, "status": _ABSENCE_STATUS,
                               "count_days": "days (half days possible)",
                               "count_hours": "hours (type 3 only)"}),
    "work_times": About("work time days of users; the intervals are in work_times__intervals "
                        "(UTC timestamps)"),
    "target_hours": About("target working hours rows of users: weekly (hours per weekday, "
                          "monday..sunday) or monthly (monthly_target hours)",
                          columns={"type": "weekly or monthly"}),
    "overtime_carries": About("overtime carried into a year, per user",
                              columns={"hours": "hours"}),
    "holidays_quota": About("holiday entitlement per user and years",
                            columns={"count": "days"}),
    "holidays_carries": About("holidays carried into a year, per user",
                              columns={"count": "days"}),
    "non_business_days": About("public holidays and other non-business days of each "
                               "non-business group (users.nonbusiness_groups_id)",
                               columns={"evaluated_date": "the date in the year it applies to"}),
    "lumpsum_services": About("lump-sum services (priced units) entries of type 3 are booked on",
                              columns={"price": "account currency per unit"}),
    "surcharges": About("surcharge models (night, Sunday, holiday percentages)"),
    "user_reports": About("Clockodo's own yearly report per user; sum_* and diff are seconds, "
                          "holidays_* and sum_absence__* days; months and weeks in the "
                          "child tables user_reports__month_details and "
                          "user_reports__month_details__week_details",
                          columns={"sum_target": "target time in seconds",
                                   "sum_hours": "worked time in seconds",
                                   "diff": "worked minus target, seconds"}),
    "customers_projects": About("which project belongs to which customer"),
    "unbilled_time": About(
        "model: unbilled entries (billable = 1) per customer, project, user and month; hours "
        "in decimal hours (time entries), value in the account's currency",
        ("customers_id", "projects_id", "users_id", "month"),
        {"month": "first day of the month (calendar of the timezone option)",
         "oldest_unbilled_date": "date of the oldest unbilled entry"}),
    "utilization": About(
        "model: per user and week or month, worked, billable (billable 1 or 2) and target "
        "hours, and billable / target in percent",
        ("users_id", "period", "period_start"),
        {"period": "week (ISO, from Monday) or month", "period_start": "first day",
         "utilization_pct": "billable_hours / target_hours x 100, null when target is 0"}),
    "project_budgets": About(
        "model: per project with a budget, its use and when it runs out",
        ("projects_id",),
        {"budget_kind": "hours or money (account currency)",
         "used_pct": "used / budget x 100",
         "runout_date": "today + remaining / average daily use of the last 28 days"}),
    "overtime_balance": About(
        "model: per user and year, target, worked, carried and reduced overtime hours and the "
        "balance (from Clockodo's user reports)", ("users_id", "year")),
    "absence_summary": About(
        "model: per user, year and absence type, days requested or approved and approved, "
        "holiday quota, carry and days left (type 1 rows)", ("users_id", "year", "type"),
        {"type": _ABSENCE_TYPE}),
    AUDIT_TABLE: About("one row per mark-billed apply: what was asked, what Clockodo changed, "
                       "and the outcome (applied, refused, failed)",
                       columns={"until": "exclusive end day",
                                "entry_ids": "JSON list of the selected entries"}),
    STATE_TABLE: About("alerts as last evaluated by `clockodo-pipeline alerts`, and what "
                       "webhooks were told", ("key",)),
}


def about(table: str) -> About:
    """The words for ``table``; a child table is explained by its parent."""
    if table in ABOUT:
        described = ABOUT[table]
        if table in ENTITIES:
            return About(described.description, ENTITIES[table].primary_key, described.columns)
        return described
    parent, _, rest = table.partition("__")
    if rest and parent in ENTITIES:
        path = rest.split("__")
        return About(_CHILD.format(parent="__".join([parent, *path[:-1]]), field=path[-1],
                                   table=table), ("_dlt_id",))
    return About("")


def _order(table: str) -> tuple[int, str]:
    """Loaded tables first (in the catalog's order, each followed by its children), then the
    models, then the rest."""
    head = table.split("__", 1)[0]
    if head in ENTITIES:
        return list(ENTITIES).index(head), table
    if table in MODEL_NAMES:
        return len(ENTITIES) + MODEL_NAMES.index(table), table
    return len(ENTITIES) + len(MODEL_NAMES), table


def list_tables(pipeline: dlt.Pipeline) -> list[dict[str, Any]]:
    """Every table of the dataset (dlt's own ``_dlt_*`` left out) with rows and description."""
    with read_only(pipeline) as session:
        names = sorted((name for name in session.tables() if not name.startswith("_dlt_")),
                       key=_order)
        return [{"name": name, "rows": session.count(name),
                 "description": about(name).description} for name in names]


def describe_table(pipeline: dlt.Pipeline, name: str) -> dict[str, Any] | None:
    """Columns with database types, the primary key and the description; None when the
    dataset holds no such table."""
    with read_only(pipeline) as session:
        if name not in session.tables():
            return None
        columns = session.columns(name)
    described = about(name)
    return {
        "name": name,
        "description": described.description,
        "primary_key": list(described.primary_key),
        "columns": [{"name": column, "type": kind, **({"meaning": described.columns[column]}
                                                      if column in described.columns else {})}
                    for column, kind in columns],
    }
