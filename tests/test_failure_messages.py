"""Failures outside Clockodo name their real cause in one line, and a closed output pipe ends a
command quietly: a real `clockodo-pipeline` process each time (its own `python -m`), real
DuckDB files, a real second process holding one, real `head`."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clockodo_source.app.process import OUTPUT_CLOSED_EXIT
from clockodo_source.fake.company import FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests.expected import first_entry_day
from tests.helpers import POSTGRES_DSN, fake_api_env
from tests.test_cli import cli

#: the Clockodo settings are all there (the fake is never asked: each failure comes first)
CLOCKODO = fake_api_env("http://127.0.0.1:9/api", SOURCES__CLOCKODO__MAX_ATTEMPTS="1")
#: the CLI in a process that cannot import psycopg2, as if the postgres extra were missing
WITHOUT_PSYCOPG2 = """
import sys
sys.modules["psycopg2"] = None
from clockodo_source.app.cli import run
run()
"""


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's line on stderr; there is no other (a traceback, dlt's own text)."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("clockodo-pipeline: error: ")
    return lines[0]


@pytest.mark.parametrize(("destination", "setting"), [
    ("postgres", "DESTINATION__POSTGRES__CREDENTIALS"),
    ("bigquery", "DESTINATION__BIGQUERY__CREDENTIALS"),
    ("snowflake", "DESTINATION__SNOWFLAKE__CREDENTIALS"),
    ("filesystem", "DESTINATION__FILESYSTEM__BUCKET_URL"),
])
def test_missing_destination_settings_name_the_destination(
        tmp_path: Path, destination: str, setting: str) -> None:
    line = one_line(cli("run", "--destination", destination, cwd=tmp_path, env=CLOCKODO))
    assert f"the {destination} destination is not configured" in line
    assert setting in line
    assert setting.lower().replace("__", ".") in line  # the key in .dlt/*.toml
    assert "SOURCES__CLOCKODO" not in line and "sources.clockodo" not in line


def test_unknown_destination_lists_the_known_ones(tmp_path: Path) -> None:
    line = one_line(cli("run", "--destination", "duckdbb", cwd=tmp_path, env=CLOCKODO))
    assert "unknown destination 'duckdbb'" in line and "did you mean duckdb?" in line
    assert "postgres" in line and "filesystem" in line and "bigquery" in line


def test_missing_packages_name_what_to_install(tmp_path: Path) -> None:
    """The postgres extra of clockodo-dlt, in a process that cannot import its driver; a
    destination without an extra of ours (mssql: pyodbc is not installed here), dlt's."""
    env = {**os.environ, **CLOCKODO, "RUNTIME__DLTHUB_TELEMETRY": "false",
           "DESTINATION__POSTGRES__CREDENTIALS": POSTGRES_DSN}
    without_driver = subprocess.run(
        [sys.executable, "-c", WITHOUT_PSYCOPG2, "run", "--destination", "postgres"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert 'pip install "clockodo-dlt[postgres]"' in one_line(without_driver)

    assert importlib.util.find_spec("pyodbc") is None, "the test needs pyodbc to be absent"
    line = one_line(cli("run", "--destination", "mssql", cwd=tmp_path, env=CLOCKODO))
    assert "the mssql destination needs packages" in line and 'pip install "dlt[mssql]"' in line


def test_a_failure_dlt_wraps_shows_its_innermost_cause(tmp_path: Path) -> None:
    """dlt's `PipelineStepFailed … with exception:` ends where its cause begins: the line
    shows the cause (here the database's refusal to connect)."""
    env = {**CLOCKODO, "DESTINATION__POSTGRES__CREDENTIALS": "postgresql://root@127.0.0.1:1/t"}
    line = one_line(cli("run", "--destination", "postgres", cwd=tmp_path, env=env))
    assert "Connection refused" in line and "port 1" in line
    assert "PipelineStepFailed" not in line and "with exception" not in line


@pytest.fixture
def held_duckdb(tmp_path: Path) -> Iterator[Path]:
    """`clockodo_pipeline.duckdb` in `tmp_path`, held open for writing by another process."""
    database = tmp_path / "clockodo_pipeline.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; db = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.read()", str(database)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    yield database
    holder.communicate(timeout=60)


def test_duckdb_file_held_by_another_program(tmp_path: Path, held_duckdb: Path) -> None:
    for command in (["run"], ["status"], ["report", "unbilled"]):
        line = one_line(cli(*command, cwd=tmp_path, env=CLOCKODO))
        assert f"the DuckDB file {held_duckdb} is held by another program" in line, command
        assert "internet" not in line


def test_unwritable_directory_is_named(tmp_path: Path) -> None:
    """A working directory the user may not write to (as root, who may write anywhere, a
    DuckDB file configured under a regular file instead); dlt's data directory likewise."""
    if os.geteuid() != 0:
        locked = tmp_path / "read-only"
        locked.mkdir()
        locked.chmod(0o555)
        cwd, env, path = locked, CLOCKODO, locked / "clockodo_pipeline.duckdb"
    else:
        (tmp_path / "a-file").write_text("")
        path = tmp_path / "a-file" / "lake.duckdb"
        cwd, env = tmp_path, {**CLOCKODO, "DESTINATION__DUCKDB__CREDENTIALS": str(path)}
    line = one_line(cli("run", cwd=cwd, env=env))
    assert f"cannot write {path}" in line and "internet" not in line
    (tmp_path / "not-a-dir").write_text("")
    state = tmp_path / "not-a-dir" / "dlt"
    line = one_line(cli("run", cwd=tmp_path, env={**CLOCKODO, "DLT_DATA_DIR": str(state)}))
    assert f"cannot write {state}" in line and "DLT_DATA_DIR" in line


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_closed_output_pipe_ends_the_command_quietly(
        api: FakeClockodoServer, company: FakeCompany, tmp_path: Path, unbuffered: str) -> None:
    """`report utilization --format json | head -1`: the report is larger than a pipe holds,
    so the CLI writes on after `head` has gone; buffered and unbuffered (PYTHONUNBUFFERED)."""
    env = {**os.environ, **fake_api_env(
        api.url, RUNTIME__DLTHUB_TELEMETRY="false",
        SOURCES__CLOCKODO__START_DATE=first_entry_day(company).isoformat())}
    assert cli("run", cwd=tmp_path, env=env).returncode == 0
    env["PYTHONUNBUFFERED"] = unbuffered
    report = subprocess.Popen(
        [sys.executable, "-m", "clockodo_source.app.cli", "report", "utilization", "--format",
         "json"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=report.stdout, stdout=subprocess.PIPE)
    assert report.stdout is not None and report.stderr is not None
    report.stdout.close()  # `head` alone reads it now, and its exit closes the pipe
    first, _ = head.communicate(timeout=120)
    stderr = report.stderr.read()
    assert report.wait(timeout=120) == OUTPUT_CLOSED_EXIT
    assert first.startswith(b"{")
    assert stderr == b""
