"""Every documented field has its declared type, so a value that changes from whole to
fractional, from null to set, or from an empty list to a filled one never adds a column.

The field list below is clockodo-api.md §2 (with the published SDK types) written down in the
document's own notation: `int`, `num`, `str`, `bool`, `date`, `dt`; `sec` marks the user
reports' times in seconds, which the official OpenAPI spec types as numbers (`float`). Nested
objects are flattened as dlt flattens them (`budget__amount`), lists become child tables (a list
of ids has one column, `value`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import dlt
import pytest
from dlt.common.data_types import DATA_TYPES
from dlt.destinations.sql_client import SqlClientBase

from clockodo_source import clockodo_source
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import CATALOG, DELETED_COLUMN
from tests.helpers import API_KEY, API_USER, query

Wire = dict[str, Any]

#: the document's notation, as dlt data types
NOTATION = {"int": "bigint", "num": "double", "sec": "double", "str": "text", "bool": "bool",
            "date": "date", "dt": "timestamp"}


def _each(prefix: str, names: Iterable[str], kind: str) -> str:
    return " ".join(f"{prefix}__{name}:{kind}" for name in names)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SURCHARGE_KINDS = ("night", "night_increased", "nonbusiness", "nonbusiness_special", "sunday",
                    "saturday")
_ABSENCE_KINDS = ("regular_holidays", "sick_self", "sick_child", "special_leaves", "school",
                  "maternity_protection", "home_office", "out_of_office", "quarantine",
                  "military_service")
#: documented `percent int`; a fractional percent must still load (interface: fidelity)
_SURCHARGE_MODEL = " ".join(
    f"{kind}__percent:num {kind}__time_since:str {kind}__time_until:str "
    f"{kind}__time_since_is_previous_day:bool {kind}__time_until_is_next_day:bool"
    for kind in _SURCHARGE_KINDS)
_REPORT_SURCHARGES = _each("surcharges", _SURCHARGE_KINDS, "sec")
_DAYS = "user_reports__month_details__week_details__day_details"

DOCUMENTED: dict[str, str] = {
    "entries": "id:int type:int customers_id:int projects_id:int subprojects_id:int users_id:int "
               "billable:int texts_id:int text:str time_since:dt time_until:dt time_insert:dt "
               "time_last_change:dt test_data:bool customers_name:str projects_name:str "
               "subprojects_name:str users_name:str services_name:str revenue:num "
               "services_id:int duration:int offset:int time_last_change_work_time:dt "
               "time_clocked_since:dt clocked:bool clocked_offline:bool hourly_rate:num "
               "lumpsum:num lumpsum_services_id:int lumpsum_services_amount:num "
               "lumpsum_services_price:num",
    "projects": "id:int customers_id:int name:str number:str active:bool billable_default:bool "
                "note:str billed_money:num billed_completely:bool completed:bool "
                "completed_at:dt revenue_factor:num deadline:date start_date:date "
                "automatic_completion:bool test_data:bool count_subprojects:int "
                "budget__monetary:bool budget__hard:bool budget__from_subprojects:bool "
                "budget__interval:int budget__amount:num budget__subprojects_budget_total:num "
                "bill_service_id:str",
    "projects__budget__notification_thresholds": "value:int",
    "projects__service_assignments": "value:int",
    "customers": "id:int name:str number:str color:int active:bool billable_default:bool "
                 "note:str bill_service_id:str test_data:bool",
    "customers__service_assignments": "value:int",
    "users": "id:int name:str number:str email:str role:str active:bool timeformat_12h:bool "
             "weekstart_monday:bool weekend_friday:bool language:str timezone:str teams_id:int "
             "initials:str nonbusiness_groups_id:int nonbusinessgroups_id:int "
             "work_time_regulations_id:int worktime_regulation_id:int "
             "default_work_time_regulation:bool boss:int can_generally_see_absences:bool "
             "can_generally_manage_absences:bool can_add_customers:bool "
             "default_holidays_count:bool default_target_hours:bool future_coworker:bool "
             "start_date:date wage_type:int edit_lock:date edit_lock_dyn:int "
             "edit_lock_sync:bool work_time_edit_lock_days:int budget_notifications:bool "
             "creator:int created_at:dt bill_service_id:str support_pin:str",
    "users__absence_managers_id": "value:int",
    "users__access_groups_ids": "value:int",
    "teams": "id:int name:str leader:int",
    "teams__user_ids": "value:int",
    "services": "id:int name:str number:str active:bool note:str bill_service_id:str",
    "absences": "id:int users_id:int date_since:date date_until:date type:int status:int "
                "note:str public_note:str sick_note:bool count_days:num count_hours:num "
                "date_enquired:date date_approved:date approved_by:int",
    "work_times": "date:date users_id:int offset:int",
    "work_times__intervals": "time_since:dt time_until:dt",
    "target_hours": "id:int users_id:int type:str date_since:date date_until:date "
                    "surcharge_models_id:int test_data:bool compensation_monthly:num "
                    + " ".join(f"{day}:num" for day in _WEEKDAYS)
                    + " absence_fixed_credit:bool compensation_daily:num monthly_target:num "
                    + " ".join(f"workday_{day}:bool" for day in _WEEKDAYS),
    "overtime_carries": "id:int users_id:int year:int hours:num note:str",
    "holidays_quota": "id:int users_id:int year_since:int year_until:int count:num note:str",
    "holidays_carries": "id:int users_id:int year:int count:num note:str",
    "non_business_days": "id:int nonbusiness_group_id:int type:str name:str half_day:bool "
                         "surcharge_special:bool special_id:int evaluated_date:date day:int "
                         "month:int year:int",
    "lumpsum_services": "id:int name:str price:num unit:str active:bool number:str note:str",
    "surcharges": f"id:int name:str accumulation:bool {_SURCHARGE_MODEL}",
    # `year` is the requested year (part of the interface's key; the rows carry none)
    "user_reports": "users_id:int year:int users_name:str users_number:str users_email:str "
                    "sum_target:num sum_hours:sec sum_reduction_used:sec "
                    "sum_reduction_planned:sec overtime_carryover:sec overtime_reduced:sec "
                    "diff:sec holidays_quota:num holidays_carry:num workdays:num "
                    f"{_each('sum_absence', _ABSENCE_KINDS, 'num')} {_REPORT_SURCHARGES}",
    "user_reports__month_details": "nr:int sum_target:sec sum_hours:sec "
                                   "sum_hours_without_compensation:sec sum_reduction_used:sec "
                                   f"sum_overtime_reduced:sec diff:sec {_REPORT_SURCHARGES}",
    "user_reports__month_details__week_details": "nr:int sum_target:sec sum_hours:sec "
                                                 "sum_reduction_used:sec diff:sec "
                                                 f"{_REPORT_SURCHARGES}",
    _DAYS: "date:date weekday:int nonbusiness:bool "
           f"{_each('count_absence', _ABSENCE_KINDS, 'num')} count_reduction_used:sec "
           f"target:sec target_raw:sec {_REPORT_SURCHARGES} hours:sec "
           "hours_without_compensation:sec diff:sec work_start:dt work_end:dt",
    f"{_DAYS}__breaks": "since:dt until:dt length:sec",
    "customers_projects": "customers_id:int projects_id:int",
}
#: only in user reports of types 3 and 4; the source asks for type 2 (months and weeks)
NEVER_LOADED = {_DAYS, f"{_DAYS}__breaks"}


def declared_tables() -> dict[str, dict[str, str]]:
    """Every table the catalog declares (child tables included) with its column types."""
    tables = {}
    for entity in CATALOG:
        tables[entity.name] = entity.column_types
        tables.update(entity.child_tables)
    return tables


def test_every_documented_field_is_declared_with_its_type() -> None:
    documented = {table: {name: NOTATION[kind] for name, kind in
                          (item.split(":") for item in fields.split())}
                  for table, fields in DOCUMENTED.items()}
    assert declared_tables() == documented


def test_every_declared_type_is_a_dlt_type() -> None:
    for table, types in declared_tables().items():
        assert set(types.values()) <= DATA_TYPES, table
    for entity in CATALOG:
        for name, hint in _typed(entity.column_hints()).items():
            assert hint["data_type"] in DATA_TYPES, f"{entity.name}.{name}"
        for path, hints in entity.nested_hints().items():
            columns = _typed(hints["columns"])  # type: ignore[arg-type]
            assert isinstance(columns, dict) and columns, path
            assert all(column["data_type"] in DATA_TYPES for column in columns.values())


def _typed(hints: dict[str, Any]) -> dict[str, Any]:
    """The declared columns: dlt's own ones are only described (dlt types them)."""
    return {name: hint for name, hint in hints.items()
            if not (name.startswith("_dlt_") and "data_type" not in hint)}


# ----------------------------------------------------------- loading changes


def _whole(field: str) -> Callable[[Wire], Any]:
    return lambda row: None if row[field] is None else math.ceil(row[field])


def _kept(field: str) -> Callable[[Wire], Any]:
    return lambda row: row[field]


@dataclass(frozen=True)
class Change:
    """A field of one of the fake's lists: `before` on every row that has the field for the
    first load, `after` on the first row `where` holds for the second. Either may be a
    function of the row."""

    field: str
    before: Any
    after: Any
    where: Callable[[Wire], bool] = lambda row: True

    @staticmethod
    def value(which: Any, row: Wire) -> Any:
        return which(row) if callable(which) else which


#: last year: its user reports are re-read on every run, and its February has no holiday
LAST_YEAR = date.today().year - 1
_FEBRUARY_FIRST = date(LAST_YEAR, 2, 1)
_FEBRUARY_WEDNESDAY = str(_FEBRUARY_FIRST + timedelta(days=(2 - _FEBRUARY_FIRST.weekday()) % 7))


def _sick_of_1002(row: Wire) -> bool:
    """A sick absence of last year, made a half day on a workday: the user report's
    `sick_self` sum turns fractional too."""
    return (row["users_id"] == 1002 and row["type"] == 4 and row["status"] == 1
            and row["date_since"][:4] == str(LAST_YEAR))


_SURCHARGE = {"percent": 33.3, "time_since": "00:00:00", "time_until": "00:00:00",
              "time_since_is_previous_day": False, "time_until_is_next_day": True}

#: fake list -> its changes: null -> set, empty list -> values, whole -> fractional
CHANGES: dict[str, tuple[Change, ...]] = {
    "users": (
        *(Change(name, None, value) for name, value in {
            "number": "P-9", "teams_id": 202, "initials": "ZD", "nonbusiness_groups_id": 2,
            "nonbusinessgroups_id": 2, "work_time_regulations_id": 4,
            "worktime_regulation_id": 4, "boss": 1001, "start_date": "2024-02-01",
            "wage_type": 2, "edit_lock": "2025-01-31", "edit_lock_dyn": 8,
            "edit_lock_sync": True, "work_time_edit_lock_days": 3, "creator": 1001,
            "bill_service_id": "BS-U"}.items()),
        Change("absence_managers_id", [], [1001, 1004]),
        Change("access_groups_ids", [], [3, 5, 8]),
    ),
    "teams": (Change("leader", None, 1003), Change("user_ids", [], [1003, 1002])),
    "customers": (
        Change("number", None, "K-1"), Change("note", None, "Ansprechpartnerin"),
        Change("bill_service_id", None, "BS-C"), Change("service_assignments", [], [502, 501]),
    ),
    "projects": (
        *(Change(name, None, value) for name, value in {
            "number": "PR-1", "note": "Notiz", "billed_money": 1234.56,
            "billed_completely": True, "completed_at": "2025-03-04T05:06:07Z",
            "revenue_factor": 0.25, "deadline": "2027-01-31", "start_date": "2024-12-01",
            "bill_service_id": "BS-P"}.items()),
        Change("budget", None, {"monetary": True, "hard": False, "from_subprojects": False,
                                "interval": 2, "amount": 2500.5, "subprojects_budget_total": 0.5,
                                "notification_thresholds": [50, 90, 110]}),
        Change("service_assignments", [], [503]),
    ),
    "services": (Change("number", None, "S-9"), Change("note", None, "n"),
                 Change("bill_service_id", None, "BS-S")),
    "lumpsum_services": (Change("price", _whole("price"), 0.35), Change("unit", None, "kg"),
                         Change("number", None, "L-9"), Change("note", None, "je kg")),
    "absences": (
        Change("count_days", _whole("count_days"), 0.5, _sick_of_1002),
        Change("date_since", _kept("date_since"), _FEBRUARY_WEDNESDAY, _sick_of_1002),
        Change("date_until", _kept("date_until"), _FEBRUARY_WEDNESDAY, _sick_of_1002),
        Change("count_hours", _whole("count_hours"), 2.25),
        Change("note", None, "Arzt"), Change("public_note", None, "Außer Haus"),
        Change("sick_note", None, True), Change("date_approved", None, "2024-01-03"),
        Change("approved_by", None, 1001),
    ),
    "target_hours": (
        Change("date_until", None, "2030-12-31"), Change("surcharge_models_id", None, 72),
        Change("monday", _whole("monday"), 7.75),
        Change("compensation_daily", _whole("compensation_daily"), 12.5),
        Change("monthly_target", _whole("monthly_target"), 120.5),
        Change("compensation_monthly", _whole("compensation_monthly"), 0.5),
    ),
    "overtime_carries": (Change("hours", _whole("hours"), 2.5),
                         Change("note", None, "Abschluss")),
    "holidays_quotas": (Change("count", _whole("count"), 27.5),
                        Change("year_until", None, 2031), Change("note", None, "Teilzeit")),
    "holidays_carries": (Change("count", _whole("count"), 1.5),
                         Change("note", None, "Übertrag")),
    "surcharge_models": (
        Change("night", None, {"percent": 12.5, "time_since": "22:00:00",
                               "time_until": "06:00:00"}),
        Change("saturday", None, _SURCHARGE),
        Change("sunday", _kept("sunday"), {**_SURCHARGE, "percent": 50.5}),
    ),
}
TABLE_OF = {"holidays_quotas": "holidays_quota", "surcharge_models": "surcharges"}


def _first(rows: list[Wire], change: Change) -> Wire:
    return next(row for row in rows if change.field in row and change.where(row))


def arrange_first_load(company: FakeCompany) -> None:
    """Every variable field null, empty or whole on every row that has it."""
    for name, changes in CHANGES.items():
        for row in company.master(name):
            values = {change.field: change.value(change.before, row)
                      for change in changes if change.field in row}
            company.edit(name, row["id"], **values)


def change_for_second_load(company: FakeCompany) -> dict[str, set[int]]:
    """Each field set, filled or made fractional on one row; returns the changed rows."""
    changed: dict[str, set[int]] = {}
    for name, changes in CHANGES.items():
        rows = company.master(name)
        for change in changes:
            row = _first(rows, change)
            company.edit(name, row["id"], **{change.field: change.value(change.after, row)})
            changed.setdefault(name, set()).add(row["id"])
    return changed


def flatten(wire: Wire, prefix: str = "") -> tuple[Wire, dict[str, list[Any]]]:
    """A wire row as dlt stores it: nested objects as `a__b` columns, lists as child tables."""
    columns: Wire = {}
    lists: dict[str, list[Any]] = {}
    for key, value in wire.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            inner, inner_lists = flatten(value, f"{name}__")
            columns.update(inner)
            lists.update(inner_lists)
        elif isinstance(value, list):
            lists[name] = value
        else:
            columns[name] = value
    return columns, lists


def same(stored: Any, sent: Any, kind: str) -> bool:
    """A stored value is exactly what the API sent, typed as declared."""
    if sent is None:
        return stored is None
    if kind == "date":
        return type(stored) is date and stored == date.fromisoformat(sent)
    if kind == "timestamp":
        return isinstance(stored, datetime) and stored == datetime.fromisoformat(sent)
    python = {"bigint": int, "double": float, "text": str, "bool": bool}[kind]
    return type(stored) is python and stored == sent


def rows_of(client: SqlClientBase[Any], table: str, where: str, *args: Any) -> list[Wire]:
    name = client.make_qualified_table_name(table)
    with client.execute_query(f"SELECT * FROM {name} WHERE {where}", *args) as cursor:
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def assert_stored(client: SqlClientBase[Any], table: str, stored: Wire, wire: Wire) -> None:
    """Every declared column of `stored` holds the wire's value, child tables included."""
    tables = declared_tables()
    columns, lists = flatten(wire)
    for name, kind in tables[table].items():
        assert same(stored[name], columns.get(name), kind), (
            f"{table}.{name}: stored {stored[name]!r}, sent {columns.get(name)!r}")
    for name, items in lists.items():
        child = f"{table}__{name}"
        assert child in tables, f"undeclared list {child}"
        children = rows_of(client, child, "_dlt_parent_id = %s ORDER BY _dlt_list_idx",
                           stored["_dlt_id"])
        assert len(children) == len(items), child
        for row, item in zip(children, items, strict=True):
            assert_stored(client, child, row, item if isinstance(item, dict) else
                          {"value": item})


def assert_row(client: SqlClientBase[Any], table: str, key: Wire, wire: Wire) -> None:
    """The row stored under `key` holds exactly `wire`."""
    where = " AND ".join(f"{name} = %s" for name in key)
    (row,) = rows_of(client, table, where, *key.values())
    assert_stored(client, table, row, wire)


def columns_by_table(pipeline: dlt.Pipeline) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for table, column, kind in query(
            pipeline, "SELECT table_name, column_name, data_type FROM information_schema.columns "
                      "WHERE table_schema = %s", pipeline.dataset_name):
        found.setdefault(table, {})[column] = kind.upper()
    return found


#: how each declared type reads in information_schema, per destination
DB_TYPES = {
    "duckdb": {"bigint": "BIGINT", "double": "DOUBLE", "text": "VARCHAR", "bool": "BOOLEAN",
               "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE"},
    "postgres": {"bigint": "BIGINT", "double": "DOUBLE PRECISION", "text": "CHARACTER VARYING",
                 "bool": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE"},
}


def assert_declared_columns_only(pipeline: dlt.Pipeline, destination: str) -> None:
    found = columns_by_table(pipeline)
    variants = [f"{table}.{column}" for table, columns in found.items() for column in columns
                if "__v_" in column]
    assert variants == [], variants
    declared = declared_tables()
    data_tables = {table for table in found if not table.startswith("_dlt_")}
    assert data_tables == set(declared) - NEVER_LOADED
    merged = {entity.name for entity in CATALOG if entity.write_disposition == "merge"}
    for table in data_tables:
        ours = {column: kind for column, kind in found[table].items()
                if not column.startswith("_")}
        expected = {column: DB_TYPES[destination][kind] for column, kind in declared[table].items()}
        assert ours == expected, table
        extra = {column for column in found[table] if column.startswith("_")}
        assert {column for column in extra if not column.startswith("_dlt_")} == (
            {DELETED_COLUMN} if table in merged else set()), table


@pytest.fixture
def changing() -> Iterator[tuple[FakeCompany, FakeClockodoServer]]:
    """A company of its own (the test changes it) since the start of last year, served."""
    company = FakeCompany(CompanyConfig(entries=300, seed=21, start=date(LAST_YEAR, 1, 1)))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        yield company, server


def test_changing_values_never_add_a_column(
    changing: tuple[FakeCompany, FakeClockodoServer], destination: str,
    make_pipeline: Callable[[], dlt.Pipeline],
) -> None:
    """Loaded with every variable field null, empty or whole, then changed and loaded again:
    (1) no `__v_` column anywhere, (2) every table has exactly the declared columns and types,
    (3) the changed rows (child tables included) hold exactly what the API sent."""
    company, server = changing
    pipeline = make_pipeline()
    years = (LAST_YEAR, company.now.year)

    def run() -> None:
        pipeline.run(clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=server.url,
                                     start_date=f"{LAST_YEAR}-01-01"))

    arrange_first_load(company)
    assert all(type(report["sum_absence"]["sick_self"]) is int
               for year in years for report in company.user_reports(year, 2))
    (running,) = [row for row in company.all_entries() if row["time_until"] is None]
    day = date.fromisoformat(running["time_since"][:10])
    (work_day,) = company.work_time_days(running["users_id"], day, day)
    assert work_day["intervals"][-1]["time_until"] is None
    run()

    changed = change_for_second_load(company)
    stopped = company.stop_running_entry()
    entry = company.edit_entry(stopped["id"], hourly_rate=87.25, text=None)
    sick = company.user_report(1002, LAST_YEAR, 2)["sum_absence"]["sick_self"]
    assert sick % 1 == 0.5, "the half day must make the year's sum fractional"
    run()

    assert_declared_columns_only(pipeline, destination)
    (work_day,) = company.work_time_days(stopped["users_id"], day, day)
    with pipeline.sql_client() as client:
        for name, ids in changed.items():
            rows = {row["id"]: row for row in company.master(name)}
            for row_id in ids:
                assert_row(client, TABLE_OF.get(name, name), {"id": row_id}, rows[row_id])
        assert_row(client, "entries", {"id": entry["id"]}, company.entry(entry["id"]))
        for year in years:
            for report in company.user_reports(year, 2):
                assert_row(client, "user_reports",
                           {"users_id": report["users_id"], "year": year},
                           {**report, "year": year})
        assert_row(client, "work_times", {"users_id": stopped["users_id"], "date": day},
                   work_day)
