"""Ctrl-C: a real `python -m clockodo_source.app.cli run` gets SIGINT at one moment of its
run, exits 130 with the CLI's one line (no traceback, no dlt failure), and the next run
completes: every table exact against the fake API, and `status` shows the interruption as the
last failed run (before the later successful load).

The moments: while it imports dlt (its address space shows orjson, which dlt imports first,
and the run has not announced anything); after dlt announced extract on stderr (the fake
answers slowly then, so that extraction lasts); as dlt's normalize and load steps start and in
the model rebuild, where the process sends SIGINT to itself (before the step, and before the
statement that builds one model: moments too short to hit from outside on a busy machine; the
crash-safety tests cut the same places with SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import chdir
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import dlt
import pytest

from clockodo_source.app import workspace
from clockodo_source.app.destinations import held_open
from clockodo_source.app.failures import INTERRUPTED as RECORDED
from clockodo_source.app.process import INTERRUPTED, INTERRUPTED_EXIT
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.limits import Faults
from clockodo_source.fake.server import FakeClockodoServer
from tests.exact import assert_exact
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, fake_api_env

PIPELINE = "clockodo_pipeline"
#: the CLI, sending itself SIGINT just before a call of a method whose arguments contain a text;
#: CLOCKODO_INTERRUPT_AT is "module.Class method text"
SELF_INTERRUPT = """
import importlib, os, signal
owner, method, text = os.environ["CLOCKODO_INTERRUPT_AT"].split(" ", 2)
module, _, name = owner.rpartition(".")
cls = getattr(importlib.import_module(module), name)
original = getattr(cls, method)

def interrupting(self, *args, **kwargs):
    if text in str(args):
        os.kill(os.getpid(), signal.SIGINT)
    return original(self, *args, **kwargs)

setattr(cls, method, interrupting)
from clockodo_source.app.cli import run
run()
"""
#: stderr text after which SIGINT is sent (None: while importing)
ANNOUNCED = {"import": None, "extract": "Extract clockodo"}
#: where the process interrupts itself: as dlt's normalize and load steps start (on a busy
#: machine the test reads their announcement after the run has ended), and before the
#: statement that builds one model
SELF_INTERRUPTED = {
    "normalize": "dlt.pipeline.pipeline.Pipeline normalize ",
    "load": "dlt.pipeline.pipeline.Pipeline load ",
    "models": 'dlt.destinations.impl.duckdb.sql_client.DuckDbSqlClient execute_sql "utilization"',
}


@pytest.fixture
def server() -> Iterator[FakeClockodoServer]:
    now = datetime.now(UTC).replace(microsecond=0)
    company = FakeCompany(CompanyConfig(entries=300, users=3, customers=3, projects=5,
                                        start=now.date() - timedelta(days=120), seed=5), now=now)
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as fake:
        yield fake


def _env(server: FakeClockodoServer, root: Path) -> dict[str, str]:
    return {**os.environ, **fake_api_env(
        server.url, DLT_DATA_DIR=str(root / "dlt"), RUNTIME__DLTHUB_TELEMETRY="false",
        SOURCES__CLOCKODO__START_DATE=first_entry_day(server.company).isoformat())}


def _importing_dlt(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as maps:
        return "orjson" in maps.read()


def _interrupted_run(server: FakeClockodoServer, root: Path, moment: str
                     ) -> tuple[int, str]:
    """Start `run`, send SIGINT at `moment`; the exit status and all of stderr."""
    env = _env(server, root)
    code = ["-m", "clockodo_source.app.cli"]
    if moment in SELF_INTERRUPTED:
        env["CLOCKODO_INTERRUPT_AT"] = SELF_INTERRUPTED[moment]
        code = ["-c", SELF_INTERRUPT]
    process = subprocess.Popen([sys.executable, *code, "run"], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = []
    if moment == "import":
        while not _importing_dlt(process.pid):
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
    elif moment in ANNOUNCED:
        for line in process.stderr:  # dlt's progress lines
            seen.append(line)
            if ANNOUNCED[moment] in line:
                process.send_signal(signal.SIGINT)
                break
    stdout, rest = process.communicate(timeout=120)
    assert "models:" not in stdout, "the run was not cut short"
    return process.returncode, "".join(seen) + rest


def _pipeline(server: FakeClockodoServer, root: Path) -> dlt.Pipeline:
    """The CLI's pipeline, as the CLI finds it in its environment."""
    with patch.dict(os.environ, _env(server, root)), chdir(root):
        pipelines_dir = workspace.pipelines_dir("duckdb", PIPELINE, "clockodo")
    return dlt.pipeline(pipeline_name=PIPELINE, dataset_name="clockodo",
                        destination=dlt.destinations.duckdb(str(root / f"{PIPELINE}.duckdb")),
                        pipelines_dir=pipelines_dir)


@pytest.mark.parametrize("moment", [*ANNOUNCED, *SELF_INTERRUPTED])
def test_ctrl_c_exits_130_with_one_line_and_the_next_run_completes(
        server: FakeClockodoServer, tmp_path: Path, moment: str) -> None:
    if moment == "extract":  # answers slow enough for the extraction to last
        server.faults = Faults(latency=0.05)
    status, stderr = _interrupted_run(server, tmp_path, moment)
    server.faults = Faults()
    assert status == INTERRUPTED_EXIT, stderr
    assert stderr.rstrip().splitlines()[-1] == INTERRUPTED
    assert stderr.count(INTERRUPTED) == 1
    assert "Traceback" not in stderr and "error" not in stderr, stderr
    if moment == "import":
        assert stderr.strip() == INTERRUPTED  # nothing announced yet: it was importing
    else:  # `status` keeps the interruption as the pipeline's last failed run
        assert _status(server, tmp_path)["last_failure"]["cause"] == RECORDED

    server.company.add_entry()
    rerun = _cli(server, tmp_path, "run")
    assert rerun.returncode == 0, rerun.stderr
    assert "models:" in rerun.stdout
    pipeline = _pipeline(server, tmp_path)
    with held_open(pipeline):
        assert_exact(pipeline, server.company)
    if moment != "import":
        status = _status(server, tmp_path)
        assert status["last_failure"]["cause"] == RECORDED
        assert datetime.fromisoformat(status["last_successful_load"]) \
            > datetime.fromisoformat(status["last_failure"]["at"])


def _cli(server: FakeClockodoServer, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clockodo_source.app.cli", *args], cwd=root,
                          env=_env(server, root), capture_output=True, text=True, timeout=300,
                          check=False)


def _status(server: FakeClockodoServer, root: Path) -> dict[str, Any]:
    status = _cli(server, root, "status", "--json")
    assert status.returncode == 0, status.stderr
    document: dict[str, Any] = json.loads(status.stdout)
    return document
