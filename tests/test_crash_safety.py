"""Crash safety: a `clockodo-pipeline` process killed at any instant leaves a pipeline that the
next run completes, every table exact against the fake Clockodo API.

Each case starts the real CLI in a process group of its own against the fake API over HTTP,
SIGKILLs that group at one instant, changes the fake company, runs the CLI again and compares
every table with the company's data. The instants:

- dlt's stage moves: the CLI process kills its own group just before or after one of dlt's
  storage steps (a package committed, a schema file written but not yet renamed into place,
  normalized, a job's commit recorded, a package completed).
  Some of these windows are microseconds wide (between a destination's commit and dlt's marker
  of it), so only a kill from inside the process lands on them every time. The model rebuild
  is cut the same way, at the statements of dlt's SQL client;
- phase changes, seen in the pipeline's working folder by a polling loop: a temporary extract
  folder, a package extracted, being normalized, a job started, a merge started, the package
  loaded;
- time: spread evenly from the start of the extraction to the end of the load as a reference
  run took them, each counted from the last phase change before it and cut short by the next
  (so that a run quicker than the reference is still killed there).

A killed `run` is an incremental run: its pipeline starts as a copy of one first run (made once
per destination), since a killed first run whose dataset does not exist yet is wiped by dlt.
`CLOCKODO_CRASH_INSTANTS=N` sets the number of time-spaced instants per destination (default 3;
a benchmark machine can run 200).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, chdir
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import dlt
import pytest
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from clockodo_source import clockodo_source
from clockodo_source.app import workspace
from clockodo_source.app.destinations import held_open
from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests.exact import assert_exact
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, DESTINATIONS, POSTGRES_DSN, drop_dataset, query

PIPELINE = "clockodo_pipeline"
TIMED = int(os.environ.get("CLOCKODO_CRASH_INSTANTS", "3"))
#: seconds between two looks at the working folder
POLL = 0.002
RECOVERED = "recovered from an interrupted run"
#: the name of a file dlt writes before renaming it over the one it replaces
TEMPORARY = re.compile(r"[0-9a-f]{16}")
#: one clock for every company of this process, so that companies of one config are equal
NOW = datetime.now(UTC).replace(microsecond=0)
#: run in the CLI's process: kills its process group at one call of a dlt method, then runs the
#: CLI; CLOCKODO_CRASH_AT is [the classes ("module.Class") whose method to watch, or a module
#: ("module.os") whose function, the method or function, "before" or "after" the call, text the
#: call's arguments after the first (`self`) contain, which such call]
CHILD = """
import importlib, json, os, signal
owners, method, when, match, nth = json.loads(os.environ["CLOCKODO_CRASH_AT"])
calls = []

def crashing(original):
    def call(first, *args, **kwargs):
        hit = match in repr(args)
        calls.extend([args] if hit else [])
        if hit and len(calls) == nth and when == "before":
            os.killpg(os.getpgrp(), signal.SIGKILL)
        result = original(first, *args, **kwargs)
        if hit and len(calls) == nth:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        return result
    return call

for owner in owners:
    module, _, name = owner.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    setattr(cls, method, crashing(getattr(cls, method)))
from clockodo_source.app.cli import run
run()
"""
EXTRACT = ["dlt.extract.extract.Extract"]
LOAD_STORAGE = ["dlt.common.storages.load_storage.LoadStorage"]
PACKAGE = ["dlt.common.storages.load_package.PackageStorage"]
#: dlt's file writes: a temporary file renamed (`os.replace`) over the file it replaces
FILE_STORAGE_OS = ["dlt.common.storages.file_storage.os"]
SQL_CLIENTS = ["dlt.destinations.impl.duckdb.sql_client.DuckDbSqlClient",
               "dlt.destinations.impl.postgres.sql_client.Psycopg2SqlClient"]


@dataclass(frozen=True)
class Instant:
    """Where to kill: at a call of a dlt method (`dlt`), once the working folder shows `phase`
    for the `nth` time, or at a `moment`: a share of the reference run's time from extracting
    to loaded."""

    name: str
    dlt: tuple[list[str], str, str, str, int] | None = None
    phase: str | None = None
    nth: int = 1
    moment: float | None = None

    def wait(self, reference: dict[str, float]) -> tuple[str | None, float, str | None]:
        """The phase to wait for, the seconds to wait after it, and the phase that ends the
        wait early (the next one the reference run showed), so that a quicker run is still
        killed before it ends."""
        if self.moment is None:
            return self.phase, 0.0, None
        start, end = reference["extracting"], reference["loaded"]
        moment = start + self.moment * (end - start)
        timeline = sorted(PHASE_NAMES, key=reference.__getitem__)
        seen = [name for name in timeline if reference[name] <= moment]
        later = timeline[len(seen)] if len(seen) < len(timeline) else None
        return seen[-1], moment - reference[seen[-1]], later


def at(name: str, owners: list[str], method: str, when: str, match: str = "", nth: int = 1
       ) -> Instant:
    return Instant(name, dlt=(owners, method, when, match, nth))


#: dlt's stage moves of one run: extract, normalize, load, complete; then the model rebuild
STAGES = [
    # the package committed, the local state not yet saved
    at("extracted", EXTRACT, "commit_packages", "after"),
    # the pipeline's schema written to a temporary file, not yet renamed over the schema
    at("schema-written", FILE_STORAGE_OS, "replace", "before", f"{PIPELINE}/schemas/"),
    at("normalizing", LOAD_STORAGE, "import_extracted_package", "after"),
    # normalized, its extracted copy not yet deleted
    at("normalized", LOAD_STORAGE, "commit_new_load_package", "after"),
    # the destination's schema updated and replaced tables truncated, not yet recorded
    at("schema-updated", LOAD_STORAGE, "commit_schema_update", "before"),
    # a job committed by the destination, not yet recorded: a merge's staged rows, a replaced
    # table's rows, a merge's root table with nested rows, a merge statement
    at("entries-staged", PACKAGE, "save_pending_transition", "before", "'entries."),
    at("customers-replaced", PACKAGE, "save_pending_transition", "before", "'customers."),
    at("work-times-staged", PACKAGE, "save_pending_transition", "before", "'work_times."),
    at("merged", PACKAGE, "save_pending_transition", "before", ".sql"),
    # a job's follow-up (the merge of its table) created, the job not yet moved to completed
    at("followed-up", PACKAGE, "complete_job", "before", "'entries."),
    # the load recorded in the destination, the package not yet moved to loaded
    at("completed", LOAD_STORAGE, "complete_load_package", "before"),
    # the package loaded, the pipeline's state and trace not yet saved
    at("loaded", LOAD_STORAGE, "complete_load_package", "after"),
    # a model dropped in its replacing transaction; two models replaced, the third not yet
    at("model-replacing", SQL_CLIENTS, "execute_sql", "after", '"utilization"'),
    at("models-replaced", SQL_CLIENTS, "execute_sql", "before", '"project_budgets"'),
]
PHASE_NAMES = ("extracting", "extracted", "normalizing", "loading", "merging", "loaded")
PHASES = [Instant(f"seen-{name}", phase=name) for name in PHASE_NAMES]
TIMES = [Instant(f"time-{k + 1}of{TIMED}", moment=(k + 0.5) / TIMED) for k in range(TIMED)]
RUN_INSTANTS = [*STAGES, *PHASES, *TIMES]
#: a backfill loads one package per window: instants in its second and third windows
BACKFILL_INSTANTS = [
    at("normalized-2", LOAD_STORAGE, "commit_new_load_package", "after", nth=2),
    at("entries-staged-3", PACKAGE, "save_pending_transition", "before", "'entries.", nth=3),
    Instant("seen-loaded-2", phase="loaded", nth=2),
]
RECONCILE_INSTANTS = [STAGES[2], STAGES[4], PHASES[4]]


def _dirs(folder: Path) -> list[Path]:
    try:
        return [path for path in folder.iterdir() if path.is_dir()]
    except FileNotFoundError:
        return []


def _jobs(work: Path, *states: str) -> list[Path]:
    return [job for package in _dirs(work / "load" / "normalized") for state in states
            for job in (package / state).glob("*") if job.is_file()]


def phase_count(work: Path, phase: str, loaded_before: set[str]) -> int:
    """How far `phase` has come in the working folder `work` (0: not seen)."""
    if phase == "extracting":
        return sum(path.name != "extracted" for path in _dirs(work / "normalize"))
    if phase == "extracted":
        return len(_dirs(work / "normalize" / "extracted"))
    if phase == "normalizing":
        return len(_dirs(work / "load" / "new"))
    if phase == "loading":
        return len(_jobs(work, "started_jobs", "completed_jobs"))
    if phase == "merging":
        return sum(job.suffix == ".sql" for job in _jobs(work, "started_jobs", "completed_jobs"))
    assert phase == "loaded", phase
    return len({path.name for path in _dirs(work / "load" / "loaded")} - loaded_before)


def leftovers(work: Path) -> list[str]:
    """What a run left in the working folder that the next run has to complete or discard."""
    return [
        *(f"partly written {path}" for pattern in ("*", "*/*", "*/*/*")
          for path in work.glob(pattern) if TEMPORARY.fullmatch(path.name) and path.is_file()),
        *(f"temporary {path.name}" for path in _dirs(work / "normalize")
          if path.name != "extracted"),
        *(f"{stage} {path.name}" for stage, folder in (
            ("extracted", work / "normalize" / "extracted"), ("new", work / "load" / "new"),
            ("normalized", work / "load" / "normalized")) for path in _dirs(folder)),
    ]


def new_company(days: int) -> FakeCompany:
    return FakeCompany(CompanyConfig(entries=120, users=3, customers=3, projects=5,
                                     start=NOW.date() - timedelta(days=days), seed=9), now=NOW)


@dataclass
class Case:
    """One scenario: a fake company served over HTTP, and where the CLI keeps its pipeline."""

    company: FakeCompany
    server: FakeClockodoServer
    destination: str
    root: Path
    dataset: str

    @property
    def pipelines_dir(self) -> Path:
        """Where the CLI keeps its pipeline's working folder (one per destination, location
        and dataset in dlt's data dir), as the CLI computes it in its environment."""
        with patch.dict(os.environ, self.env()), chdir(self.root):
            return Path(workspace.pipelines_dir(self.destination, PIPELINE, self.dataset))

    @property
    def work(self) -> Path:
        return self.pipelines_dir / PIPELINE

    @property
    def log(self) -> Path:
        return self.root / "started.log"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DLT_DATA_DIR": str(self.root / "dlt"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "SOURCES__CLOCKODO__API_USER": API_USER,
            "SOURCES__CLOCKODO__API_KEY": API_KEY,
            "SOURCES__CLOCKODO__BASE_URL": self.server.url,
            "SOURCES__CLOCKODO__START_DATE": first_entry_day(self.company).isoformat(),
            "DESTINATION__POSTGRES__CREDENTIALS": POSTGRES_DSN,
        }

    def pipeline(self) -> dlt.Pipeline:
        """The CLI's pipeline, opened in this process (its state as the CLI left it)."""
        if self.destination == "duckdb":
            destination: Any = dlt.destinations.duckdb(str(self.root / f"{PIPELINE}.duckdb"))
        else:
            credentials = PostgresCredentials(POSTGRES_DSN)
            credentials.password = ""
            destination = dlt.destinations.postgres(credentials=credentials)
        return dlt.pipeline(pipeline_name=PIPELINE, destination=destination,
                            dataset_name=self.dataset, pipelines_dir=str(self.pipelines_dir))

    def args(self, command: list[str]) -> list[str]:
        return [*command, "--destination", self.destination, "--dataset", self.dataset]

    def start(self, command: list[str], crash: Instant | None = None
              ) -> subprocess.Popen[bytes]:
        """The CLI in a process group of its own, its stderr in `log`; with a dlt stage
        `crash`, set to kill itself there."""
        env = self.env()
        code = ["-m", "clockodo_source.app.cli"]
        if crash is not None and crash.dlt is not None:
            env["CLOCKODO_CRASH_AT"] = json.dumps(crash.dlt)
            code = ["-c", CHILD]
        with open(self.log, "wb") as log:
            return subprocess.Popen([sys.executable, *code, *self.args(command)], cwd=self.root,
                                    env=env, stdout=subprocess.DEVNULL, stderr=log,
                                    start_new_session=True)

    def run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            # --verbose: a failed rerun shows its traceback in the test's failure message
            [sys.executable, "-m", "clockodo_source.app.cli", *self.args(command), "--verbose"],
            cwd=self.root,
            env=self.env(), capture_output=True, text=True, timeout=300, check=False,
        )

    def copy_from(self, template: Case) -> None:
        """Take over `template`'s pipeline: its working folder and its dataset."""
        shutil.copytree(template.work, self.work)
        if self.destination == "duckdb":
            shutil.copy(template.root / f"{PIPELINE}.duckdb", self.root / f"{PIPELINE}.duckdb")
            return
        with template.pipeline().sql_client() as client:
            for suffix in ("", "_staging"):
                source, target = f"{template.dataset}{suffix}", f"{self.dataset}{suffix}"
                client.execute_sql(f'CREATE SCHEMA "{target}"')
                for (table,) in client.execute_sql(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = %s AND table_type = 'BASE TABLE'", source):
                    client.execute_sql(
                        f'CREATE TABLE "{target}"."{table}" '
                        f'(LIKE "{source}"."{table}" INCLUDING ALL); '
                        f'INSERT INTO "{target}"."{table}" SELECT * FROM "{source}"."{table}"')


@pytest.fixture(scope="session")
def first_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Case]]:
    """One completed first run per destination (made when first asked for), for cases to copy."""
    made: dict[str, Case] = {}
    yield made
    for case in made.values():
        if case.destination == "postgres":
            drop_dataset(case.pipeline())


@pytest.fixture
def make_case(tmp_path: Path, first_runs: dict[str, Case],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Case]]:
    """Cases over small companies of their own (they get changed), datasets dropped after.
    `loaded`: the pipeline holds a completed first run."""
    made: list[Case] = []
    with ExitStack() as servers:

        def make(destination: str, days: int = 90, root: Path = tmp_path,
                 loaded: bool = False) -> Case:
            company = new_company(days)
            server = servers.enter_context(
                FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY))
            dataset = "clockodo" if destination == "duckdb" else f"t_{uuid.uuid4().hex[:12]}"
            root.mkdir(exist_ok=True)
            case = Case(company, server, destination, root, dataset)
            made.append(case)
            if loaded:
                case.copy_from(first_run(destination))
            return case

        def first_run(destination: str) -> Case:
            if destination not in first_runs:
                template = make(destination, root=tmp_path_factory.mktemp("first_run"))
                template.pipeline().run(clockodo_source(
                    api_user=API_USER, api_key=API_KEY, base_url=template.server.url,
                    start_date=first_entry_day(template.company).isoformat()))
                first_runs[destination] = made.pop()
            return first_runs[destination]

        yield make
    for case in made:
        if case.destination == "postgres":
            drop_dataset(case.pipeline())


def change(company: FakeCompany, tag: str, old: bool = False) -> None:
    """Edit and delete entries (recent ones, or `old` ones that only a reconcile re-reads), add
    an entry and a customer: the next run has something of each kind to write."""
    now = company.now
    settled = [row for row in company.all_entries() if row["time_until"]
               and datetime.fromisoformat(row["time_since"]) < now]
    if old:
        chosen = [row for row in settled
                  if datetime.fromisoformat(row["time_since"]) < now - timedelta(days=60)]
    else:
        chosen = [row for row in settled
                  if datetime.fromisoformat(row["time_since"]) > now - timedelta(days=10)]
    company.edit_entry(chosen[0]["id"], text=f"changed {tag}", billable=2)
    company.delete_entry(chosen[-1]["id"])
    company.add_entry()
    company.add_customer(name=f"Added {tag} GmbH")


def kill_at(case: Case, process: subprocess.Popen[bytes], instant: Instant,
            reference: dict[str, float], loaded_before: set[str]) -> None:
    """Kill `process`'s group at `instant`; fail when the process ended before it."""
    phase, delay, later = instant.wait(reference)
    if phase is not None:
        while phase_count(case.work, phase, loaded_before) < instant.nth:
            assert process.poll() is None, case.log.read_text()
            time.sleep(POLL)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not (
                later and phase_count(case.work, later, loaded_before)):
            time.sleep(POLL)
        assert process.poll() is None, case.log.read_text()
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=300)
    assert process.returncode == -signal.SIGKILL, case.log.read_text()


def loaded_packages(case: Case) -> set[str]:
    return {path.name for path in _dirs(case.work / "load" / "loaded")}


def assert_complete(case: Case, rerun: subprocess.CompletedProcess[str], left: list[str]
                    ) -> None:
    """The rerun succeeded, said whether it recovered, and left every table exact against
    the company, without a duplicate row or a leftover package."""
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count(RECOVERED) == bool(left), (left, rerun.stderr)  # in one line
    assert "models:" in rerun.stdout
    pipeline = case.pipeline()
    with held_open(pipeline):
        assert_exact(pipeline, case.company)  # every column of every row, child tables too
        schema = pipeline.default_schema
        for table in schema.data_table_names(seen_data_only=True):
            if "_dlt_id" in schema.tables[table]["columns"]:
                [(rows, ids)] = query(pipeline, "SELECT COUNT(*), COUNT(DISTINCT _dlt_id) "
                                                f"FROM {{ds}}.{table}")
                assert rows == ids, f"duplicate rows in {table}"
        loads = query(pipeline, "SELECT load_id FROM {ds}._dlt_loads")
        assert len(loads) == len(set(loads)), "a load recorded twice"
    assert not pipeline.has_pending_data
    assert leftovers(case.work) == []


REFERENCE: dict[str, dict[str, float]] = {}


def reference(make_case: Callable[..., Case], destination: str, root: Path
              ) -> dict[str, float]:
    """Seconds from the start of a `run` that nothing kills (the same scenario as the cases)
    to the first sight of each phase and to its `end`; the run must leave every table exact."""
    if destination in REFERENCE:
        return REFERENCE[destination]
    case = make_case(destination, root=root, loaded=True)
    change(case.company, "before")
    loaded_before = loaded_packages(case)
    started = time.monotonic()
    process = case.start(["run"])
    seen: dict[str, float] = {}
    while process.poll() is None:
        for phase in PHASE_NAMES:
            if phase not in seen and phase_count(case.work, phase, loaded_before):
                seen[phase] = time.monotonic() - started
        time.sleep(POLL)
    seen["end"] = time.monotonic() - started
    assert process.returncode == 0, case.log.read_text()
    assert set(seen) == {*PHASE_NAMES, "end"}, seen
    assert_exact(case.pipeline(), case.company)
    REFERENCE[destination] = seen
    return seen


@pytest.mark.parametrize("destination", DESTINATIONS)
@pytest.mark.parametrize("instant", RUN_INSTANTS, ids=lambda instant: instant.name)
def test_killed_run_is_completed_by_the_next(
        destination: str, instant: Instant, make_case: Callable[..., Case], tmp_path: Path
) -> None:
    timing = {} if instant.moment is None else reference(make_case, destination,
                                                         tmp_path / "reference")
    case = make_case(destination, loaded=True)
    change(case.company, "before")
    loaded_before = loaded_packages(case)
    kill_at(case, case.start(["run"], instant), instant, timing, loaded_before)
    left = leftovers(case.work)
    change(case.company, "after")
    assert_complete(case, case.run(["run"]), left)


def test_half_written_files_are_deleted_by_the_next_holder_of_the_run_lock(
        caplog: pytest.LogCaptureFixture) -> None:
    """A temporary file of a killed write in `schemas/` is deleted by the next command to open
    the pipeline while no run holds its lock, and left alone while one does: it may be a live
    run's write, a few milliseconds from its rename. A command that does not load (`status`)
    says so itself; a loading one says it in its recovery line (`assert_complete`)."""
    caplog.set_level(logging.INFO, logger="clockodo_source")
    name, dataset = "clockodo_pipeline", "clockodo"
    work = Path(make_pipeline(name, "duckdb", dataset).working_dir)
    half_written = work / "schemas" / "1618296d7bfb822a"
    half_written.parent.mkdir(parents=True, exist_ok=True)
    with workspace.run_lock(workspace.pipelines_dir("duckdb", name, dataset), name):
        half_written.write_text("{")  # a live run's write
        make_pipeline(name, "duckdb", dataset)
        assert half_written.exists()
        assert RECOVERED not in caplog.text
    make_pipeline(name, "duckdb", dataset)
    assert not half_written.exists()
    assert leftovers(work) == []
    assert [record.message for record in caplog.records] == [
        f"{RECOVERED}: deleted 1 partly written file"]


@pytest.mark.parametrize("destination", DESTINATIONS)
@pytest.mark.parametrize("instant", BACKFILL_INSTANTS, ids=lambda instant: instant.name)
def test_killed_backfill_is_finished_by_the_next_run(
        destination: str, instant: Instant, make_case: Callable[..., Case]
) -> None:
    case = make_case(destination, days=75)
    start = first_entry_day(case.company)
    end = case.company.now.date() + timedelta(days=1)
    command = ["backfill", "--start-date", start.isoformat(), "--end-date", end.isoformat(),
               "--window", "month"]
    kill_at(case, case.start(command, instant), instant, {}, set())
    left = leftovers(case.work)
    change(case.company, "after")
    assert_complete(case, case.run(["run"]), left)


@pytest.mark.parametrize("destination", DESTINATIONS)
@pytest.mark.parametrize("instant", RECONCILE_INSTANTS, ids=lambda instant: instant.name)
def test_killed_reconcile_is_completed_by_the_next(
        destination: str, instant: Instant, make_case: Callable[..., Case]
) -> None:
    case = make_case(destination, loaded=True)
    change(case.company, "before", old=True)
    loaded_before = loaded_packages(case)
    kill_at(case, case.start(["reconcile"], instant), instant, {}, loaded_before)
    left = leftovers(case.work)
    change(case.company, "after", old=True)
    assert_complete(case, case.run(["reconcile"]), left)
