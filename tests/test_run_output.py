"""What a scheduler and an operator see of runs: `status` with the last successful load and the
last failure, `--json` summaries, `--quiet` runs and `--version`. Real CLI subprocesses against
the fake API on loopback, real DuckDB files."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb

from clockodo_source.fake.company import FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import ENTITIES
from tests.expected import first_entry_day
from tests.helpers import fake_api_env
from tests.test_cli import cli


def _env(server: FakeClockodoServer, tmp_path: Path, start: str, **extra: str) -> dict[str, str]:
    return fake_api_env(server.url, SOURCES__CLOCKODO__START_DATE=start,
                        SOURCES__CLOCKODO__BACKOFF_SECONDS="0.01",
                        SOURCES__CLOCKODO__MAX_ATTEMPTS="2", DLT_DATA_DIR=str(tmp_path / "dlt"),
                        **extra)


def _files(*roots: Path) -> set[Path]:
    return {path for root in roots if root.exists() for path in root.rglob("*")}


def _table_lines(stdout: str) -> dict[str, list[str]]:
    """`status` table rows by table name."""
    return {line.split()[0]: line.split() for line in stdout.splitlines()
            if line.split() and line.split()[0] in ENTITIES}


def _line(stdout: str, prefix: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(prefix))


def test_status_shows_the_last_success_and_apart_the_last_failure(
        fresh_api: FakeClockodoServer, tmp_path: Path) -> None:
    """Also: `status` of a pipeline that never loaded here is an error that creates nothing
    (neither state folders nor a DuckDB file), and `--entities` filters the tables."""
    env = _env(fresh_api, tmp_path, first_entry_day(fresh_api.company).isoformat())
    never = cli("status", cwd=tmp_path, env=env)
    assert never.returncode == 1
    assert never.stderr.startswith("clockodo-pipeline: error: no pipeline 'clockodo_pipeline'")
    assert never.stderr.count("\n") == 1 and "--pipeline-name" in never.stderr
    assert _files(tmp_path) == set()

    tables = "customers,projects,entries"
    assert cli("run", "--entities", tables, cwd=tmp_path, env=env).returncode == 0
    fresh_api.forced_status["/v2/entries"] = 500
    failed = cli("run", "--entities", tables, cwd=tmp_path, env=env)
    assert failed.returncode == 1
    cause = failed.stderr.strip().splitlines()[-1].removeprefix("clockodo-pipeline: error: ")
    assert "500" in cause

    status = cli("status", "--entities", "entries,projects", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    assert list(_table_lines(status.stdout)) == ["entries", "projects"]
    assert _table_lines(status.stdout)["projects"][1] == str(len(fresh_api.company.projects))
    loaded = datetime.fromisoformat(
        _line(status.stdout, "last successful load: ").removeprefix("last successful load: "))
    failure = _line(status.stdout, "last failed run: ").removeprefix("last failed run: ")
    at, _, shown_cause = failure.partition(": ")
    assert shown_cause == cause
    assert datetime.fromisoformat(at) > loaded
    assert "last run finished" not in status.stdout
    as_json = json.loads(cli("status", "--json", cwd=tmp_path, env=env).stdout)
    assert [table["table"] for table in as_json["tables"]] == list(ENTITIES)
    assert as_json["last_failure"] == {"at": datetime.fromisoformat(at).isoformat(),
                                       "cause": cause}
    assert datetime.fromisoformat(as_json["last_successful_load"]) == loaded

    fresh_api.forced_status.clear()
    assert cli("run", "--entities", tables, cwd=tmp_path, env=env).returncode == 0
    before = _files(tmp_path)
    after = cli("status", "--entities", "customers", cwd=tmp_path, env=env).stdout
    assert datetime.fromisoformat(_line(after, "last successful load: ").split(": ", 1)[1]) \
        > datetime.fromisoformat(at)
    assert _line(after, "last failed run: ") == f"last failed run: {at} (a later load " \
        f"succeeded): {cause}"
    typo = cli("status", "--pipeline-name", "clockodo_pipelin", cwd=tmp_path, env=env)
    assert typo.returncode == 1
    assert typo.stderr.startswith("clockodo-pipeline: error: no pipeline 'clockodo_pipelin'")
    assert "Traceback" not in typo.stderr
    assert _files(tmp_path) == before


def _stored(database: Path, table: str) -> int:
    with duckdb.connect(str(database), read_only=True) as connection:
        row = connection.execute(f"SELECT COUNT(*) FROM clockodo.{table}").fetchone()
    assert row is not None
    return int(row[0])


def _one_object(stdout: str) -> dict[str, Any]:
    document = json.loads(stdout)  # the whole of stdout, nothing before or after
    assert isinstance(document, dict)
    return document


def _check_summary(summary: dict[str, Any], database: Path, tables: list[str]) -> None:
    assert list(summary["tables"]) == tables
    for table in tables:
        figures = summary["tables"][table]
        assert set(figures) == {"written", "added", "updated", "removed", "stored"}
        assert figures["stored"] == _stored(database, table), table
    assert {"requests", "retries", "429s", "waited_seconds", "duration_seconds",
            "exit_status"} <= set(summary)
    assert summary["exit_status"] == 0 and summary["duration_seconds"] > 0
    assert summary["destination"] == "duckdb" and summary["dataset"] == "clockodo"


def test_run_json_is_one_object_with_the_loaded_counts(
        api: FakeClockodoServer, company: FakeCompany, tmp_path: Path) -> None:
    env = _env(api, tmp_path, first_entry_day(company).isoformat())
    database = tmp_path / "clockodo_pipeline.duckdb"
    sent = api.request_count()
    result = cli("run", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    summary = _one_object(result.stdout)
    _check_summary(summary, database, list(ENTITIES))
    assert summary["requests"] == api.request_count() - sent
    assert (summary["retries"], summary["429s"]) == (0, 0)
    entries = summary["tables"]["entries"]
    assert entries == {"written": len(company.all_entries()), "added": len(company.all_entries()),
                       "updated": 0, "removed": 0, "stored": len(company.all_entries())}
    assert summary["models"]["unbilled_time"] > 0

    again = cli("reconcile", "--json", "--entities", "entries,projects", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    _check_summary(_one_object(again.stdout), database, ["entries", "projects"])

    with_alerts = cli("run", "--json", "--alerts", "--entities", "customers", cwd=tmp_path,
                      env=env)
    checked = _one_object(with_alerts.stdout)
    assert checked["exit_status"] == with_alerts.returncode
    assert isinstance(checked["alerts"], list) and checked["tables"]["customers"]["stored"] == \
        len(company.customers)


def test_backfill_json_is_one_object(api: FakeClockodoServer, company: FakeCompany,
                                     tmp_path: Path) -> None:
    first = first_entry_day(company)
    env = _env(api, tmp_path, first.isoformat())
    result = cli("backfill", "--json", "--start-date", first.isoformat(), "--end-date",
                 (first + timedelta(days=45)).isoformat(), "--entities", "entries,users",
                 cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    summary = _one_object(result.stdout)
    _check_summary(summary, tmp_path / "clockodo_pipeline.duckdb", ["entries", "users"])
    assert 0 < summary["tables"]["entries"]["stored"] < len(company.all_entries())


def test_quiet_run_prints_nothing_unless_something_is_wrong(
        fresh_api: FakeClockodoServer, tmp_path: Path) -> None:
    env = _env(fresh_api, tmp_path, first_entry_day(fresh_api.company).isoformat())
    quiet = cli("run", "--quiet", cwd=tmp_path, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert _stored(tmp_path / "clockodo_pipeline.duckdb", "entries") == \
        len(fresh_api.company.all_entries())

    fresh_api.forced_status["/v3/teams"] = 403  # a table the API user may not read: a warning
    warned = cli("run", "--quiet", "--entities", "teams,users", cwd=tmp_path, env=env)
    assert warned.returncode == 0, warned.stderr
    assert warned.stdout == ""
    assert warned.stderr.splitlines() == [
        "clockodo-pipeline: skipped teams: the API user may not read /v3/teams (403)"]

    failed = cli("run", "--quiet", cwd=tmp_path, env={**env, "SOURCES__CLOCKODO__API_KEY": "no"})
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.startswith("clockodo-pipeline: error: Clockodo rejected the credentials")


def test_version(tmp_path: Path) -> None:
    result = cli("--version", cwd=tmp_path, env={"DLT_DATA_DIR": os.fspath(tmp_path / "dlt")})
    assert result.returncode == 0
    assert result.stdout.strip() == f"clockodo-pipeline {version('clockodo-dlt')}"


def test_all_accounts_json_is_one_object_with_a_summary_per_account(tmp_path: Path) -> None:
    """`demo --accounts 2` runs as `run --all-accounts` does: one object, a summary each."""
    result = cli("demo", "--accounts", "2", "--entries", "150", "--json", cwd=tmp_path,
                 env={"DLT_DATA_DIR": os.fspath(tmp_path / "dlt")})
    assert result.returncode == 0, result.stderr
    document = _one_object(result.stdout)
    assert document["exit_status"] == 0 and list(document["accounts"]) == ["demo_1", "demo_2"]
    with duckdb.connect(str(tmp_path / "clockodo_demo.duckdb"), read_only=True) as connection:
        for name, summary in document["accounts"].items():
            assert summary["dataset"] == f"clockodo_{name}" and summary["exit_status"] == 0
            for table, figures in summary["tables"].items():
                row = connection.execute(
                    f"SELECT COUNT(*) FROM clockodo_{name}.{table}").fetchone()
                assert row is not None and figures["stored"] == row[0], (name, table)
