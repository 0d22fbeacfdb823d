"""`clockodo-pipeline` as a user runs it: a real subprocess, real DuckDB file, fake API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from clockodo_source.fake.company import FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import ENTITIES
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "clockodo_source.app.cli", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False,
    )


def tables_in(path: Path, dataset: str = "clockodo") -> set[str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [dataset]
        ).fetchall()
    return {row[0] for row in rows}


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "clockodo-pipeline"
    assert script.exists()
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "demo" in result.stdout and "reconcile" in result.stdout


def test_demo_loads_every_table_and_repeats(tmp_path: Path) -> None:
    for attempt in range(2):
        result = cli("demo", "--entries", "400", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "customers_projects" in result.stdout
        assert "requests:" in result.stdout
        database = tmp_path / "clockodo_pipeline.duckdb"
        assert str(database) in result.stdout
        assert set(ENTITIES) <= tables_in(database), attempt
        assert {"unbilled_time", "utilization", "project_budgets"} <= tables_in(database)
        assert "models: unbilled_time" in result.stdout
        assert (tmp_path / "clockodo_report.html").read_text().count("<svg") >= 3
    other = tmp_path / "elsewhere"
    other.mkdir()
    result = cli("demo", "--entries", "300", cwd=other)  # same pipeline, state from tmp_path
    assert result.returncode == 0, result.stderr
    assert set(ENTITIES) <= tables_in(other / "clockodo_pipeline.duckdb")
    assert str(other / "clockodo_pipeline.duckdb") in result.stdout


def test_run_then_status_with_env_config(api: FakeClockodoServer, company: FakeCompany,
                                         tmp_path: Path) -> None:
    env = {
        "SOURCES__CLOCKODO__API_USER": API_USER,
        "SOURCES__CLOCKODO__API_KEY": API_KEY,
        "SOURCES__CLOCKODO__BASE_URL": api.url,
    }
    start = first_entry_day(company).isoformat()
    result = cli("run", "--start-date", start, "--dataset", "crm", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert set(ENTITIES) <= tables_in(tmp_path / "clockodo_pipeline.duckdb", "crm")
    assert API_KEY not in result.stdout + result.stderr
    status = cli("status", "--dataset", "crm", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    assert "entries" in status.stdout and "last_scan" not in status.stdout
    lines = {line.split()[0]: line for line in status.stdout.splitlines() if line}
    entries = lines["entries"].split()
    assert entries[1].replace(",", "") == str(len(company.all_entries()))
    newest = max(row["time_last_change"] for row in company.all_entries())
    assert entries[-1] == datetime.fromisoformat(newest).isoformat()
    assert entries[2] != "-" and entries[3] != "-"  # last scan, last reconcile


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    result = cli("run", "--entities", "entries,bogus", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "bogus" in result.stderr and "valid:" in result.stderr
    same = cli("run", "--pipeline-name", "clockodo", "--dataset", "clockodo", cwd=tmp_path)
    assert same.returncode != 0 and "--dataset" in same.stderr
    missing = cli("run", cwd=tmp_path)
    assert missing.returncode != 0
    assert "SOURCES__CLOCKODO__API_KEY" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_reports_after_demo(tmp_path: Path) -> None:
    assert cli("demo", "--entries", "400", cwd=tmp_path).returncode == 0
    table = cli("report", "unbilled", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "hours" in table.stdout and "value" in table.stdout
    as_json = cli("report", "budgets", "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)["rows"]
    assert rows and all("budget_kind" in row for row in rows)
    page = cli("report", "utilization", "--format", "html", "--output", "u.html", cwd=tmp_path)
    assert page.returncode == 0 and (tmp_path / "u.html").exists()
    bad = cli("report", "utilization", "--month", "2026-13", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("clockodo-pipeline: error: month")
    assert "Traceback" not in bad.stderr


def test_dlt_dataset_api_reads_what_the_cli_loaded(api: FakeClockodoServer,
                                                   company: FakeCompany, tmp_path: Path) -> None:
    """`status` tells where the pipeline's dlt state is; `dlt.attach(...).dataset()` then
    reads the tables with dlt's own API (it failed with sqlglot 30.22 and later)."""
    env = {"SOURCES__CLOCKODO__API_USER": API_USER, "SOURCES__CLOCKODO__API_KEY": API_KEY,
           "SOURCES__CLOCKODO__BASE_URL": api.url, "DLT_DATA_DIR": str(tmp_path / "dlt"),
           "SOURCES__CLOCKODO__START_DATE": first_entry_day(company).isoformat()}
    assert cli("run", "--entities", "customers,entries", cwd=tmp_path, env=env).returncode == 0
    status = cli("status", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    attach = next(line for line in status.stdout.splitlines() if line.startswith("dlt state:"))
    pipelines_dir = attach.split("pipelines_dir='")[1].split("'")[0]
    reader = (
        "import dlt, sys\n"
        f"pipeline = dlt.attach('clockodo_pipeline', pipelines_dir={pipelines_dir!r})\n"
        "rows = pipeline.dataset().customers.select('id', 'name').fetchall()\n"
        "print(sorted(rows))\n"
    )
    result = subprocess.run([sys.executable, "-c", reader], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, **env}, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(sorted((row["id"], row["name"])
                                                for row in company.customers))
