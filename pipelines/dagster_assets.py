"""Dagster: every configured Clockodo account as a group of assets, one asset per table.

    pip install "clockodo-dlt[dagster]"
    dagster dev -f pipelines/dagster_assets.py

Accounts come from `[sources.clockodo.accounts.<name>]` in `.dlt/secrets.toml` (or
`SOURCES__CLOCKODO__ACCOUNTS__<NAME>__<KEY>` variables), as for `clockodo-pipeline run
--all-accounts`; each is group `clockodo_<name>` with asset keys `clockodo_<name>/<table>`, loaded
through `dagster-dlt` into its own pipeline and dataset. After each account's load the analytics
models are rebuilt in its dataset and the union views of `clockodo_all` over every account.
Job `clockodo_accounts` materializes them all, hourly by schedule (`CLOCKODO_SCHEDULE`, a cron
expression); the destination is `CLOCKODO_DESTINATION` (default duckdb: one file,
`clockodo.duckdb`, so the job runs its steps in one process, one account after the other;
on PostgreSQL each account runs in a process of its own, in parallel). An account's step holds
its pipeline's run lock: while a `clockodo-pipeline` run of the same pipeline is in progress the
step fails naming it, and a run started meanwhile exits 75. What a killed run of the pipeline
left (a crashed worker, a CLI run killed) does not carry over: dagster-dlt drops the pipeline's
local state before each run and dlt restores it from the destination.
"""

# no `from __future__ import annotations`: Dagster reads the context parameter's annotation
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from clockodo_source import clockodo_source
from clockodo_source.analytics import build_models
from clockodo_source.app.accounts import Account, configured_accounts, refresh_union, share_duckdb
from clockodo_source.app.destinations import run_options
from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.app.workspace import run_lock

JOB = "clockodo_accounts"
DEFAULT_SCHEDULE = "0 * * * *"


@dataclass
class AccountTranslator(DagsterDltTranslator):
    """Asset keys per account (`clockodo_<name>/<table>`), with no upstream source assets."""

    group: str = "clockodo"

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(key=dg.AssetKey([self.group, data.resource.name]),
                                       deps=[])


def account_assets(account: Account, destination: str, datasets: dict[str, str]
                   ) -> dg.AssetsDefinition:
    """One asset per table of `account`, in group `clockodo_<name>`."""
    pipeline = make_pipeline(account.pipeline_name, destination, account.dataset)
    group = account.pipeline_name

    @dlt_assets(dlt_source=clockodo_source(**account.source_args()), dlt_pipeline=pipeline,
                name=group, group_name=group, dagster_dlt_translator=AccountTranslator(group))
    def assets(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        # the pipeline's run lock, as the command line takes it: a CLI run or backfill of the
        # same pipeline in progress fails this step with its holder instead of loading beside it
        with run_lock(pipeline.pipelines_dir, pipeline.pipeline_name):
            # a source of this run's own: its clock and counters start now
            source = clockodo_source(**account.source_args())
            yield from dlt.run(context=context, dlt_source=source,
                               **run_options(pipeline, source))
            build_models(pipeline)
            context.log.info(refresh_union(pipeline, datasets))

    return assets


def clockodo_definitions(accounts: Sequence[Account], destination: str = "duckdb",
                         schedule: str = DEFAULT_SCHEDULE) -> dg.Definitions:
    """Assets of `accounts`, the job that materializes them all and its schedule."""
    share_duckdb(destination)
    datasets = {account.name: account.dataset for account in accounts}
    assets = [account_assets(account, destination, datasets) for account in accounts]
    job = dg.define_asset_job(
        JOB, selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor if destination == "duckdb" else None,
    )
    return dg.Definitions(
        assets=assets, jobs=[job],
        schedules=[dg.ScheduleDefinition(job=job, cron_schedule=schedule)],
        resources={"dlt": DagsterDltResource()},
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What `dagster dev -f pipelines/dagster_assets.py` loads: the configured accounts."""
    return clockodo_definitions(
        configured_accounts(), os.environ.get("CLOCKODO_DESTINATION", "duckdb"),
        os.environ.get("CLOCKODO_SCHEDULE", DEFAULT_SCHEDULE),
    )
