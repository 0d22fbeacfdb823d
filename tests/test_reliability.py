"""Reliability and security: faults, rate budgets, clear failures, nothing lost, no leaks.

Runs real pipelines into DuckDB files against the fake Clockodo API with injected faults.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from clockodo_source import clockodo_source
from clockodo_source.app.pipelines import parse_entities
from clockodo_source.errors import ConfigurationError
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.limits import Faults, RateLimits
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.resources import entries as entry_scan
from clockodo_source.settings import CATALOG, Partition
from tests.expected import expected_keys, first_entry_day
from tests.helpers import API_KEY, API_USER, duckdb_pipeline, stored_keys
from tests.test_change_capture import assert_exact, content_tables, table_digest


@pytest.fixture
def server() -> Iterator[FakeClockodoServer]:
    company = FakeCompany(CompanyConfig(entries=600, seed=21))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as running:
        yield running


def source_for(server: FakeClockodoServer, **options: Any) -> Any:
    settings: dict[str, Any] = {
        "api_user": API_USER, "api_key": API_KEY, "base_url": server.url,
        "start_date": first_entry_day(server.company).isoformat(),
        "backoff_seconds": 0.01, "retry_after_floor_seconds": 0.01,
    }
    return clockodo_source(**{**settings, **options})


def cli(args: list[str], cwd: Path, server: FakeClockodoServer | None,
        **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false",
                   "DLT_DATA_DIR": str(cwd / "dlt"),
                   "SOURCES__CLOCKODO__API_USER": API_USER,
                   "SOURCES__CLOCKODO__API_KEY": API_KEY,
                   "SOURCES__CLOCKODO__BACKOFF_SECONDS": "0.01",
                   "SOURCES__CLOCKODO__RETRY_AFTER_FLOOR_SECONDS": "0.01"}
    if server is not None:
        environment["SOURCES__CLOCKODO__BASE_URL"] = server.url
        environment["SOURCES__CLOCKODO__START_DATE"] = first_entry_day(
            server.company).isoformat()
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "clockodo_source.app.cli", *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=300,
                          check=False)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(
        "clockodo-pipeline: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_loads_exactly_through_429s_5xx_and_dropped_connections(
        server: FakeClockodoServer, tmp_path: Path) -> None:
    server.faults = Faults(rate_429=0.2, retry_after=(None, 0), rate_500=0.03, rate_502=0.02,
                           drop_rate=0.02, seed=4)
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(source_for(server, max_attempts=12))
    statuses = [record.status for record in server.requests]
    assert statuses.count(429) >= 10 and statuses.count(500) + statuses.count(502) >= 2
    assert 0 in statuses  # a dropped connection
    assert_exact(pipeline, server.company)


def test_client_side_budget_is_never_exceeded(server: FakeClockodoServer,
                                              tmp_path: Path) -> None:
    server.limits = RateLimits(budgets=[(15, 1.0)], entries_enhanced=None)
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(source_for(server, rate_budgets=[[15, 1.0]]))
    assert len(server.requests) > 3 * 15  # the budget binds over several windows
    assert server.budget_violations == 0
    assert_exact(pipeline, server.company)


def test_small_answers_are_requested_at_once(server: FakeClockodoServer,
                                             tmp_path: Path) -> None:
    """Master-data lists and per-year tables are about one request each (a year): all are
    requested when the first table starts, none waits for the answer to another; on a first
    run the years wait for the one answer that tells the account's first year with data (the
    users' start dates), so they come one round trip after the lists, all at once."""
    latency = 1.0
    small = [entity for entity in CATALOG
             if entity.partition in (Partition.NONE, Partition.YEARS)]
    paths = {entity.path for entity in small}
    server.faults = Faults(latency=latency, only_paths=tuple(paths))
    pipeline = duckdb_pipeline(tmp_path)
    tables = [entity.name for entity in small]
    pipeline.run(source_for(server, concurrency=32).with_resources(*tables))
    received = sorted(record.received for record in server.requests if record.path in paths)
    yearly = [entity for entity in small if entity.partition is Partition.YEARS]
    assert len(received) >= len(small) + len(yearly)  # two years or more of each
    year_paths = {entity.path for entity in yearly}
    for wave in (paths - year_paths, year_paths):
        times = [record.received for record in server.requests if record.path in wave]
        assert max(times) - min(times) < latency
    assert received[-1] - received[0] < 2 * latency
    before = len(server.requests)  # the next run knows the first year: one wave
    pipeline.run(source_for(server, concurrency=32).with_resources(*tables))
    again = sorted(record.received for record in server.requests[before:]
                   if record.path in paths)
    assert again[-1] - again[0] < latency
    expected = expected_keys(server.company, first_entry_day(server.company))
    for entity in small:
        assert sorted(stored_keys(pipeline, entity.name)) == sorted(expected[entity.name])


def test_entry_windows_cost_one_round_trip_each(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A window's later pages wait for its first page, which holds the page count; the first
    pages of the windows after it are requested meanwhile, not one window after another."""
    latency = 0.5
    monkeypatch.setattr(entry_scan, "ROWS_PER_WINDOW", 250)  # many windows of a small account
    company = FakeCompany(CompanyConfig(entries=2500, seed=5))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        server.faults = Faults(latency=latency, only_paths=("/v2/entries",))
        pipeline = duckdb_pipeline(tmp_path)
        pipeline.run(source_for(server).with_resources("entries"))
    first_pages = sorted(record.received for record in server.requests
                         if record.path == "/v2/entries" and record.query.get("page") == ["1"])
    windows = first_pages[1:]  # after the request that sized them
    assert len(windows) > entry_scan.FIRST_PAGES_AHEAD
    assert windows[entry_scan.FIRST_PAGES_AHEAD - 1] - windows[0] < latency
    expected = expected_keys(company, first_entry_day(company))["entries"]
    assert sorted(stored_keys(pipeline, "entries")) == sorted(expected)


def test_forbidden_table_is_skipped_and_keeps_its_rows(server: FakeClockodoServer,
                                                       tmp_path: Path) -> None:
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(source_for(server))
    server.forced_status["/v4/projects"] = 403
    server.forced_status["/v4/absences"] = 403
    pipeline.run(source_for(server))
    expected = expected_keys(server.company, first_entry_day(server.company))
    for table in ("projects", "customers_projects", "absences", "entries", "users"):
        assert set(stored_keys(pipeline, table)) == expected[table], table
    with pytest.raises(Exception, match="403"):
        pipeline.run(source_for(server, strict=True))


def test_failure_messages_and_exit_codes(server: FakeClockodoServer, tmp_path: Path) -> None:
    wrong_key = one_line(cli(["run"], tmp_path, server, SOURCES__CLOCKODO__API_KEY="nope"))
    assert "401" in wrong_key and "sources.clockodo.api_user" in wrong_key
    assert "SOURCES__CLOCKODO__API_KEY" in wrong_key

    server.forced_status["/v4/projects"] = 403
    forbidden = one_line(cli(["run", "--strict"], tmp_path, server))
    assert "403" in forbidden and "/v4/projects" in forbidden and "projects" in forbidden
    skipped = cli(["run", "--entities", "projects,teams"], tmp_path, server)
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped projects" in skipped.stdout

    server.forced_status["/v4/projects"] = 410
    removed = one_line(cli(["run", "--entities", "projects"], tmp_path, server))
    assert "410" in removed and "removed" in removed

    server.forced_status.clear()
    server.faults = Faults(rate_502=1.0, only_paths="/v3/teams")
    html = one_line(cli(["run", "--entities", "teams"], tmp_path, server,
                        SOURCES__CLOCKODO__MAX_ATTEMPTS="2"))
    assert "502" in html and "/v3/teams" in html and "non-JSON" in html

    unreachable = one_line(cli(["run"], tmp_path, None,
                               SOURCES__CLOCKODO__BASE_URL="http://127.0.0.1:9/api",
                               SOURCES__CLOCKODO__MAX_ATTEMPTS="1"))
    assert "http://127.0.0.1:9/api" in unreachable


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("SOURCES__CLOCKODO__START_DATE", "2024-13-45", "start_date"),
        ("SOURCES__CLOCKODO__END_DATE", "2019-01-01", "end_date"),
        ("SOURCES__CLOCKODO__LOOKBACK_DAYS", "-3", "lookback_days"),
        ("SOURCES__CLOCKODO__FUTURE_DAYS", "-1", "future_days"),
        ("SOURCES__CLOCKODO__WINDOW", "fortnight", "window"),
        ("SOURCES__CLOCKODO__EXTERNAL_APPLICATION", "x" * 51, "external_application"),
        ("SOURCES__CLOCKODO__BASE_URL", "ftp://example.com/api", "base_url"),
        ("SOURCES__CLOCKODO__CONCURRENCY", "0", "concurrency"),
    ],
)
def test_bad_options_fail_before_any_request(server: FakeClockodoServer, tmp_path: Path,
                                             variable: str, value: str, named: str) -> None:
    env = {variable: value}
    if named == "end_date":
        env["SOURCES__CLOCKODO__START_DATE"] = "2020-01-01"
    line = one_line(cli(["run"], tmp_path, server, **env))
    assert named in line and "e.g." in line, line
    assert server.requests == []


def test_bad_cli_values_name_the_option(tmp_path: Path) -> None:
    window = one_line(cli(["backfill", "--start-date", "2024-01-01", "--window", "decade"],
                          tmp_path, None))
    assert "--window" in window and "month" in window
    order = one_line(cli(["backfill", "--start-date", "2024-02-01", "--end-date",
                          "2024-01-01"], tmp_path, None))
    assert "--end-date" in order
    with pytest.raises(ConfigurationError, match="valid: entries,"):
        parse_entities("entries,nope")


def test_failed_runs_leave_loaded_data_unchanged(server: FakeClockodoServer,
                                                 tmp_path: Path) -> None:
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(source_for(server))
    digests = {table: table_digest(pipeline, table) for table in content_tables(pipeline)}
    server.company.add_entry()
    with pytest.raises(Exception, match="401"):
        pipeline.run(source_for(server, api_key="wrong"))
    server.forced_status["/v2/workTimes"] = 500
    with pytest.raises(Exception, match="500"):
        pipeline.run(source_for(server, max_attempts=2))
    assert {table: table_digest(pipeline, table) for table in content_tables(pipeline)} == digests
    server.forced_status.clear()
    pipeline.run(source_for(server))
    assert_exact(pipeline, server.company)


def _files_containing(root: Path, secret: bytes) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()
            and secret in path.read_bytes()]


def test_api_key_never_leaks(server: FakeClockodoServer, tmp_path: Path) -> None:
    debug = {"RUNTIME__LOG_LEVEL": "DEBUG"}
    ok = cli(["run", "--verbose"], tmp_path, server, **debug)
    assert ok.returncode == 0, ok.stderr
    server.forced_status["/v3/users"] = 500
    failed = cli(["run", "--entities", "users"], tmp_path, server,
                 SOURCES__CLOCKODO__MAX_ATTEMPTS="1", **debug)
    assert failed.returncode != 0
    verbose = cli(["run", "--entities", "users", "--verbose"], tmp_path, server,
                  SOURCES__CLOCKODO__MAX_ATTEMPTS="1", **debug)
    assert "Traceback" in verbose.stderr
    for result in (ok, failed, verbose):
        assert API_KEY not in result.stdout + result.stderr
    assert _files_containing(tmp_path, API_KEY.encode()) == []
    assert any(tmp_path.joinpath("dlt").rglob("trace.pickle"))


def test_tables_exist_for_every_catalog_entity_after_faulty_run(
        server: FakeClockodoServer, tmp_path: Path) -> None:
    server.faults = Faults(latency=0.002, rate_429=0.1, retry_after=(0,), seed=9)
    pipeline: dlt.Pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(source_for(server, concurrency=8))
    assert {entity.name for entity in CATALOG} <= set(content_tables(pipeline))
