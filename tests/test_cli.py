"""`clockodo-pipeline` as a user runs it: a real subprocess, real DuckDB file, fake API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from clockodo_source.app.accounts import DEMO_DATASET
from clockodo_source.fake.company import CompanyConfig, FakeCompany
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
        database = tmp_path / "clockodo_demo.duckdb"
        assert str(database) in result.stdout
        assert set(ENTITIES) <= tables_in(database, DEMO_DATASET), attempt
        assert {"unbilled_time", "utilization", "project_budgets"} <= tables_in(database,
                                                                                DEMO_DATASET)
        assert "models: unbilled_time" in result.stdout
        assert (tmp_path / "clockodo_report.html").read_text().count("<svg") >= 3
        assert not (tmp_path / "clockodo_pipeline.duckdb").exists()
    other = tmp_path / "elsewhere"
    other.mkdir()
    result = cli("demo", "--entries", "300", cwd=other)  # same pipeline, state from tmp_path
    assert result.returncode == 0, result.stderr
    assert set(ENTITIES) <= tables_in(other / "clockodo_demo.duckdb", DEMO_DATASET)
    assert str(other / "clockodo_demo.duckdb") in result.stdout


def _entry_ids(database: Path, dataset: str) -> set[int]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(f"SELECT id FROM {dataset}.entries").fetchall()
    return {row[0] for row in rows}


def test_demo_then_real_accounts_stay_apart(tmp_path: Path) -> None:
    """The demo, then a real account, then another account into the same pipeline: the demo's
    file and dataset are its own, the real pipeline holds only its account's rows, and a run
    of another account is refused with one line naming the way out (issue 20, item 1)."""
    assert cli("demo", "--entries", "300", cwd=tmp_path).returncode == 0
    demo_file = tmp_path / "clockodo_demo.duckdb"
    demo_rows = _entry_ids(demo_file, DEMO_DATASET)
    first = FakeCompany(CompanyConfig(entries=200, seed=21, customers=4, projects=6))
    second = FakeCompany(CompanyConfig(entries=150, seed=22, customers=5, projects=7))
    with FakeClockodoServer(first, api_user="ops@first.example", api_key=API_KEY) as one, \
            FakeClockodoServer(second, api_user="ops@second.example", api_key=API_KEY) as two:
        def env(server: FakeClockodoServer, company: FakeCompany) -> dict[str, str]:
            return {"SOURCES__CLOCKODO__API_USER": server.api_user,
                    "SOURCES__CLOCKODO__API_KEY": API_KEY,
                    "SOURCES__CLOCKODO__BASE_URL": server.url,
                    "SOURCES__CLOCKODO__START_DATE": first_entry_day(company).isoformat()}

        loaded = cli("run", cwd=tmp_path, env=env(one, first))
        assert loaded.returncode == 0, loaded.stderr
        real_file = tmp_path / "clockodo_pipeline.duckdb"
        first_ids = {row["id"] for row in first.all_entries()}
        assert _entry_ids(real_file, "clockodo") == first_ids
        assert first_ids != {row["id"] for row in second.all_entries()}
        assert _entry_ids(demo_file, DEMO_DATASET) == demo_rows

        for pipeline, holder in (("clockodo_pipeline", "ops@first.example"),
                                 ("clockodo_demo", "demo@example.com")):
            refused = cli("run", "--pipeline-name", pipeline, cwd=tmp_path, env=env(two, second))
            assert refused.returncode == 1, refused.stderr
            assert "Traceback" not in refused.stderr
            line, = (line for line in refused.stderr.splitlines() if "error" in line)
            assert line.startswith("clockodo-pipeline: error: this pipeline holds the Clockodo "
                                   f"account {holder} at 127.0.0.1, "), line
            assert "not ops@second.example at 127.0.0.1" in line and "--pipeline-name" in line
        assert _entry_ids(real_file, "clockodo") == first_ids
        assert _entry_ids(demo_file, DEMO_DATASET) == demo_rows

        fresh = cli("run", "--pipeline-name", "second", cwd=tmp_path, env=env(two, second))
        assert fresh.returncode == 0, fresh.stderr
        assert _entry_ids(tmp_path / "second.duckdb", "clockodo") == {
            row["id"] for row in second.all_entries()}


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
    demo = cli("demo", "--entries", "400", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "report unbilled --pipeline-name clockodo_demo" in demo.stdout
    real = cli("report", "unbilled", cwd=tmp_path)  # the real pipeline has nothing yet
    assert real.returncode == 1 and "--pipeline-name clockodo_demo" in real.stderr
    table = cli("report", "unbilled", "--pipeline-name", "clockodo_demo", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "hours" in table.stdout and "value" in table.stdout
    as_json = cli("report", "budgets", "--format", "json", "--pipeline-name", "clockodo_demo",
                  cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)["rows"]
    assert rows and all("budget_kind" in row for row in rows)
    page = cli("report", "utilization", "--format", "html", "--output", "u.html",
               "--pipeline-name", "clockodo_demo", cwd=tmp_path)
    assert page.returncode == 0 and (tmp_path / "u.html").exists()
    status = cli("status", "--pipeline-name", "clockodo_demo", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "clockodo_demo" in status.stdout and "entries" in status.stdout
    bad = cli("report", "utilization", "--month", "2026-13", "--pipeline-name", "clockodo_demo",
              cwd=tmp_path)
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
