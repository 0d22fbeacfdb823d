"""The Dagster integration (`pipelines/dagster_assets.py`): the job materializes every table of
every configured account in-process, from two fake Clockodo APIs into one DuckDB file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import dlt
import pytest

from clockodo_source.app.accounts import configured_accounts
from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.app.workspace import run_lock
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import ENTITIES
from pipelines.dagster_assets import DEFAULT_SCHEDULE, JOB, clockodo_definitions
from tests.expected import first_entry_day
from tests.helpers import query
from tests.test_accounts import _company
from tests.test_change_capture import assert_exact
from tests.test_crash_safety import CHILD, PACKAGE, at


@pytest.fixture
def accounts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
             ) -> Iterator[dict[str, FakeClockodoServer]]:
    """acme and globex configured as environment variables, as in a deployment."""
    with FakeClockodoServer(_company(51, 300, 4), api_user="ops@acme.example",
                            api_key="acme-key") as acme, \
            FakeClockodoServer(_company(52, 380, 6), api_user="it@globex.example",
                               api_key="globex-key") as globex:
        servers = {"acme": acme, "globex": globex}
        for name, server in servers.items():
            prefix = f"SOURCES__CLOCKODO__ACCOUNTS__{name.upper()}__"
            monkeypatch.setenv(prefix + "API_USER", server.api_user)
            monkeypatch.setenv(prefix + "API_KEY", server.api_key)
            monkeypatch.setenv(prefix + "BASE_URL", server.url)
            monkeypatch.setenv(prefix + "START_DATE",
                               first_entry_day(server.company).isoformat())
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "clockodo.duckdb"))
        yield servers


def _reader(tmp_path: Path, dataset: str) -> dlt.Pipeline:
    return dlt.pipeline(pipeline_name=f"reader_{dataset}", dataset_name=dataset,
                        destination=dlt.destinations.duckdb(str(tmp_path / "clockodo.duckdb")),
                        pipelines_dir=str(tmp_path / "readers"))


def test_job_materializes_every_table_of_every_account(
        accounts: dict[str, FakeClockodoServer], tmp_path: Path) -> None:
    defs = clockodo_definitions(configured_accounts())
    job = defs.resolve_job_def(JOB)
    schedule = defs.resolve_schedule_def(f"{JOB}_schedule")
    assert (schedule.cron_schedule, schedule.job_name) == (DEFAULT_SCHEDULE, JOB)

    result = job.execute_in_process()

    assert result.success
    expected = {dg.AssetKey([f"clockodo_{name}", table]) for name in accounts for table in ENTITIES}
    assert {event.asset_key for event in result.get_asset_materialization_events()} == expected
    graph = defs.resolve_asset_graph()
    assert {key: graph.get(key).group_name for key in expected} == {
        key: key.path[0] for key in expected}
    for name, server in accounts.items():
        assert_exact(_reader(tmp_path, f"clockodo_{name}"), server.company)
    union = _reader(tmp_path, "clockodo_all")
    assert dict(query(union, "SELECT _account, COUNT(*) FROM {ds}.entries GROUP BY _account")) \
        == {name: len(server.company.all_entries()) for name, server in accounts.items()}
    assert dict(query(union, "SELECT _account, COUNT(*) FROM {ds}.unbilled_time "
                             "GROUP BY _account")).keys() == accounts.keys()


def test_an_accounts_step_fails_naming_the_cli_run_that_holds_its_pipeline(
        accounts: dict[str, FakeClockodoServer], tmp_path: Path) -> None:
    """A `clockodo-pipeline run` of acme in progress (its run lock held): acme's step fails with
    the holder and loads nothing beside it, globex loads; the next materialization loads acme."""
    defs = clockodo_definitions(configured_accounts())
    job = defs.resolve_job_def(JOB)
    acme = next(account for account in configured_accounts() if account.name == "acme")
    held = make_pipeline(acme.pipeline_name, "duckdb", acme.dataset)

    with run_lock(held.pipelines_dir, held.pipeline_name):
        result = job.execute_in_process(raise_on_error=False)

    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert [event.step_key for event in failures] == ["clockodo_acme"]
    message = failures[0].step_failure_data.error.to_string()  # with its cause
    assert f"another run of pipeline clockodo_acme is in progress (pid {os.getpid()}, since " \
        in message
    assert {event.asset_key.path[0] for event in result.get_asset_materialization_events()} \
        == {"clockodo_globex"}
    schemas = query(_reader(tmp_path, "clockodo_globex"),
                    "SELECT schema_name FROM information_schema.schemata")
    assert acme.dataset not in {name for name, in schemas}
    assert_exact(_reader(tmp_path, "clockodo_globex"), accounts["globex"].company)

    assert job.execute_in_process().success
    assert_exact(_reader(tmp_path, "clockodo_acme"), accounts["acme"].company)


def test_a_materialization_completes_what_a_killed_cli_run_left(
        accounts: dict[str, FakeClockodoServer], tmp_path: Path) -> None:
    """`clockodo-pipeline run --account acme` killed (SIGKILL) after the destination committed
    the replacement of customers and before dlt recorded it: the next materialization loads acme
    exactly, newer rows included and no customer twice (dagster-dlt drops the pending package
    and the local state, which dlt restores from the destination)."""
    crash = at("customers-replaced", PACKAGE, "save_pending_transition", "before", "'customers.")
    assert crash.dlt is not None
    killed = subprocess.run(
        [sys.executable, "-c", CHILD, "run", "--account", "acme"], cwd=tmp_path,
        env={**os.environ, "CLOCKODO_CRASH_AT": json.dumps(crash.dlt)}, capture_output=True,
        text=True, timeout=300, start_new_session=True, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    accounts["acme"].company.add_entry()

    result = clockodo_definitions(configured_accounts()).resolve_job_def(JOB).execute_in_process()

    assert result.success
    for name, server in accounts.items():
        assert_exact(_reader(tmp_path, f"clockodo_{name}"), server.company)
