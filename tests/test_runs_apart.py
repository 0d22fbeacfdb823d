"""Runs that never step on each other: working directories, overlapping runs, budgets, headers.

Real `clockodo-pipeline` processes load real DuckDB files from fake Clockodo APIs on loopback.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import chdir
from datetime import date, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import dlt
import pytest

from clockodo_source import clockodo_source
from clockodo_source.app.workspace import (
    BRIEF_HOLD,
    BUSY_EXIT,
    RunInProgress,
    pipelines_dir,
    run_lock,
)
from clockodo_source.errors import ConfigurationError
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.limits import Faults, RateLimits
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.options import ClientOptions
from clockodo_source.stats import SourceStats
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, stored_keys
from tests.test_change_capture import assert_exact

BUSY_LINE = re.compile(
    r"^clockodo-pipeline: another run of pipeline clockodo_pipeline is in progress "
    r"\(pid (\d+), since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)\)$"
)


def _environment(server: FakeClockodoServer, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "DLT_DATA_DIR": str(data_dir),
            "SOURCES__CLOCKODO__API_USER": API_USER, "SOURCES__CLOCKODO__API_KEY": API_KEY,
            "SOURCES__CLOCKODO__BASE_URL": server.url,
            "SOURCES__CLOCKODO__START_DATE": first_entry_day(server.company).isoformat(),
            "SOURCES__CLOCKODO__BACKOFF_SECONDS": "0.01",
            "SOURCES__CLOCKODO__RETRY_AFTER_FLOOR_SECONDS": "0.01"}


def _start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "clockodo_source.app.cli", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clockodo_source.app.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def _reader(cwd: Path) -> dlt.Pipeline:
    """A pipeline reading the DuckDB file a CLI run wrote in `cwd` (state of its own)."""
    return dlt.pipeline(pipeline_name="reader", dataset_name="clockodo",
                        destination=dlt.destinations.duckdb(str(cwd / "clockodo_pipeline.duckdb")),
                        pipelines_dir=str(cwd / "reader"))


def _company(seed: int, entries: int = 400) -> FakeCompany:
    start = date.today() - timedelta(days=300)
    return FakeCompany(CompanyConfig(entries=entries, seed=seed, start=start, users=4))


@pytest.fixture
def two_accounts() -> Iterator[tuple[FakeClockodoServer, FakeClockodoServer]]:
    # of different sizes, so that their key sets differ as well as their values
    with FakeClockodoServer(_company(31), api_user=API_USER, api_key=API_KEY) as first, \
            FakeClockodoServer(_company(32, 520), api_user=API_USER, api_key=API_KEY) as second:
        yield first, second


def test_two_directories_with_one_pipeline_name_load_their_own_account(
        two_accounts: tuple[FakeClockodoServer, FakeClockodoServer], tmp_path: Path) -> None:
    """One dlt data directory (a user's home), two projects with the default pipeline name:
    each DuckDB file holds exactly its own account after every run, in any order."""
    data_dir = tmp_path / "home_dlt"
    projects = [tmp_path / "agency", tmp_path / "freelance"]
    for folder in projects:
        folder.mkdir()
    environments = [_environment(server, data_dir) for server in two_accounts]

    for order in ((0, 1), (1, 0), (0, 0, 1)):
        for index in order:
            result = _run(["run"], projects[index], environments[index])
            assert result.returncode == 0, result.stderr
        for server in two_accounts:  # the accounts move on between rounds
            company = server.company
            company.add_entry()
            company.delete_entry(next(  # a finished entry inside the look-back
                row["id"] for row in reversed(company.all_entries())
                if row["time_until"] and datetime.fromisoformat(row["time_since"]) < company.now))
    for folder, server in zip(projects, two_accounts, strict=True):
        result = _run(["run"], folder, environments[projects.index(folder)])
        assert result.returncode == 0, result.stderr
        assert_exact(_reader(folder), server.company)
    sizes = [len(stored_keys(_reader(folder), "entries")) for folder in projects]
    assert sizes == [len(server.company.all_entries()) for server in two_accounts]


def test_overlapping_runs_exit_75_or_wait(tmp_path: Path) -> None:
    """A cron job started while the previous run still works exits at once with status 75 and
    the contract's line; `--wait` waits for it. The data is exact afterwards."""
    with FakeClockodoServer(_company(33), api_user=API_USER, api_key=API_KEY) as server:
        env = _environment(server, tmp_path / "dlt")
        server.faults = Faults(latency=2.0)  # a slow API: the first run takes many seconds
        first = _start(["run"], tmp_path, env)
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.requests, "the first run never reached the API"

        began = time.monotonic()
        second = _run(["run"], tmp_path, env)
        assert time.monotonic() - began < 30  # it never waits on the API: startup only
        assert second.returncode == BUSY_EXIT
        (busy,) = second.stderr.strip().splitlines()
        match = BUSY_LINE.match(busy)
        assert match, busy
        assert int(match.group(1)) == first.pid

        log = tmp_path / "waiting.log"
        with open(log, "w") as stderr:
            waiting = subprocess.Popen([sys.executable, "-m", "clockodo_source.app.cli", "run",
                                        "--wait"], cwd=tmp_path, env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=stderr)
        wait_line = "waiting for the run of pipeline clockodo_pipeline in progress (pid " \
            f"{first.pid}, since "
        deadline = time.monotonic() + 60
        while wait_line not in log.read_text() and time.monotonic() < deadline:
            assert waiting.poll() is None, log.read_text()
            time.sleep(0.05)
        assert first.poll() is None  # it waited for the first run, which still works
        server.faults = Faults()  # the API answers at once again
        _, first_err = first.communicate(timeout=300)
        assert first.returncode == 0, first_err
        waiting.communicate(timeout=300)
        assert waiting.returncode == 0, log.read_text()
        assert_exact(_reader(tmp_path), server.company)

        again = _run(["run"], tmp_path, env)  # the lock was released by both
        assert again.returncode == 0, again.stderr


def _open_files(pid: int) -> set[str]:
    files = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            files.add(os.path.realpath(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            continue
    return files


def test_a_run_waits_out_a_brief_hold_of_the_lock(tmp_path: Path) -> None:
    """Commands that only read take the run lock for a moment (`status` while it restores the
    state, any command as it opens the pipeline): a scheduled run started in that moment loads
    once the lock is free, instead of exiting 75; a hold longer than the grace is busy."""
    with FakeClockodoServer(_company(35), api_user=API_USER, api_key=API_KEY) as server:
        env = _environment(server, tmp_path / "dlt")
        with patch.dict(os.environ, env), chdir(tmp_path):
            directory = pipelines_dir("duckdb", "clockodo_pipeline", "clockodo")
        with run_lock(directory, "clockodo_pipeline", grace=0):
            run = _start(["run"], tmp_path, env)
            lock_file = os.path.realpath(os.path.join(directory, "clockodo_pipeline.lock"))
            deadline = time.monotonic() + 60
            while lock_file not in _open_files(run.pid) and time.monotonic() < deadline:
                assert run.poll() is None, run.communicate()
                time.sleep(0.01)
            time.sleep(BRIEF_HOLD / 4)  # it has opened the lock file and tries the lock
            assert run.poll() is None and not server.requests  # waiting for the lock
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        assert_exact(_reader(tmp_path), server.company)

        began = time.monotonic()
        with run_lock(directory, "clockodo_pipeline", grace=0), \
                pytest.raises(RunInProgress, match="another run of pipeline clockodo_pipeline"), \
                run_lock(directory, "clockodo_pipeline"):
            pass
        assert BRIEF_HOLD <= time.monotonic() - began < BRIEF_HOLD + 1.0


def test_a_killed_run_leaves_no_lock(tmp_path: Path) -> None:
    """The operating system releases the lock of a killed process: no stale lock file blocks
    the next run."""
    with FakeClockodoServer(_company(34), api_user=API_USER, api_key=API_KEY) as server:
        env = _environment(server, tmp_path / "dlt")
        server.faults = Faults(latency=0.05)
        killed = _start(["run"], tmp_path, env)
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        killed.kill()
        killed.communicate(timeout=60)
        server.faults = Faults()
        result = _run(["run"], tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert_exact(_reader(tmp_path), server.company)


def _options(**overrides: object) -> ClientOptions:
    settings: dict[str, object] = dict(
        api_user=API_USER, api_key=API_KEY, base_url="http://127.0.0.1:1/api",
        external_application=None, concurrency=4, rate_budgets=None)
    settings.update(overrides)
    return ClientOptions.validate(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("email", "expected"), [
    ("ops@agency.example", "clockodo-dlt;ops@agency.example"),
    ("controlling.team@a-rather-long-agency-name.de",
     "cloc;controlling.team@a-rather-long-agency-name.de"),
    ("x" * 40 + "@example.com", ";" + ("x" * 40 + "@example.com")[:49]),
])
def test_default_external_application_keeps_the_email(email: str, expected: str) -> None:
    application = _options(api_user=email).external_application
    assert application == expected
    assert len(application) <= 50


def test_user_set_external_application_over_50_characters_names_the_option() -> None:
    with pytest.raises(ConfigurationError, match=r"^sources\.clockodo\.external_application "
                                                 r"\(env SOURCES__CLOCKODO__EXTERNAL_APPLICATION\)"
                                                 r" is 51 characters"):
        _options(external_application="a" * 40 + ";" + "b" * 10)


@pytest.mark.parametrize("value", [[0, 900], [300], "300", [[300, 900]], [300, -1]])
def test_bad_entries_text_budget_names_the_option(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^sources\.clockodo\.entries_text_budget "
                                                 r".* e\.g\. \[300, 900\]$"):
        _options(entries_text_budget=value)


def test_lifted_entries_text_budget_reads_over_300_pages_with_texts_at_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """More than 300 pages of entries with texts in one run, without waiting, once both the
    API's and the configured budget of entry lists with texts allow it (a local API, another
    plan). With the default of 300 per 15 minutes the 301st request would wait."""
    company = FakeCompany(CompanyConfig(entries=301_000, seed=5, users=4,
                                        start=date.today() - timedelta(days=700)))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        server.limits = RateLimits(budgets=[], entries_enhanced=(1000, 900.0))
        pipeline = dlt.pipeline(
            pipeline_name="budget", dataset_name="clockodo",
            destination=dlt.destinations.duckdb(str(tmp_path / "budget.duckdb")),
            pipelines_dir=str(tmp_path / "pipelines"))
        source = clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=server.url,
                                 start_date=first_entry_day(company).isoformat(),
                                 rate_budgets=[[100_000, 60]],
                                 entries_text_budget=[1000, 900], stats=(stats := SourceStats()))
        caplog.set_level(logging.INFO, logger="clockodo_source")
        began = time.monotonic()
        pipeline.run(source.with_resources("entries"), loader_file_format="parquet")
        texts = [record for record in server.requests
                 if record.path.endswith("/v2/entries") and record.query.get("enhanced_list")]
        assert len(texts) > 300
        assert stats.requests.retries == 0 and stats.requests.throttled == 0
        # a budget wait would last until the window's first slot frees (15 minutes) and be
        # announced; what `wait_seconds` holds besides is threads queueing for the limiter
        assert not [record for record in caplog.records if "rate budget" in record.message]
        assert time.monotonic() - began < 300
        assert server.budget_violations == 0
        assert len(set(stored_keys(pipeline, "entries"))) == len(stored_keys(pipeline, "entries"))
        assert len(stored_keys(pipeline, "entries")) == len(company.all_entries())
