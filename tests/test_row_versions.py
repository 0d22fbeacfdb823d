"""dlt's own columns on every table, and the run summary's "updated" counting changed rows only.

Every table carries `_dlt_load_id` (the load that wrote a row, which dbt's incremental models
select on) and `_dlt_id`, which the source sets to the row's version: a reconcile that rewrites
unchanged rows reports none of them as updated. Real pipelines and CLI subprocesses load from
the fake API into DuckDB files and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import dlt
import pyarrow as pa

from clockodo_source import clockodo_source
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import ENTITIES
from tests.expected import first_entry_day
from tests.helpers import (
    API_KEY,
    API_USER,
    POSTGRES_DSN,
    drop_dataset,
    fake_api_env,
    pipeline_for,
    query,
)


def small_company() -> FakeCompany:
    """A company without a running entry, whose user reports would change by the second."""
    company = FakeCompany(CompanyConfig(entries=600, seed=11,
                                        start=date.today() - timedelta(days=400)))
    company.stop_running_entry()
    return company


def assert_dlt_columns(pipeline: dlt.Pipeline) -> None:
    """Each root table: every row names a load recorded in `_dlt_loads`, each `_dlt_id` once."""
    schema = pipeline.default_schema
    roots = [table for table in schema.data_table_names(seen_data_only=True)
             if not schema.tables[table].get("parent")]
    assert "entries" in roots
    for table in roots:
        [(rows, loads, recorded, ids)] = query(
            pipeline,
            "SELECT COUNT(*), COUNT(_dlt_load_id), "
            "COUNT(*) FILTER (WHERE _dlt_load_id IN (SELECT load_id FROM {ds}._dlt_loads)), "
            f"COUNT(DISTINCT _dlt_id) FROM {{ds}}.{table}")
        assert rows == loads == recorded == ids, (table, rows, loads, recorded, ids)


def test_every_table_carries_dlts_columns(make_pipeline: Callable[[], dlt.Pipeline]) -> None:
    company = small_company()
    pipeline = make_pipeline()
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:

        def load(full: bool = False) -> str:
            pipeline.run(clockodo_source(api_user=API_USER, api_key=API_KEY,
                                         base_url=server.url, full=full,
                                         start_date=first_entry_day(company).isoformat()))
            return str(pipeline.last_trace.last_normalize_info.loads_ids[0])

        first = load()
        assert_dlt_columns(pipeline)
        edited = company.edit_entry(company.all_entries()[-5]["id"], text="edited")["id"]
        added = company.add_entry()["id"]
        second = load()
        assert_dlt_columns(pipeline)  # the merge keeps one row, with one id, per entry
        loads = dict(query(pipeline, "SELECT id, _dlt_load_id FROM {ds}.entries"))
        assert loads[edited] == loads[added] == second
        assert list(loads.values()).count(first) == len(loads) - 2
        ids = dict(query(pipeline, "SELECT id, _dlt_id FROM {ds}.entries"))
        load(full=True)
        assert_dlt_columns(pipeline)
        assert dict(query(pipeline, "SELECT id, _dlt_id FROM {ds}.entries")) == ids


def test_entries_iterated_outside_a_pipeline_carry_row_ids(api: FakeClockodoServer,
                                                           company: FakeCompany) -> None:
    """Without a load there is no load id; the entries still come, each with its row id."""
    dlt.current.pipeline().deactivate()  # an earlier test's pipeline would lend its state
    source = clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=api.url,
                             start_date=first_entry_day(company).isoformat())
    table = pa.concat_tables(source.with_resources("entries"))
    assert table["_dlt_load_id"].null_count == table.num_rows
    assert table["_dlt_id"].null_count == 0
    assert len(set(table["_dlt_id"].to_pylist())) == table.num_rows == len(company.all_entries())


def summary(stdout: str) -> dict[str, dict[str, str]]:
    """The run summary's table, per table: column -> figure."""
    lines = stdout.splitlines()
    at = next(index for index, line in enumerate(lines) if line.split()[:2] == ["table",
                                                                                 "written"])
    header = lines[at].split()
    rows = {}
    for line in lines[at + 1:]:
        cells = line.split()
        if len(cells) != len(header) or cells[0] not in ENTITIES:
            break
        rows[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
    return rows


def test_reconcile_counts_changed_rows_as_updated(destination: str, tmp_path: Path) -> None:
    company = small_company()
    probe = pipeline_for(destination, tmp_path)
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        env = {**os.environ, **fake_api_env(
            server.url, SOURCES__CLOCKODO__START_DATE=first_entry_day(company).isoformat(),
            DESTINATION__POSTGRES__CREDENTIALS=POSTGRES_DSN, RUNTIME__DLTHUB_TELEMETRY="false")}

        def cli(*args: str) -> dict[str, dict[str, str]]:
            result = subprocess.run(
                [sys.executable, "-m", "clockodo_source.app.cli", *args, "--destination",
                 destination, "--dataset", probe.dataset_name],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
            assert result.returncode == 0, result.stderr
            return summary(result.stdout)

        try:
            loaded = cli("run")
            assert int(loaded["entries"]["added"].replace(",", "")) == len(company.all_entries())
            unchanged = cli("reconcile")
            counted = [table for table, row in unchanged.items() if row["updated"] != "-"]
            assert len(counted) == len(ENTITIES) - 1  # all but the derived customers_projects
            assert {table: unchanged[table]["updated"] for table in counted} == dict.fromkeys(
                counted, "0")
            assert int(unchanged["work_times"]["written"].replace(",", "")) > 0  # rewritten
            for customer in company.customers[:2]:
                company.edit("customers", customer["id"], note="changed")
            for absence in company.absences[:3]:
                company.edit_absence(absence["id"], note="changed")
            for entry in company.all_entries()[:4]:
                company.edit_entry(entry["id"], text="changed")
            edited = cli("reconcile")
            updated = {table: edited[table]["updated"] for table in counted}
            assert updated == {**dict.fromkeys(counted, "0"),
                               "customers": "2", "absences": "3", "entries": "4"}
        finally:
            drop_dataset(probe)
