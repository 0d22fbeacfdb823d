"""The entity catalog: one declarative entry per table drives every resource of the source.

Paths carry their API version (the pre-2026-05 v2 routes answer 410), list keys differ per
endpoint, and only some lists are paged. The module is longer than the others because it is the
one table of all 17 entities and their declared columns: split, a table's declaration would
stand in several places. Every documented field has its column type declared,
child tables included: a column the API omits for lack of rights, or sends null on a first load,
still exists with its type, and a count that is whole today and a half tomorrow (Clockodo sends
`2`, then `2.5`) never splits into a second `__v_double` column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

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


def column_types(columns: str) -> dict[str, str]:
    """`"name:type name:type"` (dlt data types) as a mapping."""
    return dict(item.split(":", 1) for item in columns.split())


def _column_hints(types: Mapping[str, str]) -> TTableSchemaColumns:
    hints: TTableSchemaColumns = {}
    for name, kind in types.items():
        hints[name] = {"name": name, "data_type": kind, "nullable": True}  # type: ignore[typeddict-item]
        if kind == "timestamp":
            hints[name]["timezone"] = True
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
    columns: str = ""  # "name:type ..." with dlt data types; objects flattened as `a__b`
    #: child tables (lists in a row) by their path below the table, each step a list field as
    #: the flattened row names it (`budget__notification_thresholds`), steps joined by `.`;
    #: columns as in `columns`, a list of numbers has one column, `value`
    nested: Mapping[str, str] = field(default_factory=dict, hash=False)
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
        return {"__".join((self.name, *path.split("."))): column_types(columns)
                for path, columns in self.nested.items()}

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
        hints = _column_hints(self.column_types)
        for key in self.primary_key:
            hints.setdefault(key, {"name": key})
            hints[key]["nullable"] = False
        if self.write_disposition == "merge":
            hints[DELETED_COLUMN] = {
                "name": DELETED_COLUMN, "data_type": "bool", "nullable": True, "hard_delete": True
            }
        return hints

    def nested_hints(self) -> dict[tuple[str, ...], TResourceNestedHints]:
        """The child tables' column hints, as dlt's `nested_hints` takes them."""
        return {tuple(path.split(".")): dlt.mark.make_nested_hints(
                    columns=_column_hints(column_types(columns)))
                for path, columns in self.nested.items()}


def _fields(prefix: str, names: Iterable[str], kind: str) -> str:
    """The columns of a nested object flattened into its row, each of one type."""
    return " ".join(f"{prefix}__{name}:{kind}" for name in names)


_ID = "id:bigint"
#: a list of ids (a child table with one column)
_IDS = "value:bigint"
_ENTRY_COLUMNS = (
    "id:bigint type:bigint customers_id:bigint projects_id:bigint subprojects_id:bigint "
    "users_id:bigint billable:bigint texts_id:bigint text:text time_since:timestamp "
    "time_until:timestamp time_insert:timestamp time_last_change:timestamp test_data:bool "
    "customers_name:text projects_name:text subprojects_name:text users_name:text "
    "services_name:text revenue:double services_id:bigint duration:bigint offset:bigint "
    "time_last_change_work_time:timestamp time_clocked_since:timestamp clocked:bool "
    "clocked_offline:bool hourly_rate:double lumpsum:double lumpsum_services_id:bigint "
    "lumpsum_services_amount:double lumpsum_services_price:double"
)
_BUDGET = (
    "budget__monetary:bool budget__hard:bool budget__from_subprojects:bool "
    "budget__interval:bigint budget__amount:double budget__subprojects_budget_total:double"
)

_SURCHARGE_KINDS = ("night", "night_increased", "nonbusiness", "nonbusiness_special", "sunday",
                    "saturday")
#: a surcharge model's kinds; a percent may be fractional
_SURCHARGES = " ".join(
    f"{kind}__percent:double {kind}__time_since:text {kind}__time_until:text "
    f"{kind}__time_since_is_previous_day:bool {kind}__time_until_is_next_day:bool"
    for kind in _SURCHARGE_KINDS
)

_ABSENCE_KINDS = ("regular_holidays", "sick_self", "sick_child", "special_leaves", "school",
                  "maternity_protection", "home_office", "out_of_office", "quarantine",
                  "military_service")
# User reports: times in seconds, which the API types as numbers (float), and counts of days
# (0, 0.5 or 1 a day): all double, so a half day lands in the same column as whole ones.
_REPORT_SURCHARGES = _fields("surcharges", _SURCHARGE_KINDS, "double")
_REPORT_MONTH = (
    "nr:bigint sum_target:double sum_hours:double sum_hours_without_compensation:double "
    f"sum_reduction_used:double sum_overtime_reduced:double diff:double {_REPORT_SURCHARGES}"
)
_REPORT_WEEK = (
    "nr:bigint sum_target:double sum_hours:double sum_reduction_used:double diff:double "
    f"{_REPORT_SURCHARGES}"
)
#: days and breaks come only with report types 3 and 4 (the source asks for type 2)
_REPORT_DAY = (
    "date:date weekday:bigint nonbusiness:bool "
    f"{_fields('count_absence', _ABSENCE_KINDS, 'double')} count_reduction_used:double "
    f"target:double target_raw:double {_REPORT_SURCHARGES} hours:double "
    "hours_without_compensation:double diff:double work_start:timestamp work_end:timestamp"
)
_REPORT_BREAK = "since:timestamp until:timestamp length:double"
_WEEKS = "month_details.week_details"
_DAYS = f"{_WEEKS}.day_details"

CATALOG: tuple[Entity, ...] = (
    Entity(
        "entries", "/v2/entries", "entries", ("id",), Partition.ENTRY_WINDOWS, page_size=1000,
        params=(("enhanced_list", "1"),), columns=_ENTRY_COLUMNS, range_column="time_since",
    ),
    Entity(
        "projects", "/v4/projects", "data", ("id",), page_size=5000,
        columns=f"{_ID} customers_id:bigint name:text number:text active:bool "
        "billable_default:bool note:text billed_money:double billed_completely:bool "
        "completed:bool completed_at:timestamp revenue_factor:double deadline:date "
        "start_date:date automatic_completion:bool test_data:bool count_subprojects:bigint "
        f"bill_service_id:text {_BUDGET}",
        nested={"budget__notification_thresholds": _IDS, "service_assignments": _IDS},
    ),
    Entity(
        "customers", "/v3/customers", "data", ("id",), page_size=5000,
        columns=f"{_ID} name:text number:text color:bigint active:bool billable_default:bool "
        "note:text bill_service_id:text test_data:bool",
        nested={"service_assignments": _IDS},
    ),
    Entity(
        "users", "/v3/users", "data", ("id",), page_size=1000,
        columns=f"{_ID} name:text number:text email:text role:text active:bool "
        "timeformat_12h:bool weekstart_monday:bool weekend_friday:bool language:text "
        "timezone:text teams_id:bigint initials:text nonbusiness_groups_id:bigint "
        "nonbusinessgroups_id:bigint work_time_regulations_id:bigint "
        "worktime_regulation_id:bigint default_work_time_regulation:bool boss:bigint "
        "can_generally_see_absences:bool can_generally_manage_absences:bool "
        "can_add_customers:bool default_holidays_count:bool default_target_hours:bool "
        "future_coworker:bool start_date:date wage_type:bigint edit_lock:date "
        "edit_lock_dyn:bigint edit_lock_sync:bool work_time_edit_lock_days:bigint "
        "budget_notifications:bool creator:bigint created_at:timestamp bill_service_id:text "
        "support_pin:text",
        nested={"absence_managers_id": _IDS, "access_groups_ids": _IDS},
    ),
    Entity(
        "teams", "/v3/teams", "data", ("id",), page_size=1000,
        columns=f"{_ID} name:text leader:bigint", nested={"user_ids": _IDS},
    ),
    Entity(
        "services", "/v4/services", "data", ("id",), page_size=5000,
        columns=f"{_ID} name:text number:text active:bool note:text bill_service_id:text",
    ),
    Entity(
        "absences", "/v4/absences", "data", ("id",), Partition.YEARS,
        columns=f"{_ID} users_id:bigint date_since:date date_until:date type:bigint "
        "status:bigint note:text public_note:text sick_note:bool count_days:double "
        "count_hours:double date_enquired:date date_approved:date approved_by:bigint",
        range_column="date_since", year_param="filter[year]",
    ),
    Entity(
        "work_times", "/v2/workTimes", "work_time_days", ("users_id", "date"),
        Partition.USER_WINDOWS, columns="date:date users_id:bigint offset:bigint",
        nested={"intervals": "time_since:timestamp time_until:timestamp"},
        range_column="date",
    ),
    Entity(
        "target_hours", "/targethours", "targethours", ("id",),
        columns=f"{_ID} users_id:bigint type:text date_since:date date_until:date "
        "surcharge_models_id:bigint test_data:bool compensation_monthly:double "
        "monday:double tuesday:double wednesday:double thursday:double friday:double "
        "saturday:double sunday:double absence_fixed_credit:bool compensation_daily:double "
        "monthly_target:double workday_monday:bool workday_tuesday:bool "
        "workday_wednesday:bool workday_thursday:bool workday_friday:bool "
        "workday_saturday:bool workday_sunday:bool",
    ),
    Entity(
        "overtime_carries", "/v3/overtimeCarry", "data", ("id",),
        columns=f"{_ID} users_id:bigint year:bigint hours:double note:text",
    ),
    Entity(
        "holidays_quota", "/v2/holidaysQuota", "data", ("id",),
        columns=f"{_ID} users_id:bigint year_since:bigint year_until:bigint count:double "
        "note:text",
    ),
    Entity(
        "holidays_carries", "/v3/holidaysCarry", "data", ("id",),
        columns=f"{_ID} users_id:bigint year:bigint count:double note:text",
    ),
    Entity(
        "non_business_days", "/v2/nonbusinessDays", "data", ("id", "evaluated_date"),
        Partition.YEARS,
        columns=f"{_ID} nonbusiness_group_id:bigint type:text name:text half_day:bool "
        "surcharge_special:bool special_id:bigint evaluated_date:date day:bigint "
        "month:bigint year:bigint",
        range_column="evaluated_date", year_param="year",
        every_id_of=EveryIdOf("nonbusiness_group_id", "/v2/nonbusinessGroups"),
    ),
    Entity(
        "lumpsum_services", "/v4/lumpSumServices", "data", ("id",), page_size=5000,
        columns=f"{_ID} name:text price:double unit:text active:bool number:text note:text",
    ),
    Entity(
        "surcharges", "/v2/surchargeModels", "data", ("id",),
        columns=f"{_ID} name:text accumulation:bool {_SURCHARGES}",
        fallback_path="/v2/surcharges", fallback_list_key="surcharges",
    ),
    Entity(
        "user_reports", "/userreports", "userreports", ("users_id", "year"), Partition.YEARS,
        params=(("type", "2"),),
        columns="users_id:bigint year:bigint users_name:text users_number:text "
        "users_email:text sum_target:double sum_hours:double sum_reduction_used:double "
        "sum_reduction_planned:double overtime_carryover:double overtime_reduced:double "
        "diff:double holidays_quota:double holidays_carry:double workdays:double "
        f"{_fields('sum_absence', _ABSENCE_KINDS, 'double')} {_REPORT_SURCHARGES}",
        nested={"month_details": _REPORT_MONTH, _WEEKS: _REPORT_WEEK, _DAYS: _REPORT_DAY,
                f"{_DAYS}.breaks": _REPORT_BREAK},
        range_column="year", year_param="year", add_year=True,
    ),
    Entity(
        "customers_projects", "/v4/projects", "data", ("customers_id", "projects_id"),
        Partition.DERIVED, columns="customers_id:bigint projects_id:bigint",
        derived_from="projects",
    ),
)

ENTITIES: dict[str, Entity] = {entity.name: entity for entity in CATALOG}
