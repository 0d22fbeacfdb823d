"""The Airflow DAG (`pipelines/airflow_dag.py`) run with `dag.test()` against two fake Clockodo
APIs into one DuckDB file.

Not in the default suite (its name is not `test_*.py`): Airflow is not in the `[test]` extra,
since with Airflow installed dlt imports it in every process to look for Airflow secrets
(`clockodo-pipeline status` 1.3 s -> 3.3 s), which every CLI test would pay. Run it with

    pip install -e ".[test,airflow]" && python -m pytest -n 0 tests/airflow_dag_check.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dlt
import pytest

from clockodo_source.fake.server import FakeClockodoServer
from tests.expected import first_entry_day
from tests.helpers import query
from tests.test_accounts import _company
from tests.test_change_capture import assert_exact

DAG_FILE = Path(__file__).parent.parent / "pipelines" / "airflow_dag.py"


@pytest.fixture
def servers() -> Iterator[dict[str, FakeClockodoServer]]:
    with FakeClockodoServer(_company(61, 300, 4), api_user="ops@acme.example",
                            api_key="acme-key") as acme, \
            FakeClockodoServer(_company(62, 350, 6), api_user="it@globex.example",
                               api_key="globex-key") as globex:
        yield {"acme": acme, "globex": globex}


def test_dag_loads_every_account(servers: dict[str, FakeClockodoServer], tmp_path: Path
                                 ) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "clockodo_dag.py").symlink_to(DAG_FILE)
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
           "RUNTIME__DLTHUB_TELEMETRY": "false", "DLT_DATA_DIR": str(tmp_path / "dlt"),
           "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "clockodo.duckdb"),
           "PYTHONPATH": str(DAG_FILE.parent.parent)}
    for name, server in servers.items():
        prefix = f"SOURCES__CLOCKODO__ACCOUNTS__{name.upper()}__"
        env.update({prefix + "API_USER": server.api_user, prefix + "API_KEY": server.api_key,
                    prefix + "BASE_URL": server.url,
                    prefix + "START_DATE": first_entry_day(server.company).isoformat()})
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    run = subprocess.run([sys.executable, str(dags / "clockodo_dag.py")], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)

    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    for name, server in servers.items():
        assert f"task_id=clockodo_{name}.clockodo_{name}" in run.stdout + run.stderr
        reader = dlt.pipeline(
            pipeline_name=f"reader_{name}", dataset_name=f"clockodo_{name}",
            destination=dlt.destinations.duckdb(str(tmp_path / "clockodo.duckdb")),
            pipelines_dir=str(tmp_path / "readers"))
        assert_exact(reader, server.company)
    union = dlt.pipeline(pipeline_name="reader_all", dataset_name="clockodo_all",
                         destination=dlt.destinations.duckdb(str(tmp_path / "clockodo.duckdb")),
                         pipelines_dir=str(tmp_path / "readers"))
    assert dict(query(union, "SELECT _account, COUNT(*) FROM {ds}.entries GROUP BY _account")) \
        == {name: len(server.company.all_entries()) for name, server in servers.items()}
