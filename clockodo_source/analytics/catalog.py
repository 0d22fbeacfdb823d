"""What each report shows: the model it reads, its columns, filters and order.

Name columns (customer, project, user, team) are not in the models; they are looked up from
the loaded master tables when the report is rendered. Label columns (an absence's type) name
a Clockodo code from a fixed list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """How a column's values are formatted."""

    TEXT = "text"
    ID = "id"
    COUNT = "count"
    HOURS = "hours"
    AMOUNT = "amount"  # money, or hours or money in budgets
    DAYS = "days"  # counts of days, possibly half days
    PERCENT = "percent"
    DATE = "date"


@dataclass(frozen=True)
class Column:
    """One output column: its key in rows, CSV and JSON, and its header in tables."""

    key: str
    header: str
    kind: Kind
    #: shown in text and HTML tables (ids are left to CSV and JSON, names are shown instead)
    in_table: bool = True


@dataclass(frozen=True)
class Report:
    """A report: which model it reads, what it shows, and which filters it can apply."""

    name: str
    title: str
    model: str
    columns: tuple[Column, ...]
    filters: tuple[str, ...]
    #: the model's date column that ``month``/``quarter`` select on
    period_column: str | None = None
    #: the model's year column that ``year`` selects on
    year_column: str | None = None
    #: condition that always applies (plain SQL on the model's columns)
    where: str | None = None
    #: True: the model has ``teams_id``; False: the team is found through ``users``
    has_team_column: bool = False
    #: sort keys (a leading ``-`` sorts descending; nulls always last)
    order: tuple[str, ...] = ()

    @property
    def model_columns(self) -> tuple[str, ...]:
        """The columns read from the model (the name columns are looked up afterwards)."""
        return tuple(c.key for c in self.columns
                     if c.key not in NAME_COLUMNS and c.key not in CODE_LABELS)


#: name column -> (id column it describes, master table holding the name)
NAME_COLUMNS = {
    "customer": ("customers_id", "customers"),
    "project": ("projects_id", "projects"),
    "user": ("users_id", "users"),
    "team": ("teams_id", "teams"),
}

#: Clockodo's absence types (``absences.type``)
ABSENCE_TYPES = {
    1: "holiday", 2: "special leave", 3: "overtime reduction", 4: "sick", 5: "sick child",
    6: "school/education", 7: "maternity protection", 8: "home office", 9: "out of office",
    10: "special leave unpaid", 11: "sick unpaid", 12: "sick child unpaid", 13: "quarantine",
    14: "military service", 15: "sick with sickness benefit",
}

#: label column -> (code column it describes, the label of each code)
CODE_LABELS = {"absence_type": ("type", ABSENCE_TYPES)}

_CUSTOMER = (Column("customers_id", "customer id", Kind.ID, False),
             Column("customer", "customer", Kind.TEXT))
_PROJECT = (Column("projects_id", "project id", Kind.ID, False),
            Column("project", "project", Kind.TEXT))
_USER = (Column("users_id", "user id", Kind.ID, False), Column("user", "user", Kind.TEXT))
_TEAM = (Column("teams_id", "team id", Kind.ID, False), Column("team", "team", Kind.TEXT))

REPORTS: dict[str, Report] = {
    report.name: report
    for report in (
        Report(
            "unbilled", "Unbilled time", "unbilled_time",
            (Column("month", "month", Kind.DATE), *_CUSTOMER, *_PROJECT, *_USER,
             Column("unbilled_hours", "hours", Kind.HOURS),
             Column("unbilled_value", "value", Kind.AMOUNT),
             Column("entries", "entries", Kind.COUNT),
             Column("oldest_unbilled_date", "oldest", Kind.DATE)),
            ("month", "quarter", "customer", "project", "team"),
            period_column="month",
            order=("month", "customer", "project", "user"),
        ),
        Report(
            "utilization", "Utilization by month", "utilization",
            (Column("period_start", "month", Kind.DATE), *_USER, *_TEAM,
             Column("worked_hours", "worked h", Kind.HOURS),
             Column("billable_hours", "billable h", Kind.HOURS),
             Column("target_hours", "target h", Kind.HOURS),
             Column("utilization_pct", "utilization", Kind.PERCENT)),
            ("month", "quarter", "team"),
            period_column="period_start",
            where="period = 'month'",
            has_team_column=True,
            order=("period_start", "user"),
        ),
        Report(
            "budgets", "Project budgets", "project_budgets",
            (*_PROJECT, *_CUSTOMER, Column("budget_kind", "kind", Kind.TEXT),
             Column("budget", "budget", Kind.AMOUNT), Column("used", "used", Kind.AMOUNT),
             Column("remaining", "remaining", Kind.AMOUNT),
             Column("used_pct", "used %", Kind.PERCENT),
             Column("runout_date", "runs out", Kind.DATE)),
            ("customer", "project"),
            order=("-used_pct", "project"),
        ),
        Report(
            "overtime", "Overtime balance", "overtime_balance",
            (Column("year", "year", Kind.ID), *_USER,
             Column("target_hours", "target h", Kind.HOURS),
             Column("worked_hours", "worked h", Kind.HOURS),
             Column("overtime_carryover_hours", "carryover h", Kind.HOURS),
             Column("overtime_reduced_hours", "reduced h", Kind.HOURS),
             Column("balance_hours", "balance h", Kind.HOURS)),
            ("team", "year"),
            year_column="year",
            order=("-year", "user"),
        ),
        Report(
            "absences", "Absences", "absence_summary",
            (Column("year", "year", Kind.ID), *_USER, Column("type", "type id", Kind.ID, False),
             Column("absence_type", "type", Kind.TEXT),
             Column("days", "days", Kind.DAYS),
             Column("approved_days", "approved", Kind.DAYS),
             Column("holidays_quota", "quota", Kind.DAYS),
             Column("holidays_carry", "carry", Kind.DAYS),
             Column("holidays_left", "left", Kind.DAYS)),
            ("team", "year"),
            year_column="year",
            order=("-year", "user", "type"),
        ),
    )
}
