"""Airflow: DAG `clockodo_accounts`, one task group per configured Clockodo account (dlt's
`PipelineTasksGroup`), then the analytics models and the union views of that account.

    pip install "clockodo-dlt[airflow]"
    cp pipelines/airflow_dag.py "$AIRFLOW_HOME/dags/"   # with dags/.dlt/secrets.toml beside it

Accounts come from `[sources.clockodo.accounts.<name>]` in the dags folder's `.dlt/secrets.toml`
(or `SOURCES__CLOCKODO__ACCOUNTS__<NAME>__<KEY>` variables), as for `clockodo-pipeline run
--all-accounts`. The destination is `CLOCKODO_DESTINATION` (default duckdb; set
`DESTINATION__DUCKDB__CREDENTIALS` to a lasting path, since every account shares the one file),
the schedule `CLOCKODO_SCHEDULE` (default hourly). With DuckDB, which one process writes at a
time, the accounts run one after another; on PostgreSQL side by side. A failed account fails
its own tasks only (the next account still runs: trigger rule `all_done`).
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import partial
from typing import cast

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from dlt.common.destination import TLoaderFileFormat
from dlt.extract.source import DltSource
from dlt.helpers.airflow_helper import PipelineTasksGroup

from clockodo_source import clockodo_source
from clockodo_source.analytics import build_models
from clockodo_source.app.accounts import Account, configured_accounts, refresh_union, share_duckdb
from clockodo_source.app.destinations import run_options
from clockodo_source.app.pipelines import make_pipeline

DAG_ID = "clockodo_accounts"


def after_load(account: Account, destination: str, datasets: dict[str, str]) -> None:
    """The account's analytics models, then the union views over every account."""
    pipeline = make_pipeline(account.pipeline_name, destination, account.dataset)
    build_models(pipeline)
    print(refresh_union(pipeline, datasets))


def clockodo_dag(accounts: list[Account], destination: str = "duckdb",
                 schedule: str = "0 * * * *") -> DAG:
    """The DAG of `accounts`: per account a task group loading it and a task after it."""
    share_duckdb(destination)
    datasets = {account.name: account.dataset for account in accounts}
    with DAG(DAG_ID, schedule=schedule, start_date=datetime(2024, 1, 1), catchup=False,
             max_active_runs=1, tags=["clockodo"]) as dag:
        previous = None
        for account in accounts:
            group = PipelineTasksGroup(account.pipeline_name, wipe_local_data=True,
                                       use_data_folder=False)
            pipeline = make_pipeline(account.pipeline_name, destination, account.dataset)
            formats = run_options(pipeline, clockodo_source(**account.source_args()))

            def source(account: Account = account) -> DltSource:
                # built as the task runs: its clock and counters start then
                return clockodo_source(**account.source_args())  # type: ignore[no-any-return]

            load = group.add_run(pipeline, source, decompose="none", trigger_rule="all_done",
                                 loader_file_format=cast(TLoaderFileFormat,
                                                         formats.get("loader_file_format")))
            finish = PythonOperator(
                task_id=f"{account.pipeline_name}_models",
                python_callable=partial(after_load, account, destination, datasets),
            )
            load[-1] >> finish
            if destination == "duckdb" and previous is not None:
                previous >> load[0]  # one writer of the DuckDB file at a time
            previous = finish
    return dag


# Airflow finds DAGs among a module's globals
dag = clockodo_dag(configured_accounts(), os.environ.get("CLOCKODO_DESTINATION", "duckdb"),
                   os.environ.get("CLOCKODO_SCHEDULE", "0 * * * *"))


if __name__ == "__main__":  # `python airflow_dag.py`: one run now, in this process
    raise SystemExit(0 if dag.test().state == "success" else 1)
