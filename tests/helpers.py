"""Test helpers: pointing the source at a fake server, and reading back what was loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest

from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import ENTITIES

API_USER = "tester@example.com"
API_KEY = "s3cr3t-test-key-7f1c"


def configure_source(monkeypatch: pytest.MonkeyPatch, server: FakeClockodoServer,
                     start_date: str) -> None:
    """Point the source at `server` through dlt's env config, as a user would."""
    monkeypatch.setenv("SOURCES__CLOCKODO__API_USER", API_USER)
    monkeypatch.setenv("SOURCES__CLOCKODO__API_KEY", API_KEY)
    monkeypatch.setenv("SOURCES__CLOCKODO__BASE_URL", server.url)
    monkeypatch.setenv("SOURCES__CLOCKODO__START_DATE", start_date)
    monkeypatch.setenv("SOURCES__CLOCKODO__BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("SOURCES__CLOCKODO__RETRY_AFTER_FLOOR_SECONDS", "0.01")


def duckdb_pipeline(tmp_path: Path, name: str = "clockodo_pipeline") -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
        dataset_name="clockodo",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def stored_keys(pipeline: dlt.Pipeline, table: str) -> list[tuple[Any, ...]]:
    """Primary keys of every stored row (a list, so duplicates show)."""
    columns = ", ".join(ENTITIES[table].primary_key)
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        return [tuple(row) for row in client.execute_sql(f"SELECT {columns} FROM {name}")]


def query(pipeline: dlt.Pipeline, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        dataset = client.fully_qualified_dataset_name()
        return [tuple(row) for row in client.execute_sql(sql.format(ds=dataset), *args) or []]
