"""Analytics models and reports, on a fake company loaded into DuckDB and PostgreSQL.

Every model row is compared with figures computed in Python from the fake company's own data
(``tests/analytics_expected.py``). Both warehouses run with a session time zone far from UTC,
so a model that let the session time zone leak into month or week boundaries would fail.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest
import sqlglot
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from clockodo_source import clockodo_source
from clockodo_source.analytics import (
    ModelNotBuiltError,
    build_models,
    render_report,
    write_html_report,
)
from clockodo_source.analytics import build as build_module
from clockodo_source.analytics.dialect import DIALECTS
from clockodo_source.analytics.models import MODELS, SqlContext
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.limits import RateLimits
from clockodo_source.fake.server import FakeClockodoServer
from tests import analytics_expected as expected
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, duckdb_pipeline, query

NOW = datetime(2026, 1, 2, 10, 15, tzinfo=UTC)
"""A Friday in the ISO week that spans the new year, two days into a month, quarter and year."""
FAR_ZONE = "Pacific/Kiritimati"  # UTC+14: a UTC date is often the next local day
POSTGRES_DSN = "postgresql://root@127.0.0.1:5432/test"

NO_TARGET_USER = 1003
EMPTY_MONTH = date(2025, 2, 1)  # the no-target user's entries of this month are deleted
LUMP_GROUP = (3006, 40006, 1006, date(2025, 10, 1))  # customer, project, user, month
RUNNING_USER = 1001
HALF_DAY_ABSENCE = 120129  # an approved half-day holiday of user 1006 on 2025-10-01
NO_BUDGET_PROJECT = 40001
PLANNED_DAY = date(2026, 2, 10)

MODEL_KEYS = {
    "unbilled_time": ("customers_id", "projects_id", "users_id", "month"),
    "utilization": ("users_id", "period", "period_start"),
    "project_budgets": ("projects_id",),
    "overtime_balance": ("users_id", "year"),
    "absence_summary": ("users_id", "year", "type"),
}
MODEL_VALUES = {
    "unbilled_time": ("unbilled_hours", "unbilled_value", "entries", "oldest_unbilled_date"),
    "utilization": ("teams_id", "worked_hours", "billable_hours", "target_hours",
                    "utilization_pct"),
    "project_budgets": ("customers_id", "budget_kind", "budget", "used", "remaining",
                        "used_pct", "runout_date"),
    "overtime_balance": ("target_hours", "worked_hours", "overtime_carryover_hours",
                         "overtime_reduced_hours", "balance_hours"),
    "absence_summary": ("days", "approved_days", "holidays_quota", "holidays_carry",
                        "holidays_left"),
}


# ------------------------------------------------------------------ the company and its loads


def _add_edge_cases(company: FakeCompany) -> None:
    """What the generated company lacks, made with the fake's own mutations."""
    company.target_hours = [row for row in company.target_hours
                            if row["users_id"] != NO_TARGET_USER]
    for entry in company.all_entries():
        if entry["users_id"] == NO_TARGET_USER and entry["time_since"].startswith("2025-02"):
            company.delete_entry(entry["id"])
    customer, project, user, month = LUMP_GROUP
    assert not [e for e in company.all_entries()
                if (e["customers_id"], e["projects_id"], e["users_id"]) == LUMP_GROUP[:3]
                and e["time_since"].startswith(month.strftime("%Y-%m"))]
    where = {"customers_id": customer, "projects_id": project, "users_id": user}
    day = datetime(2025, 10, 14, 9, 0, tzinfo=UTC)
    # billable, no revenue from the API: value = rate x duration
    company.add_entry(**where, time_since=day, time_until=day + timedelta(hours=2.5),
                      billable=1, hourly_rate=100.0, revenue=None)
    company.add_entry(**where, type=2, time_since=day + timedelta(days=1), billable=1,
                      lumpsum=80.0, revenue=None)
    company.add_entry(**where, type=3, time_since=day + timedelta(days=2), billable=1,
                      lumpsum_services_amount=40.0, lumpsum_services_price=0.3, revenue=None)
    company.add_entry(**where, time_since=day + timedelta(days=3, hours=1),
                      time_until=day + timedelta(days=3, hours=4), billable=2)  # billed
    company.add_entry(**where, time_since=day + timedelta(days=4),
                      time_until=day + timedelta(days=4, hours=1), billable=0)  # not billable
    planned = datetime.combine(PLANNED_DAY, datetime.min.time(), tzinfo=UTC)
    company.add_entry(**where, time_since=planned, time_until=planned + timedelta(hours=8),
                      billable=1)
    company.edit_absence(HALF_DAY_ABSENCE, status=0)  # enquired, not yet approved


@pytest.fixture(scope="module")
def analytics_company() -> FakeCompany:
    company = FakeCompany(CompanyConfig(entries=1500, seed=29), now=NOW)
    _add_edge_cases(company)
    return company


@pytest.fixture(scope="module")
def analytics_api(analytics_company: FakeCompany) -> Iterator[FakeClockodoServer]:
    with FakeClockodoServer(analytics_company, api_user=API_USER, api_key=API_KEY) as server:
        # this module loads the same account many times within minutes; Clockodo's 300 enhanced
        # entry lists per 15 minutes would make it wait, and rate limits are tested elsewhere
        server.limits = RateLimits(entries_enhanced=None)
        yield server


def _source(server: FakeClockodoServer, company: FakeCompany) -> Any:
    return clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=server.url,
                           start_date=first_entry_day(company).isoformat())


def _far_duckdb_pipeline(base: Path) -> dlt.Pipeline:
    credentials = DuckDbCredentials(str(base / "analytics.duckdb"), session_timezone=FAR_ZONE)
    return dlt.pipeline(pipeline_name="analytics_duckdb",
                        destination=dlt.destinations.duckdb(credentials),
                        dataset_name="clockodo", pipelines_dir=str(base / "pipelines"))


def _postgres_pipeline(base: Path) -> dlt.Pipeline:
    credentials = PostgresCredentials(POSTGRES_DSN)
    credentials.password = ""  # trust auth; dlt 1.31 refuses a DSN without one otherwise
    return dlt.pipeline(pipeline_name="analytics_postgres",
                        destination=dlt.destinations.postgres(credentials=credentials),
                        dataset_name=f"analytics_{uuid.uuid4().hex[:12]}",
                        pipelines_dir=str(base / "pipelines"))


def _drop_dataset(pipeline: dlt.Pipeline) -> None:
    with pipeline.sql_client() as client:
        if client.has_dataset():
            client.drop_dataset()


@dataclass(frozen=True)
class Loaded:
    pipeline: dlt.Pipeline
    counts: dict[str, int]


@pytest.fixture(scope="module")
def duckdb_loaded(analytics_api: FakeClockodoServer, analytics_company: FakeCompany,
                  tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    pipeline = _far_duckdb_pipeline(tmp_path_factory.mktemp("analytics_duckdb"))
    pipeline.run(_source(analytics_api, analytics_company), loader_file_format="parquet")
    return Loaded(pipeline, build_models(pipeline, now=analytics_company.now))


@pytest.fixture(scope="module")
def postgres_loaded(analytics_api: FakeClockodoServer, analytics_company: FakeCompany,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A missing PostgreSQL server makes this fixture, and so every test using it, fail."""
    pipeline = _postgres_pipeline(tmp_path_factory.mktemp("analytics_postgres"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGTZ", FAR_ZONE)
        try:
            pipeline.run(_source(analytics_api, analytics_company))
            yield Loaded(pipeline, build_models(pipeline, now=analytics_company.now))
        finally:
            _drop_dataset(pipeline)


@pytest.fixture(params=["duckdb", "postgres"])
def loaded(request: pytest.FixtureRequest) -> Loaded:
    return request.getfixturevalue(f"{request.param}_loaded")  # type: ignore[no-any-return]


@pytest.fixture(params=["duckdb", "postgres"])
def entries_only(request: pytest.FixtureRequest, tmp_path: Path,
                 analytics_api: FakeClockodoServer,
                 analytics_company: FakeCompany) -> Iterator[dlt.Pipeline]:
    """A dataset holding nothing but ``entries`` (as after ``--entities entries``)."""
    if request.param == "duckdb":
        pipeline = duckdb_pipeline(tmp_path)
    else:
        pipeline = _postgres_pipeline(tmp_path)
    try:
        pipeline.run(_source(analytics_api, analytics_company).with_resources("entries"))
        yield pipeline
    finally:
        if request.param == "postgres":
            _drop_dataset(pipeline)


@pytest.fixture(scope="module")
def want(analytics_company: FakeCompany) -> dict[str, expected.Rows]:
    company = analytics_company
    entries = expected.run_entries(company)
    years = range(first_entry_day(company).year, company.now.year + 2)
    return {
        "unbilled_time": expected.unbilled_time(entries),
        "utilization": expected.utilization(company, entries, years),
        "project_budgets": expected.project_budgets(company, entries),
        "overtime_balance": expected.overtime_balance(company, years),
        "absence_summary": expected.absence_summary(company, years),
    }


def model_rows(pipeline: dlt.Pipeline, model: str) -> expected.Rows:
    keys, values = MODEL_KEYS[model], MODEL_VALUES[model]
    rows: expected.Rows = {}
    for row in query(pipeline, f"SELECT {', '.join(keys + values)} FROM {{ds}}.{model}"):
        key = tuple(row[: len(keys)])
        assert key not in rows, f"{model}: duplicate row {key}"
        rows[key] = dict(zip(values, row[len(keys):], strict=True))
    return rows


def assert_same_keys(model: str, actual: expected.Rows, wanted: expected.Rows) -> None:
    missing, extra = set(wanted) - set(actual), set(actual) - set(wanted)
    assert not missing and not extra, (
        f"{model}: missing {sorted(missing, key=str)[:5]}, extra {sorted(extra, key=str)[:5]}"
    )


def assert_value(model: str, key: Any, column: str, got: Any, want: Any) -> None:
    if isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (model, key, column)
    else:
        assert got == want, (model, key, column)


# ---------------------------------------------------------------- models against the company


CONTRACT_COLUMNS = {
    "unbilled_time": "customers_id projects_id users_id month unbilled_hours unbilled_value "
                     "entries oldest_unbilled_date",
    "utilization": "users_id teams_id period period_start worked_hours billable_hours "
                   "target_hours utilization_pct",
    "project_budgets": "projects_id customers_id budget_kind budget used remaining used_pct "
                       "runout_date",
    "overtime_balance": "users_id year target_hours worked_hours overtime_carryover_hours "
                        "overtime_reduced_hours balance_hours",
    "absence_summary": "users_id year type days approved_days holidays_quota holidays_carry "
                       "holidays_left",
}


def test_models_have_exactly_the_contract_columns(loaded: Loaded) -> None:
    schema = loaded.pipeline.dataset_name
    for model, columns in CONTRACT_COLUMNS.items():
        rows = query(loaded.pipeline, "SELECT column_name, data_type FROM "
                     "information_schema.columns WHERE table_schema = %s AND table_name = %s "
                     "ORDER BY ordinal_position", schema, model)
        assert [name for name, _ in rows] == columns.split(), model
        types = dict(rows)
        for name in ("month", "period_start", "oldest_unbilled_date", "runout_date"):
            assert types.get(name, "date").lower() == "date", (model, name)


def test_build_reports_rows_per_model(loaded: Loaded, want: dict[str, expected.Rows]) -> None:
    assert loaded.counts == {name: len(rows) for name, rows in want.items()}
    assert all(loaded.counts.values())


@pytest.mark.parametrize(
    "model", ["unbilled_time", "utilization", "overtime_balance", "absence_summary"]
)
def test_model_matches_company(loaded: Loaded, want: dict[str, expected.Rows], model: str) -> None:
    actual = model_rows(loaded.pipeline, model)
    assert_same_keys(model, actual, want[model])
    for key, row in want[model].items():
        for column, value in row.items():
            assert_value(model, key, column, actual[key][column], value)


def test_project_budgets_match_company(loaded: Loaded, want: dict[str, expected.Rows]) -> None:
    actual = model_rows(loaded.pipeline, "project_budgets")
    assert_same_keys("project_budgets", actual, want["project_budgets"])
    for key, row in want["project_budgets"].items():
        for column, value in row.items():
            if column != "days_left":
                assert_value("project_budgets", key, column, actual[key][column], value)
        runout = actual[key]["runout_date"]
        assert runout in expected.runout(NOW.date(), row["days_left"]), key
    runouts = [row["runout_date"] for row in actual.values()]
    assert None in runouts and any(runouts), "both a forecast and no forecast are exercised"
    assert {row["budget_kind"] for row in actual.values()} == {"hours", "money"}
    assert min(row["remaining"] for row in actual.values()) < 0  # an overspent budget


# ------------------------------------------------------------------------- explicit edge cases


def _finished(company: FakeCompany, key: tuple[Any, ...]) -> tuple[float, float]:
    """(hours, value) of the finished unbilled time entries of one unbilled_time group."""
    hours = value = 0.0
    for entry in company.all_entries():
        group = (entry["customers_id"], entry["projects_id"], entry["users_id"],
                 date.fromisoformat(entry["time_since"][:7] + "-01"))
        if group == key and entry["billable"] == 1 and entry["time_until"] is not None:
            hours += (entry["duration"] or 0) / 3600 if entry["type"] == 1 else 0.0
            value += expected.entry_value(entry, (entry["duration"] or 0) / 3600) or 0.0
    return hours, value


def test_running_entry_counts_up_to_now(loaded: Loaded, analytics_company: FakeCompany) -> None:
    (running,) = [e for e in analytics_company.all_entries() if e["time_until"] is None]
    assert running["users_id"] == RUNNING_USER and running["billable"] == 1
    assert "revenue" not in running  # the API gives no revenue while the clock runs
    key = (running["customers_id"], running["projects_id"], RUNNING_USER, date(2026, 1, 1))
    started = expected.parse_dt(running["time_since"])
    elapsed = (analytics_company.now - started).total_seconds() / 3600
    assert elapsed > 2.2
    row = model_rows(loaded.pipeline, "unbilled_time")[key]
    hours, value = _finished(analytics_company, key)
    assert row["unbilled_hours"] - hours == pytest.approx(elapsed)
    assert row["unbilled_value"] - value == pytest.approx(running["hourly_rate"] * elapsed)


def test_lump_sums_have_value_but_no_hours(loaded: Loaded) -> None:
    """2.5 h at 100 (no revenue given), a lump sum of 80 and 40 x 0.3; billed and
    non-billable entries of the same group stay out."""
    row = model_rows(loaded.pipeline, "unbilled_time")[LUMP_GROUP]
    assert row == {"unbilled_hours": pytest.approx(2.5), "unbilled_value": pytest.approx(342.0),
                   "entries": 3, "oldest_unbilled_date": date(2025, 10, 14)}


def test_planned_entries_are_left_out(loaded: Loaded) -> None:
    later = query(loaded.pipeline, "SELECT COUNT(*) FROM {ds}.unbilled_time "
                                   "WHERE month > DATE '2026-01-01'")
    assert later == [(0,)]
    (latest,) = query(loaded.pipeline, "SELECT MAX(period_start) FROM {ds}.utilization "
                                       "WHERE worked_hours > 0")[0]
    assert latest <= NOW.date()
    future_target = query(loaded.pipeline, "SELECT COUNT(*) FROM {ds}.utilization "
                                           f"WHERE period_start >= DATE '{PLANNED_DAY}'")
    assert future_target[0][0] > 0  # future periods keep Clockodo's target, without work


def test_half_day_and_enquired_holidays(loaded: Loaded) -> None:
    row = model_rows(loaded.pipeline, "absence_summary")[(1006, 2025, 1)]
    assert row["days"] - row["approved_days"] == pytest.approx(0.5)
    assert row["holidays_left"] == pytest.approx(
        row["holidays_quota"] + row["holidays_carry"] - row["approved_days"])
    sick = model_rows(loaded.pipeline, "absence_summary")[(1006, 2025, 4)]
    assert sick["holidays_quota"] is None and sick["holidays_left"] is None


def test_user_without_target_hours(loaded: Loaded) -> None:
    rows = {key: row for key, row in model_rows(loaded.pipeline, "utilization").items()
            if key[0] == NO_TARGET_USER}
    assert rows and all(row["target_hours"] == 0 for row in rows.values())
    assert all(row["utilization_pct"] is None for row in rows.values())
    assert all(row["worked_hours"] > 0 for row in rows.values())
    assert (NO_TARGET_USER, "month", EMPTY_MONTH) not in rows  # neither target nor work
    assert (NO_TARGET_USER, "month", date(2025, 3, 1)) in rows
    unbilled = model_rows(loaded.pipeline, "unbilled_time")
    assert not [key for key in unbilled if key[2:] == (NO_TARGET_USER, EMPTY_MONTH)]


def test_project_without_budget_is_absent(loaded: Loaded,
                                          analytics_company: FakeCompany) -> None:
    budgets = model_rows(loaded.pipeline, "project_budgets")
    without = {p["id"] for p in analytics_company.projects if p["budget"] is None}
    assert NO_BUDGET_PROJECT in without
    assert not without & {key[0] for key in budgets}


def test_week_across_new_year_sums_both_parts(loaded: Loaded,
                                               analytics_company: FakeCompany) -> None:
    """ISO week 1 of 2026 starts on Monday 2025-12-29: its target is the December part of the
    2025 report plus the January part of the 2026 report."""
    parts = []
    for year, month in ((2025, 12), (2026, 1)):
        report = next(r for r in analytics_company.user_reports(year, 2) if r["users_id"] == 1002)
        weeks = report["month_details"][month - 1]["week_details"]
        parts += [week["sum_target"] for week in weeks if week["nr"] == 1]
    assert len(parts) == 2 and all(parts)
    row = model_rows(loaded.pipeline, "utilization")[(1002, "week", date(2025, 12, 29))]
    assert row["target_hours"] == pytest.approx(sum(parts) / 3600)


# --------------------------------------------------------------- building: gaps, failure, now


def _tables(pipeline: dlt.Pipeline) -> set[str]:
    with pipeline.sql_client() as client:
        schema = client.fully_qualified_dataset_name(quote=False)
    rows = query(pipeline, "SELECT table_name FROM information_schema.tables "
                           f"WHERE table_schema = '{schema.split('.')[-1]}'")
    return {row[0] for row in rows}


def test_models_without_their_source_tables_are_skipped(entries_only: dlt.Pipeline) -> None:
    counts = build_models(entries_only, now=NOW)
    assert set(counts) == {"unbilled_time"} and counts["unbilled_time"] > 0
    built = _tables(entries_only) & {model.name for model in MODELS}
    assert built == {"unbilled_time"}
    with pytest.raises(ModelNotBuiltError, match="project_budgets"):
        render_report(entries_only, "budgets")
    page = render_report(entries_only, "unbilled", fmt="html")
    assert "utilization, which dataset" in page and "<svg" in page


def test_nothing_loaded_builds_nothing(tmp_path: Path) -> None:
    assert build_models(duckdb_pipeline(tmp_path), now=NOW) == {}


def test_failed_build_keeps_the_previous_model(entries_only: dlt.Pipeline,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    before = build_models(entries_only, now=NOW)["unbilled_time"]
    model = next(m for m in MODELS if m.name == "unbilled_time")

    def failing(ctx: SqlContext) -> str:  # fails while rows are produced, after the DROP
        return model.select(ctx).replace("MIN(entry_date)", "CAST('not a date' AS DATE)")

    monkeypatch.setattr(build_module, "MODELS", (replace(model, select=failing),))
    with pytest.raises(Exception, match="not a date"):
        build_models(entries_only, now=NOW)
    assert query(entries_only, "SELECT COUNT(*) FROM {ds}.unbilled_time") == [(before,)]
    assert {name for name in _tables(entries_only) if name.startswith("unbilled_time")} == {
        "unbilled_time"}  # and no half-built table beside it


def test_now_moves_the_running_entry(entries_only: dlt.Pipeline,
                                     analytics_company: FakeCompany) -> None:
    (running,) = [e for e in analytics_company.all_entries() if e["time_until"] is None]
    key = (running["customers_id"], running["projects_id"], RUNNING_USER, date(2026, 1, 1))
    build_models(entries_only, now=analytics_company.now)
    first = model_rows(entries_only, "unbilled_time")[key]["unbilled_hours"]
    build_models(entries_only, now=analytics_company.now + timedelta(minutes=90))
    assert model_rows(entries_only, "unbilled_time")[key]["unbilled_hours"] == pytest.approx(
        first + 1.5)


def test_runout_beyond_the_last_date_is_no_forecast(tmp_path: Path) -> None:
    """0.15 used yesterday against 25,000 left: the pace runs out after the year 9999, so
    there is no run-out date (and no date overflow)."""
    company = FakeCompany(CompanyConfig(entries=60, seed=5), now=NOW)
    for entry in company.all_entries():
        if entry["projects_id"] == 40003:  # money budget of 25,000 for the whole project
            company.delete_entry(entry["id"])
    company.add_entry(type=3, customers_id=3003, projects_id=40003, billable=1,
                      time_since=NOW - timedelta(days=1), lumpsum_services_amount=0.5,
                      lumpsum_services_price=0.3, revenue=None)
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        pipeline = duckdb_pipeline(tmp_path)
        pipeline.run(_source(server, company).with_resources("entries", "projects"))
    assert set(build_models(pipeline, now=company.now)) == {"unbilled_time", "project_budgets"}
    row = model_rows(pipeline, "project_budgets")[(40003,)]
    assert row["remaining"] == pytest.approx(25_000 - 0.15)
    assert row["runout_date"] is None


def test_warehouse_dialects_render_parseable_sql() -> None:
    """BigQuery and Snowflake are not run here; their SQL must at least parse in their own
    dialect and use none of the DuckDB/PostgreSQL spellings."""
    for name in ("bigquery", "snowflake"):
        dialect = DIALECTS[name]
        ctx = SqlContext(dialect, lambda table: f"clockodo.{table}", NOW)
        for model in MODELS:
            (statement,) = dialect.replace_table(f"clockodo.{model.name}", model.select(ctx))
            assert statement.startswith("CREATE OR REPLACE TABLE")
            sqlglot.parse_one(statement, read=name)
            for spelling in ("AT TIME ZONE", "epoch(", "make_date(", "DOUBLE PRECISION", "::"):
                assert spelling not in statement, (name, model.name, spelling)


# --------------------------------------------------------------------------------- reports


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_report_in_table_csv_and_json(duckdb_loaded: Loaded,
                                            want: dict[str, expected.Rows]) -> None:
    months = sum(1 for key in want["utilization"] if key[1] == "month")
    sizes = {"unbilled": len(want["unbilled_time"]), "utilization": months,
             "budgets": len(want["project_budgets"]), "overtime": len(want["overtime_balance"])}
    pipeline = duckdb_loaded.pipeline
    for name, size in sizes.items():
        rows = _csv(render_report(pipeline, name, fmt="csv"))
        assert len(rows) == size, name
        document = json.loads(render_report(pipeline, name, fmt="json"))
        assert document["report"] == name and len(document["rows"]) == size
        assert list(document["rows"][0]) == list(rows[0])
        table = render_report(pipeline, name).splitlines()
        assert f"; {size} rows)" in table[0] and len(table) == size + 3
        page = _parse_html(render_report(pipeline, name, fmt="html"))
        details = list(page.iter("table"))[-1]  # after the alerts at the top
        assert len(list(details.iter("tr"))) == size + 1  # the details table and its header
    names = dict(query(pipeline, "SELECT id, name FROM {ds}.projects"))
    budgets = json.loads(render_report(pipeline, "budgets", fmt="json"))["rows"]
    for row in budgets:
        wanted = want["project_budgets"][(row["projects_id"],)]
        assert row["used"] == pytest.approx(wanted["used"], abs=0.005)
        assert row["project"] == names[row["projects_id"]]


def test_report_filters_select_rows(duckdb_loaded: Loaded, want: dict[str, expected.Rows],
                                    analytics_company: FakeCompany) -> None:
    pipeline = duckdb_loaded.pipeline
    team_202 = {u["id"] for u in analytics_company.users if u["teams_id"] == 202}

    def unbilled(**filters: Any) -> set[tuple[Any, ...]]:
        rows = _csv(render_report(pipeline, "unbilled", fmt="csv", **filters))
        return {(int(r["customers_id"]), int(r["projects_id"]) if r["projects_id"] else None,
                 int(r["users_id"]), date.fromisoformat(r["month"])) for r in rows}

    keys = set(want["unbilled_time"])
    assert unbilled(month="2025-10") == {k for k in keys if k[3] == date(2025, 10, 1)}
    quarter = {date(2025, m, 1) for m in (10, 11, 12)}
    assert unbilled(quarter="2025-q4") == {k for k in keys if k[3] in quarter}
    assert unbilled(customer="3006", project=40006) == {
        k for k in keys if k[0] == 3006 and k[1] == 40006}
    assert unbilled(team=202) == {k for k in keys if k[2] in team_202}
    utilization = _csv(render_report(pipeline, "utilization", fmt="csv", month="2025-12",
                                     team=202))
    assert {int(r["users_id"]) for r in utilization} == {
        k[0] for k in want["utilization"]
        if k[1:] == ("month", date(2025, 12, 1)) and k[0] in team_202}
    budgets = _csv(render_report(pipeline, "budgets", fmt="csv", customer=3003))
    assert {int(r["projects_id"]) for r in budgets} == {40003, 40011}
    overtime = _csv(render_report(pipeline, "overtime", fmt="csv", team=202))
    assert {int(r["users_id"]) for r in overtime} == team_202


@pytest.mark.parametrize(("name", "filters", "words"), [
    ("unbilled", {"month": "2025-13"}, ("month", "2026-03")),
    ("unbilled", {"month": "2025/01"}, ("month", "YYYY-MM")),
    ("utilization", {"quarter": "2025-Q5"}, ("quarter", "2026-Q1")),
    ("unbilled", {"customer": "abc"}, ("customer", "3001")),
    ("budgets", {"project": -3}, ("project", "40001")),
    ("utilization", {"team": True}, ("team", "201")),
    ("unbilled", {"month": "2025-01", "quarter": "2025-Q1"}, ("month", "quarter")),
    ("budgets", {"month": "2025-01"}, ("budgets", "month")),
    ("overtime", {"customer": 3001}, ("overtime", "customer")),
    ("utilization", {"project": 40001}, ("utilization", "project")),
    ("revenue", {}, ("report", "unbilled")),
    ("unbilled", {"fmt": "xml"}, ("format", "csv")),
])
def test_bad_filters_are_refused(duckdb_loaded: Loaded, name: str, filters: dict[str, Any],
                                 words: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as error:
        render_report(duckdb_loaded.pipeline, name, **filters)
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words), message


def test_write_html_report_refuses_unknown_filters(duckdb_loaded: Loaded, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown filter 'week'; the filters are month"):
        write_html_report(duckdb_loaded.pipeline, tmp_path / "report.html", week=5)
    assert not (tmp_path / "report.html").exists()


def _parse_html(text: str) -> ET.Element:
    """The page is well-formed XML; parsing proves it and gives a tree to inspect."""
    assert text.startswith("<!DOCTYPE html>")
    for remote in ("<script", "<link", "src=", "href=", "url(", "@import", "http:", "https:"):
        assert remote not in text, f"page is not self-contained: {remote}"
    return ET.fromstring(text)


def test_html_report_is_one_self_contained_page(duckdb_loaded: Loaded) -> None:
    page = render_report(duckdb_loaded.pipeline, "budgets", fmt="html", customer=3006)
    root = _parse_html(page)
    headings = [h.text for h in root.iter("h2")]
    assert headings == ["Alerts", "Unbilled value by project", "Utilization", "Budget burn",
                        "Details: Project budgets"]
    assert len(list(root.iter("svg"))) == 4  # unbilled, person, team, budgets
    assert "Smith&#x27;s Bakery Ltd" in page and "Smith's Bakery" not in page  # escaped
    *_, body = root.iter("tbody")  # the last: the alerts table comes first
    assert [[cell.text for cell in row][:2] for row in body] == [
        ["App « Mobile » 2", "Smith's Bakery Ltd"]]  # the customer's one project with a budget


def test_write_html_report_applies_filters_per_section(duckdb_loaded: Loaded, tmp_path: Path,
                                                       want: dict[str, expected.Rows]) -> None:
    path = write_html_report(duckdb_loaded.pipeline, tmp_path / "out" / "report.html",
                             month="2025-10", customer=3006)
    root = _parse_html(path.read_text(encoding="utf-8"))
    # the first summary is the alerts'
    summaries = [p.text or "" for p in root.iter("p") if p.get("class") == "summary"][1:]
    value = sum(row["unbilled_value"] for key, row in want["unbilled_time"].items()
                if key[0] == 3006 and key[3] == date(2025, 10, 1))
    assert summaries[0].startswith(f"2025-10: {value:,.2f} unbilled")
    assert summaries[1].startswith("2025-10: billable hours")  # month applies, customer not
    bars = [title.text or "" for title in root.iter("title")]
    assert [text for text in bars if "% · " in text and "of 120.0 h" in text] == [
        next(text for text in bars if text.startswith("App « Mobile » 2 · Smith's Bakery Ltd"))]
