"""The entity catalog: one declarative entry per table drives every resource of the source.

Paths carry their API version (the pre-2026-05 v2 routes answer 410), list keys differ per
endpoint, and only some lists are paged. The module is longer than the others because it is the
one table of all 17 entities and their declared columns: split, a table's declaration would
stand in several places. Every documented field has its column type declared,
child tables included: a column the API omits for lack of rights, or sends null on a first load,
still exists with its type, and a count that is whole today and a half tomorrow (Clockodo sends
`2`, then `2.5`) never splits into a second `__v_double` column. Each column is declared on a
line of its own with what it holds (meaning, unit, codes): dlt's schema, the MCP server and the
dbt package all take their descriptions from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.hints import TResourceNestedHints

DEFAULT_BASE_URL = "https://my.clockodo.com/api"
DEFAULT_START_DATE = "2000-01-01"
DEFAULT_LOOKBACK_DAYS = 35
DEFAULT_FUTURE_DAYS = 366
#: Clockodo stores work times only from this day on.
WORK_TIMES_START = date(2023, 8, 21)
#: The column that marks a row as deleted (dlt's hard_delete hint).
DELETED_COLUMN = "_deleted"
#: dlt's row id. The source sets it to a digest of the row's version, so a stored row whose id
#: equals that of the row read again is unchanged (the run summary's "updated" counts the others).
ROW_ID_COLUMN = "_dlt_id"
#: dlt's column naming the load that wrote a row (dbt's incremental models select on it)
LOAD_ID_COLUMN = "_dlt_load_id"
EXTERNAL_APPLICATION_MAX = 50


class Partition(Enum):
    """How an entity is read, which decides its write disposition and deletion handling."""

    NONE = "none"  # the whole list each run; table replaced
    ENTRY_WINDOWS = "entry_windows"  # entry-time windows; merged, deletions reconciled
    YEARS = "years"  # one request per year; merged, deletions reconciled per year
    USER_WINDOWS = "user_windows"  # per user and date window; merged, reconciled per window
    DERIVED = "derived"  # computed from another entity's rows; replaced


@dataclass(frozen=True)
class EveryIdOf:
    """A query parameter naming every id of another list, comma-separated (one request).

    Non-business days answer for the company's default group only unless asked for the
    others, so the groups are listed first and every one is asked for.
    """

    param: str
    path: str
    list_key: str = "data"


def _declarations(columns: str) -> Iterator[tuple[str, str, str]]:
    """Name, dlt data type and description of each line `name:type description`."""
    for line in columns.splitlines():
        declaration, _, description = line.strip().partition(" ")
        if declaration:
            name, kind = declaration.split(":", 1)
            yield name, kind, description.strip()


def column_types(columns: str) -> dict[str, str]:
    """The declared columns (see `Entity.columns`) and their dlt data types."""
    return {name: kind for name, kind, _ in _declarations(columns)}


#: dlt's own columns of a table, described like the declared ones
DLT_COLUMNS = {
    "_dlt_id": "unique id of the row's version (entries: the entry's id; other tables: a digest "
    "of the row's content; child rows: dlt's own); child tables join on it",
    "_dlt_load_id": "dlt's id of the load that wrote the row (see _dlt_loads)",
}
_DELETED = "true marks a row deleted in Clockodo, which dlt removes on merge (so always null)"
#: dlt's columns of a child table
DLT_CHILD_COLUMNS = {
    "_dlt_id": DLT_COLUMNS["_dlt_id"],
    "_dlt_parent_id": "the parent row's _dlt_id",
    "_dlt_list_idx": "position of the element in the parent's list, from 0",
    "_dlt_root_id": "the top-level row's _dlt_id (kept for merging)",
}


def _column_hints(columns: str, dlt_columns: Mapping[str, str]) -> TTableSchemaColumns:
    hints: TTableSchemaColumns = {}
    for name, kind, description in _declarations(columns):
        hints[name] = {"name": name, "data_type": kind, "nullable": True,  # type: ignore[typeddict-item]
                       "description": description}
        if kind == "timestamp":
            hints[name]["timezone"] = True
    for name, description in dlt_columns.items():
        hints.setdefault(name, {"name": name, "description": description})
    return hints


def _leaves(tables: Iterable[Mapping[str, str]], kind: str) -> frozenset[str]:
    """Field names (the last part of a flattened `a__b`) of the columns of `kind`: values are
    converted where they sit in the API's nested rows, before dlt flattens them."""
    return frozenset(name.rsplit("__", 1)[-1] for types in tables
                     for name, declared in types.items() if declared == kind)


@dataclass(frozen=True)
class Entity:
    name: str
    path: str
    list_key: str
    primary_key: tuple[str, ...]
    partition: Partition = Partition.NONE
    page_size: int | None = None  # documented maximum; None = endpoint is not paged
    params: tuple[tuple[str, str], ...] = ()
    #: what a row is, one line
    description: str = ""
    #: one line a column, `name:type description`, with dlt data types; objects flattened as
    #: `a__b`; units and codes in the description
    columns: str = ""
    #: child tables (lists in a row) by their path below the table, each step a list field as
    #: the flattened row names it (`budget__notification_thresholds`), steps joined by `.`:
    #: what an element is, and its columns as in `columns` (a list of numbers: one, `value`)
    nested: Mapping[str, tuple[str, str]] = field(default_factory=dict, hash=False)
    #: column whose value places a row in a window or year (partitioned entities)
    range_column: str | None = None
    year_param: str | None = None  # query parameter carrying the year (YEARS)
    add_year: bool = False  # rows carry no year: add the requested one (user reports)
    every_id_of: EveryIdOf | None = None  # asked for every id of another list (YEARS)
    fallback_path: str | None = None  # tried when `path` answers 404 (surcharges)
    fallback_list_key: str | None = None
    derived_from: str | None = None

    @property
    def write_disposition(self) -> str:
        return "replace" if self.partition in (Partition.NONE, Partition.DERIVED) else "merge"

    @property
    def column_types(self) -> dict[str, str]:
        return column_types(self.columns)

    @property
    def child_tables(self) -> dict[str, dict[str, str]]:
        """Each child table's name (as dlt names it) and declared column types."""
        return {name: column_types(columns)
                for name, (_, columns) in self._children().items()}

    def _children(self) -> dict[str, tuple[str, str]]:
        """Each child table's name (as dlt names it), description and declared columns."""
        children = {}
        for path, (element, columns) in self.nested.items():
            steps = path.split(".")
            parent = "__".join((self.name, *steps[:-1]))
            children["__".join((self.name, *steps))] = (
                f"{element}: one row per element of the list {steps[-1]} of {parent} (join "
                f"_dlt_parent_id to {parent}._dlt_id)", columns)
        return children

    def descriptions(self) -> dict[str, tuple[str, dict[str, str]]]:
        """The table and its child tables: each one's description and its columns' (dlt's
        own columns included)."""
        tables = {self.name: (self.description, {
            name: hint.get("description") or "" for name, hint in self.column_hints().items()})}
        for table, (description, columns) in self._children().items():
            tables[table] = (description, {
                name: hint.get("description") or ""
                for name, hint in _column_hints(columns, self._child_dlt_columns).items()})
        return tables

    @property
    def nested_timestamps(self) -> frozenset[str]:
        return _leaves(self.child_tables.values(), "timestamp")

    @property
    def nested_dates(self) -> frozenset[str]:
        return _leaves(self.child_tables.values(), "date")

    @property
    def timestamps(self) -> frozenset[str]:
        """Fields holding date-times, at any depth of a row."""
        return _leaves([self.column_types], "timestamp") | self.nested_timestamps

    @property
    def dates(self) -> frozenset[str]:
        """Fields holding dates, at any depth of a row."""
        return _leaves([self.column_types], "date") | self.nested_dates

    def column_hints(self) -> TTableSchemaColumns:
        hints = _column_hints(self.columns, DLT_COLUMNS)
        for key in self.primary_key:
            hints.setdefault(key, {"name": key})
            hints[key]["nullable"] = False
        if self.write_disposition == "merge":
            hints[DELETED_COLUMN] = {"name": DELETED_COLUMN, "data_type": "bool",
                                     "nullable": True, "hard_delete": True,
                                     "description": _DELETED}
        return hints

    @property
    def _child_dlt_columns(self) -> dict[str, str]:
        """dlt's columns of the child tables (a merged table's carry their root's id)."""
        if self.write_disposition == "merge":
            return DLT_CHILD_COLUMNS
        return {k: v for k, v in DLT_CHILD_COLUMNS.items() if k != "_dlt_root_id"}

    def table_hints(self) -> dict[str, Any]:
        """The table's own hints besides its columns (its description)."""
        return {"description": self.description}

    def nested_hints(self) -> dict[tuple[str, ...], TResourceNestedHints]:
        """The child tables' column hints and descriptions, as dlt's `nested_hints` takes
        them; each names its parent table, which a list in an object (`budget`, flattened into
        its row) needs."""
        return {_steps(path): dlt.mark.make_hints(
                    parent_table_name="__".join((self.name, *path.split(".")[:-1])),
                    columns=_column_hints(columns, self._child_dlt_columns),
                    additional_table_hints={"description": description})
                for path, (description, columns) in zip(self.nested, self._children().values(),
                                                        strict=True)}


def _steps(path: str) -> tuple[str, ...]:
    """The fields leading to a child table, as dlt's `nested_hints` keys take them: a list in
    an object (`budget__notification_thresholds`) is two steps."""
    return tuple(step for part in path.split(".") for step in part.split("__"))


def _fields(prefix: str, names: Iterable[str], kind: str, description: str) -> str:
    """The columns of a nested object flattened into its row, each of one type; `{}` in the
    description is the field's name."""
    return "\n".join(f"{prefix}__{name}:{kind} {description.format(name.replace('_', ' '))}"
                     for name in names)


#: entries.billable
BILLABLE = {0: "not billable", 1: "billable and not billed yet", 2: "billed",
            -1: "unknown (the API user may not see it)"}
#: entries.type
ENTRY_TYPES = {1: "time entry", 2: "lump-sum value", 3: "lump-sum service"}
#: absences.type
ABSENCE_TYPES = {
    1: "holiday", 2: "special leave", 3: "overtime reduction (hours)", 4: "sick", 5: "sick child",
    6: "school/education", 7: "maternity protection", 8: "home office", 9: "work out of office",
    10: "special leave unpaid", 11: "sick unpaid", 12: "sick child unpaid", 13: "quarantine",
    14: "military service", 15: "sick with sickness benefit",
}
#: absences.status
ABSENCE_STATUSES = {0: "requested", 1: "approved", 2: "declined", 3: "approval cancelled",
                    4: "request cancelled"}
#: projects.budget__interval
BUDGET_INTERVALS = {0: "week", 1: "month", 2: "quarter", 3: "year"}
#: target_hours.type
TARGET_KINDS = {"weekly": "hours per weekday", "monthly": "hours a month"}
#: the columns holding codes, and their meanings
CODES: dict[tuple[str, str], Mapping[Any, str]] = {
    ("entries", "billable"): BILLABLE,
    ("entries", "type"): ENTRY_TYPES,
    ("absences", "type"): ABSENCE_TYPES,
    ("absences", "status"): ABSENCE_STATUSES,
    ("projects", "budget__interval"): BUDGET_INTERVALS,
    ("target_hours", "type"): TARGET_KINDS,
}


def codes(meanings: Mapping[Any, str]) -> str:
    """`1 holiday, 2 special leave, ...`: codes and their meanings, for a description."""
    return ", ".join(f"{code} {meaning}" for code, meaning in meanings.items())


def _id(what: str) -> str:
    return f"id:bigint {what}'s id"


def _ids(what: str) -> tuple[str, str]:
    """A list of ids: a child table of one column."""
    return what, f"value:bigint {what}"


_ENTRY_COLUMNS = f"""
id:bigint the entry's id
type:bigint kind of entry: {codes(ENTRY_TYPES)}
customers_id:bigint the customer booked on (customers.id)
projects_id:bigint the project booked on (projects.id); null: booked on the customer only
subprojects_id:bigint the subproject booked on, if any
users_id:bigint the user who booked it (users.id)
billable:bigint {codes(BILLABLE)}
texts_id:bigint id of the entry's text
text:text description of the work
time_since:timestamp start (UTC)
time_until:timestamp end (UTC); null: a clock still running
time_insert:timestamp when the entry was created (UTC)
time_last_change:timestamp when the entry last changed (UTC)
test_data:bool true for Clockodo's sample data
customers_name:text the customer's name
projects_name:text the project's name
subprojects_name:text the subproject's name
users_name:text the user's name
services_name:text the service's name
revenue:double value in the account's currency, where Clockodo computed it (needs rights)
services_id:bigint the service booked on (services.id), time and lump-sum value entries
duration:bigint length in seconds (time entries); null while running
offset:bigint seconds by which duration differs from time_until - time_since
time_last_change_work_time:timestamp when the entry's times last changed (UTC)
time_clocked_since:timestamp when the clock was started (UTC); null: entered by hand
clocked:bool true: recorded with the clock
clocked_offline:bool true: clocked offline and synchronized later
hourly_rate:double account currency per hour (time entries; needs rights)
lumpsum:double lump-sum value in the account's currency (type 2)
lumpsum_services_id:bigint the lump-sum service (lumpsum_services.id, type 3)
lumpsum_services_amount:double quantity of the lump-sum service (type 3)
lumpsum_services_price:double account currency per unit of the lump-sum service (type 3)
"""
_BUDGET = f"""
budget__monetary:bool true: budget__amount is money (account currency), false: hours
budget__hard:bool true: a hard budget (no booking beyond it)
budget__from_subprojects:bool true: the budget is the sum of the subprojects' budgets
budget__interval:bigint budget per {codes(BUDGET_INTERVALS)}; null: the whole project
budget__amount:double the budget, in hours or money (budget__monetary); null: no budget
budget__subprojects_budget_total:double sum of the subprojects' budgets
"""

_SURCHARGE_KINDS = ("night", "night_increased", "nonbusiness", "nonbusiness_special", "sunday",
                    "saturday")
#: a surcharge model's kinds; a percent may be fractional
_SURCHARGES = "\n".join(
    f"{kind}__percent:double {kind.replace('_', ' ')} surcharge in percent\n"
    f"{kind}__time_since:text time of day the {kind.replace('_', ' ')} surcharge starts, hh:mm:ss\n"
    f"{kind}__time_until:text time of day the {kind.replace('_', ' ')} surcharge ends, hh:mm:ss\n"
    f"{kind}__time_since_is_previous_day:bool true: the start lies on the previous day\n"
    f"{kind}__time_until_is_next_day:bool true: the end lies on the next day"
    for kind in _SURCHARGE_KINDS
)

_ABSENCE_KINDS = ("regular_holidays", "sick_self", "sick_child", "special_leaves", "school",
                  "maternity_protection", "home_office", "out_of_office", "quarantine",
                  "military_service")
# User reports: times in seconds, which the API types as numbers (float), and counts of days
# (0, 0.5 or 1 a day): all double, so a half day lands in the same column as whole ones.
_REPORT_SURCHARGES = _fields("surcharges", _SURCHARGE_KINDS, "double",
                             "seconds worked with the {} surcharge")
_SUM_TARGET = "sum_target:double target working time in seconds (Clockodo's own)"
_SUM_HOURS = "sum_hours:double worked time in seconds"
_REDUCTION_USED = "sum_reduction_used:double overtime reduced by hour absences, seconds"
_DIFF = "diff:double worked minus target time (with carry and reductions), seconds"
_REPORT_MONTH = f"""
nr:bigint month of the year, 1 to 12
{_SUM_TARGET}
{_SUM_HOURS}
sum_hours_without_compensation:double worked time without compensations, seconds
{_REDUCTION_USED}
sum_overtime_reduced:double overtime reduced, seconds
{_DIFF}
{_REPORT_SURCHARGES}
"""
_REPORT_WEEK = f"""
nr:bigint ISO week number (January may hold the last week of the year before)
{_SUM_TARGET}
{_SUM_HOURS}
{_REDUCTION_USED}
{_DIFF}
{_REPORT_SURCHARGES}
"""
#: days and breaks come only with report types 3 and 4 (the source asks for type 2)
_REPORT_DAY = f"""
date:date the day
weekday:bigint day of the week, 1 Monday to 7 Sunday
nonbusiness:bool true: a non-business day
{_fields('count_absence', _ABSENCE_KINDS, 'double', 'days of {} absence (0, 0.5 or 1)')}
count_reduction_used:double overtime reduced by hour absences, seconds
target:double target working time in seconds
target_raw:double target working time before absences, seconds
{_REPORT_SURCHARGES}
hours:double worked time in seconds
hours_without_compensation:double worked time without compensations, seconds
diff:double worked minus target time, seconds
work_start:timestamp first work of the day (UTC)
work_end:timestamp end of the day's work (UTC)
"""
_REPORT_BREAK = """
since:timestamp start of the break (UTC)
until:timestamp end of the break (UTC)
length:double length of the break in seconds
"""
_WEEKS = "month_details.week_details"
_DAYS = f"{_WEEKS}.day_details"
_BILL_SERVICE = "bill_service_id:text id in a connected invoicing service"
_NOTE = "note:text internal note"
_ACTIVE = "active:bool false: archived"
_TEST_DATA = "test_data:bool true for Clockodo's sample data"
_USER = "users_id:bigint the user (users.id)"

CATALOG: tuple[Entity, ...] = (
    Entity(
        "entries", "/v2/entries", "entries", ("id",), Partition.ENTRY_WINDOWS, page_size=1000,
        params=(("enhanced_list", "1"),),
        description="time and lump-sum entries: who booked what, when, for which customer, "
        "project and service",
        columns=_ENTRY_COLUMNS, range_column="time_since",
    ),
    Entity(
        "projects", "/v4/projects", "data", ("id",), page_size=5000,
        description="projects, each of one customer, with their budgets",
        columns=f"""
{_id("the project")}
customers_id:bigint the project's customer (customers.id)
name:text the project's name
number:text the project's number
{_ACTIVE}
billable_default:bool true: new entries are billable by default
{_NOTE}
billed_money:double money billed for the project (account currency; needs rights)
billed_completely:bool true: the project is billed completely
completed:bool true: the project is completed
completed_at:timestamp when the project was completed (UTC)
revenue_factor:double factor of a hard budget's revenue on the entries (1: none or soft)
deadline:date the project's deadline
start_date:date the project's start
automatic_completion:bool true: completed automatically at its deadline
{_TEST_DATA}
count_subprojects:bigint number of subprojects
{_BILL_SERVICE}
{_BUDGET}
""",
        nested={"budget__notification_thresholds": _ids(
                    "percent of the budget at which Clockodo notifies"),
                "service_assignments": _ids("a service assigned to the project (services.id)")},
    ),
    Entity(
        "customers", "/v3/customers", "data", ("id",), page_size=5000,
        description="customers",
        columns=f"""
{_id("the customer")}
name:text the customer's name
number:text the customer's number
color:bigint colour code in Clockodo, 1 to 9
{_ACTIVE}
billable_default:bool true: new entries are billable by default
{_NOTE}
{_BILL_SERVICE}
{_TEST_DATA}
""",
        nested={"service_assignments": _ids("a service assigned to the customer (services.id)")},
    ),
    Entity(
        "users", "/v3/users", "data", ("id",), page_size=1000,
        description="users (co-workers) of the account",
        columns=f"""
{_id("the user")}
name:text the user's name
number:text the user's personnel number
email:text the user's e-mail
role:text owner, manager or worker
{_ACTIVE}
timeformat_12h:bool true: shows 12-hour times
weekstart_monday:bool true: weeks start on Monday
weekend_friday:bool true: the weekend starts on Friday
language:text en, de or fr
timezone:text the user's IANA time zone (e.g. Europe/Berlin)
teams_id:bigint the user's team (teams.id)
initials:text the user's initials
nonbusiness_groups_id:bigint the user's non-business group (deprecated by Clockodo)
nonbusinessgroups_id:bigint the user's non-business group (deprecated by Clockodo)
work_time_regulations_id:bigint work time regulation (0: none, null: the company default)
worktime_regulation_id:bigint work time regulation (deprecated by Clockodo)
default_work_time_regulation:bool true: the company's default work time regulation applies
boss:bigint the user's superior (users.id)
can_generally_see_absences:bool true: may see everyone's absences
can_generally_manage_absences:bool true: may manage everyone's absences
can_add_customers:bool true: may add customers
default_holidays_count:bool true: the company's default holiday count applies
default_target_hours:bool true: the company's default target hours apply
future_coworker:bool true: starts in the future
start_date:date the user's first day
wage_type:bigint 1 salaried, 2 hourly wage
edit_lock:date entries up to this day are locked
edit_lock_dyn:bigint entries older than this many days are locked
edit_lock_sync:bool true: the edit lock follows the company's
work_time_edit_lock_days:bigint work times older than this many days are locked
budget_notifications:bool true: receives budget notifications
creator:bigint who created the user (users.id)
created_at:timestamp when the user was created (UTC)
{_BILL_SERVICE}
support_pin:text the user's support PIN
""",
        nested={"absence_managers_id": _ids("a user who manages the user's absences (users.id)"),
                "access_groups_ids": _ids("an access group of the user")},
    ),
    Entity(
        "teams", "/v3/teams", "data", ("id",), page_size=1000,
        description="teams of users",
        columns=f"""
{_id("the team")}
name:text the team's name
leader:bigint the team leader (users.id)
""",
        nested={"user_ids": _ids("a member of the team (users.id)")},
    ),
    Entity(
        "services", "/v4/services", "data", ("id",), page_size=5000,
        description="services (kinds of work) entries are booked on",
        columns=f"""
{_id("the service")}
name:text the service's name
number:text the service's number
{_ACTIVE}
{_NOTE}
{_BILL_SERVICE}
""",
    ),
    Entity(
        "absences", "/v4/absences", "data", ("id",), Partition.YEARS,
        description="absences of users (holidays, sickness, ...), from one day to another",
        columns=f"""
{_id("the absence")}
{_USER}
date_since:date first day
date_until:date last day (the first for a single day)
type:bigint {codes(ABSENCE_TYPES)}
status:bigint {codes(ABSENCE_STATUSES)}
{_NOTE}
public_note:text note everyone may see
sick_note:bool true: a sick note was handed in (types 4 and 5)
count_days:double days of absence (half days possible; 0 for type 3)
count_hours:double hours of an overtime reduction (type 3 only)
date_enquired:date when it was requested
date_approved:date when it was approved
approved_by:bigint who approved it (users.id)
""",
        range_column="date_since", year_param="filter[year]",
    ),
    Entity(
        "work_times", "/v2/workTimes", "work_time_days", ("users_id", "date"),
        Partition.USER_WINDOWS,
        description="work time days of users (presence); the intervals in work_times__intervals",
        columns=f"""
date:date the day
{_USER}
offset:bigint seconds added to the day's intervals (days before 2023 only; may be negative)
""",
        nested={"intervals": ("an interval of presence", """
time_since:timestamp start (UTC)
time_until:timestamp end (UTC); null: still running
""")},
        range_column="date",
    ),
    Entity(
        "target_hours", "/targethours", "targethours", ("id",),
        description="target working hours of users from a day on: weekly (hours per weekday) "
        "or monthly",
        columns=f"""
{_id("the target hours row")}
{_USER}
type:text {codes(TARGET_KINDS)}
date_since:date first day it holds
date_until:date last day it holds; null: open-ended
surcharge_models_id:bigint the surcharge model (surcharges.id)
{_TEST_DATA}
compensation_monthly:double hours a month compensated (counted as worked)
monday:double target hours on Mondays (weekly)
tuesday:double target hours on Tuesdays (weekly)
wednesday:double target hours on Wednesdays (weekly)
thursday:double target hours on Thursdays (weekly)
friday:double target hours on Fridays (weekly)
saturday:double target hours on Saturdays (weekly)
sunday:double target hours on Sundays (weekly)
absence_fixed_credit:bool true: absences credit a fixed time (weekly)
compensation_daily:double minutes a day compensated (weekly)
monthly_target:double target hours a month (monthly)
workday_monday:bool true: Monday is a workday (monthly)
workday_tuesday:bool true: Tuesday is a workday (monthly)
workday_wednesday:bool true: Wednesday is a workday (monthly)
workday_thursday:bool true: Thursday is a workday (monthly)
workday_friday:bool true: Friday is a workday (monthly)
workday_saturday:bool true: Saturday is a workday (monthly)
workday_sunday:bool true: Sunday is a workday (monthly)
""",
    ),
    Entity(
        "overtime_carries", "/v3/overtimeCarry", "data", ("id",),
        description="overtime carried into a year, per user",
        columns=f"""
{_id("the carry")}
{_USER}
year:bigint the year it is carried into
hours:double overtime carried, hours
{_NOTE}
""",
    ),
    Entity(
        "holidays_quota", "/v2/holidaysQuota", "data", ("id",),
        description="holiday entitlement per user, from one year to another",
        columns=f"""
{_id("the quota")}
{_USER}
year_since:bigint first year it holds
year_until:bigint last year it holds; null: open-ended
count:double holidays a year, days
{_NOTE}
""",
    ),
    Entity(
        "holidays_carries", "/v3/holidaysCarry", "data", ("id",),
        description="holidays carried into a year, per user",
        columns=f"""
{_id("the carry")}
{_USER}
year:bigint the year they are carried into
count:double holidays carried, days
{_NOTE}
""",
    ),
    Entity(
        "non_business_days", "/v2/nonbusinessDays", "data", ("id", "evaluated_date"),
        Partition.YEARS,
        description="public holidays and other non-business days of every non-business group, "
        "one row per day and year",
        columns=f"""
{_id("the non-business day")} (the same each year)
nonbusiness_group_id:bigint the non-business group (users.nonbusiness_groups_id)
type:text SPECIAL (a movable feast), DISTINCT_ONCE or DISTINCT_RECURRING (a fixed date)
name:text the day's name
half_day:bool true: a half day
surcharge_special:bool true: the special non-business surcharge applies
special_id:bigint which movable feast (type SPECIAL)
evaluated_date:date the date in the year it applies to
day:bigint day of the month (DISTINCT types)
month:bigint month (DISTINCT types)
year:bigint year (DISTINCT_ONCE)
""",
        range_column="evaluated_date", year_param="year",
        every_id_of=EveryIdOf("nonbusiness_group_id", "/v2/nonbusinessGroups"),
    ),
    Entity(
        "lumpsum_services", "/v4/lumpSumServices", "data", ("id",), page_size=5000,
        description="lump-sum services (priced units) entries of type 3 are booked on",
        columns=f"""
{_id("the lump-sum service")}
name:text the lump-sum service's name
price:double account currency per unit
unit:text the unit's name
{_ACTIVE}
number:text the lump-sum service's number
{_NOTE}
""",
    ),
    Entity(
        "surcharges", "/v2/surchargeModels", "data", ("id",),
        description="surcharge models: percentages for night, Sunday and holiday work",
        columns=f"""
{_id("the surcharge model")}
name:text the surcharge model's name
accumulation:bool true: surcharges add up where several apply
{_SURCHARGES}
""",
        fallback_path="/v2/surcharges", fallback_list_key="surcharges",
    ),
    Entity(
        "user_reports", "/userreports", "userreports", ("users_id", "year"), Partition.YEARS,
        params=(("type", "2"),),
        description="Clockodo's own year report per user (times in seconds, days in days); "
        "months and weeks in the child tables",
        columns=f"""
{_USER}
year:bigint the year
users_name:text the user's name
users_number:text the user's personnel number
users_email:text the user's e-mail
{_SUM_TARGET}
{_SUM_HOURS}
{_REDUCTION_USED}
sum_reduction_planned:double overtime reductions planned after today, seconds
overtime_carryover:double overtime carried into the year, seconds
overtime_reduced:double overtime reduced, seconds
{_DIFF}
holidays_quota:double holidays of the year, days
holidays_carry:double holidays carried into the year, days
workdays:double workdays of the year
{_fields('sum_absence', _ABSENCE_KINDS, 'double', 'days of {} absence')}
{_REPORT_SURCHARGES}
""",
        nested={"month_details": ("a month of the report", _REPORT_MONTH),
                _WEEKS: ("a week (or its part in the month) of the report", _REPORT_WEEK),
                _DAYS: ("a day of the report (report types 3 and 4 only)", _REPORT_DAY),
                f"{_DAYS}.breaks": ("a break of the day (report type 4 only)", _REPORT_BREAK)},
        range_column="year", year_param="year", add_year=True,
    ),
    Entity(
        "customers_projects", "/v4/projects", "data", ("customers_id", "projects_id"),
        Partition.DERIVED,
        description="which project belongs to which customer (from the projects)",
        columns="""
customers_id:bigint the customer (customers.id)
projects_id:bigint the project (projects.id)
""",
        derived_from="projects",
    ),
)

ENTITIES: dict[str, Entity] = {entity.name: entity for entity in CATALOG}
