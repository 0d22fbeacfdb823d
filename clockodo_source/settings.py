"""The entity catalog: one declarative entry per table drives every resource of the source.

Paths carry their API version (the pre-2026-05 v2 routes answer 410), list keys differ per
endpoint, and only some lists are paged. Column types are declared up front so that a column
the API omits for lack of rights still exists (null) and money never flips between int and float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from dlt.common.schema.typing import TTableSchemaColumns

DEFAULT_BASE_URL = "https://my.clockodo.com/api"
DEFAULT_START_DATE = "2000-01-01"
DEFAULT_LOOKBACK_DAYS = 35
DEFAULT_FUTURE_DAYS = 366
#: Clockodo stores work times only from this day on.
WORK_TIMES_START = date(2023, 8, 21)
#: The column that marks a row as deleted (dlt's hard_delete hint).
DELETED_COLUMN = "_deleted"
EXTERNAL_APPLICATION_MAX = 50


class Partition(Enum):
    """How an entity is read, which decides its write disposition and deletion handling."""

    NONE = "none"  # the whole list each run; table replaced
    ENTRY_WINDOWS = "entry_windows"  # entry-time windows; merged, deletions reconciled
    YEARS = "years"  # one request per year; merged, deletions reconciled per year
    USER_WINDOWS = "user_windows"  # per user and date window; merged, reconciled per window
    DERIVED = "derived"  # computed from another entity's rows; replaced


@dataclass(frozen=True)
class Entity:
    name: str
    path: str
    list_key: str
    primary_key: tuple[str, ...]
    partition: Partition = Partition.NONE
    page_size: int | None = None  # documented maximum; None = endpoint is not paged
    params: tuple[tuple[str, str], ...] = ()
    columns: str = ""  # "name:type ..." with dlt data types; see `column_hints`
    #: column whose value places a row in a window or year (partitioned entities)
    range_column: str | None = None
    year_param: str | None = None  # query parameter carrying the year (YEARS)
    add_year: bool = False  # rows carry no year: add the requested one (user reports)
    fallback_path: str | None = None  # tried when `path` answers 404 (surcharges)
    fallback_list_key: str | None = None
    derived_from: str | None = None
    #: nested fields (at any depth) holding date-times or dates, converted from ISO strings
    nested_timestamps: frozenset[str] = field(default_factory=frozenset)
    nested_dates: frozenset[str] = field(default_factory=frozenset)

    @property
    def write_disposition(self) -> str:
        return "replace" if self.partition in (Partition.NONE, Partition.DERIVED) else "merge"

    @property
    def column_types(self) -> dict[str, str]:
        return dict(item.split(":", 1) for item in self.columns.split())

    @property
    def timestamps(self) -> frozenset[str]:
        top = {name for name, kind in self.column_types.items() if kind == "timestamp"}
        return frozenset(top) | self.nested_timestamps

    @property
    def dates(self) -> frozenset[str]:
        top = {name for name, kind in self.column_types.items() if kind == "date"}
        return frozenset(top) | self.nested_dates

    def column_hints(self) -> TTableSchemaColumns:
        hints: TTableSchemaColumns = {}
        for name, kind in self.column_types.items():
            hints[name] = {"name": name, "data_type": kind, "nullable": True}  # type: ignore[typeddict-item]
            if kind == "timestamp":
                hints[name]["timezone"] = True
        for key in self.primary_key:
            hints.setdefault(key, {"name": key})
            hints[key]["nullable"] = False
        if self.write_disposition == "merge":
            hints[DELETED_COLUMN] = {
                "name": DELETED_COLUMN, "data_type": "bool", "nullable": True, "hard_delete": True
            }
        return hints


_ID = "id:bigint"
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
_SURCHARGES = " ".join(
    f"{kind}__percent:bigint {kind}__time_since:text {kind}__time_until:text "
    f"{kind}__time_since_is_previous_day:bool {kind}__time_until_is_next_day:bool"
    for kind in _SURCHARGE_KINDS
)

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
    ),
    Entity(
        "customers", "/v3/customers", "data", ("id",), page_size=5000,
        columns=f"{_ID} name:text number:text color:bigint active:bool billable_default:bool "
        "note:text bill_service_id:text test_data:bool",
    ),
    Entity(
        "users", "/v3/users", "data", ("id",), page_size=1000,
        columns=f"{_ID} name:text number:text email:text role:text active:bool "
        "timeformat_12h:bool weekstart_monday:bool weekend_friday:bool language:text "
        "timezone:text teams_id:bigint initials:text nonbusiness_groups_id:bigint "
        "work_time_regulations_id:bigint default_work_time_regulation:bool boss:bigint "
        "can_generally_see_absences:bool can_generally_manage_absences:bool "
        "can_add_customers:bool default_holidays_count:bool default_target_hours:bool "
        "future_coworker:bool start_date:date wage_type:bigint edit_lock:date "
        "edit_lock_dyn:bigint edit_lock_sync:bool work_time_edit_lock_days:bigint "
        "budget_notifications:bool creator:bigint created_at:timestamp bill_service_id:text "
        "support_pin:text",
    ),
    Entity(
        "teams", "/v3/teams", "data", ("id",), page_size=1000,
        columns=f"{_ID} name:text leader:bigint",
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
        range_column="date", nested_timestamps=frozenset({"time_since", "time_until"}),
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
        "diff:double holidays_quota:double holidays_carry:double workdays:double",
        range_column="year", year_param="year", add_year=True,
        nested_timestamps=frozenset({"work_start", "work_end", "since", "until"}),
        nested_dates=frozenset({"date"}),
    ),
    Entity(
        "customers_projects", "/v4/projects", "data", ("customers_id", "projects_id"),
        Partition.DERIVED, columns="customers_id:bigint projects_id:bigint",
        derived_from="projects",
    ),
)

ENTITIES: dict[str, Entity] = {entity.name: entity for entity in CATALOG}
