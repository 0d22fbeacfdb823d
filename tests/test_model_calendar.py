"""The models' calendar is the `timezone` option's: an entry at 00:30 on the 1st in Berlin (22:30
UTC the day before) belongs to that month with `Europe/Berlin` and to the previous one in UTC.

Loaded once per warehouse from the fake API; the models are built under both calendars (through
the option, as a user sets it) and compared with the oracle of `tests/analytics_expected.py`.
The warehouses' session time zones are far from both, so neither can leak in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import dlt
import duckdb
import pytest
import sqlglot
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from clockodo_source import clockodo_source
from clockodo_source.analytics import build_models, render_report
from clockodo_source.analytics.dialect import DIALECTS
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests import analytics_expected as expected
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, drop_dataset, postgres_pipeline
from tests.test_analytics import FAR_ZONE, assert_same_keys, assert_value, model_rows

NOW = datetime(2026, 1, 2, 10, 15, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
#: 00:30 on 1 October 2025 in Berlin (summer time, UTC+2)
EDGE = datetime(2025, 10, 1, 0, 30, tzinfo=BERLIN)
OCTOBER, SEPTEMBER = date(2025, 10, 1), date(2025, 9, 1)


@dataclass(frozen=True)
class EdgeCompany:
    company: FakeCompany
    #: the entry at 00:30 Berlin time on 1 October
    edge: dict[str, Any]

    def group(self, month: date) -> tuple[Any, ...]:
        """The edge entry's unbilled_time key in `month`."""
        return (self.edge["customers_id"], self.edge["projects_id"], self.edge["users_id"],
                month)

    def wanted(self, zone: tzinfo) -> dict[str, expected.Rows]:
        """unbilled_time and utilization as the fake's data says, in the calendar of `zone`."""
        entries = expected.run_entries(self.company, zone)
        years = range(first_entry_day(self.company).year, self.company.now.year + 2)
        return {"unbilled_time": expected.unbilled_time(entries),
                "utilization": expected.utilization(self.company, entries, years)}


@pytest.fixture(scope="module")
def edge_company() -> EdgeCompany:
    company = FakeCompany(CompanyConfig(entries=600, seed=11), now=NOW)
    edge = company.add_entry(time_since=EDGE, time_until=EDGE + timedelta(hours=1), billable=1)
    return EdgeCompany(company, edge)


@pytest.fixture(scope="module")
def edge_api(edge_company: EdgeCompany) -> Iterator[FakeClockodoServer]:
    with FakeClockodoServer(edge_company.company, api_user=API_USER, api_key=API_KEY) as server:
        yield server


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def edge_loaded(request: pytest.FixtureRequest, edge_api: FakeClockodoServer,
                edge_company: EdgeCompany, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[dlt.Pipeline]:
    base = tmp_path_factory.mktemp(f"calendar_{request.param}")
    source = clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=edge_api.url,
                             start_date=first_entry_day(edge_company.company).isoformat())
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "duckdb":
            credentials = DuckDbCredentials(str(base / "calendar.duckdb"),
                                            session_timezone=FAR_ZONE)
            pipeline = dlt.pipeline(pipeline_name="calendar_duckdb", dataset_name="clockodo",
                                    destination=dlt.destinations.duckdb(credentials),
                                    pipelines_dir=str(base / "pipelines"))
        else:
            patch.setenv("PGTZ", FAR_ZONE)
            pipeline = postgres_pipeline(base, "calendar_postgres")
        try:
            pipeline.run(source.with_resources("entries", "users", "user_reports"))
            yield pipeline
        finally:
            drop_dataset(pipeline)


def _unbilled_entries(rows: expected.Rows, key: tuple[Any, ...]) -> int:
    return int(rows[key]["entries"]) if key in rows else 0


@pytest.mark.parametrize("zone_name", ["Europe/Berlin", None])
def test_models_and_reports_follow_the_timezone_option(
    edge_loaded: dlt.Pipeline, edge_company: EdgeCompany, monkeypatch: pytest.MonkeyPatch,
    zone_name: str | None,
) -> None:
    if zone_name:
        monkeypatch.setenv("SOURCES__CLOCKODO__TIMEZONE", zone_name)
    berlin = zone_name is not None
    build_models(edge_loaded, now=edge_company.company.now)
    wanted = edge_company.wanted(BERLIN if berlin else UTC)
    for model, rows in wanted.items():
        actual = model_rows(edge_loaded, model)
        assert_same_keys(model, actual, rows)
        for key, row in rows.items():
            for column, value in row.items():
                assert_value(model, key, column, actual[key][column], value)
    # the edge entry counts in October in Berlin, in September in UTC
    unbilled = model_rows(edge_loaded, "unbilled_time")
    other = edge_company.wanted(UTC if berlin else BERLIN)["unbilled_time"]
    for month, gains in ((OCTOBER, berlin), (SEPTEMBER, not berlin)):
        key = edge_company.group(month)
        difference = _unbilled_entries(unbilled, key) - _unbilled_entries(other, key)
        assert difference == (1 if gains else -1), month
    # the report reads the model, so its month filter is a local month too
    report = json.loads(render_report(edge_loaded, "unbilled", month="2025-10", fmt="json"))
    key = edge_company.group(OCTOBER)
    found = [row["entries"] for row in report["rows"]
             if (row["customers_id"], row["projects_id"], row["users_id"]) == key[:3]]
    assert sum(found) == _unbilled_entries(unbilled, key)


def test_build_models_takes_a_zone_argument(edge_loaded: dlt.Pipeline,
                                           edge_company: EdgeCompany) -> None:
    key = edge_company.group(OCTOBER)
    build_models(edge_loaded, now=edge_company.company.now, zone=BERLIN)
    berlin = _unbilled_entries(model_rows(edge_loaded, "unbilled_time"), key)
    build_models(edge_loaded, now=edge_company.company.now)  # the option is unset: UTC
    assert berlin == _unbilled_entries(model_rows(edge_loaded, "unbilled_time"), key) + 1


@pytest.mark.parametrize("name", ["bigquery", "snowflake"])
def test_warehouse_local_dates_mean_the_same_day(name: str) -> None:
    """BigQuery and Snowflake are not run here: their local-date SQL, read by sqlglot in their
    own dialect and run in DuckDB (in a far session time zone), gives the Berlin day."""
    dialect = DIALECTS[name]
    sql = dialect.local_day(dialect.timestamp(EDGE), "Europe/Berlin")
    (translated,) = sqlglot.transpile(f"SELECT {sql}", read=name, write="duckdb")
    with duckdb.connect() as connection:
        connection.execute(f"SET TimeZone = '{FAR_ZONE}'")
        assert connection.execute(translated).fetchall() == [(OCTOBER,)]
    assert dialect.local_day("t", "UTC") == dialect.utc_day("t")  # UTC keeps the fast path
