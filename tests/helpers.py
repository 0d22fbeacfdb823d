"""Test helpers: pointing the source at a fake server, and reading back what was loaded."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

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


def fake_api_env(url: str, **settings: str) -> dict[str, str]:
    """The environment of a CLI process pointed at the fake API at `url` with the test's
    credentials, plus `settings` (more environment variables)."""
    return {"SOURCES__CLOCKODO__API_USER": API_USER, "SOURCES__CLOCKODO__API_KEY": API_KEY,
            "SOURCES__CLOCKODO__BASE_URL": url, **settings}


POSTGRES_DSN = "postgresql://root@127.0.0.1:5432/test"
DESTINATIONS = ("duckdb", "postgres")


def duckdb_pipeline(tmp_path: Path, name: str = "clockodo_pipeline") -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
        dataset_name="clockodo",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def postgres_pipeline(tmp_path: Path, name: str = "clockodo_pipeline") -> dlt.Pipeline:
    """A pipeline into the local PostgreSQL (trust auth) with a dataset of its own."""
    credentials = PostgresCredentials(POSTGRES_DSN)
    credentials.password = ""
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=credentials),
        dataset_name=f"t_{uuid.uuid4().hex[:12]}",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def pipeline_for(destination: str, tmp_path: Path) -> dlt.Pipeline:
    return duckdb_pipeline(tmp_path) if destination == "duckdb" else postgres_pipeline(tmp_path)


def drop_dataset(pipeline: dlt.Pipeline) -> None:
    """Remove a test's PostgreSQL schemas (the dataset and dlt's staging dataset)."""
    if pipeline.destination.destination_name != "postgres":
        return
    with pipeline.sql_client() as client:
        for schema in (pipeline.dataset_name, f"{pipeline.dataset_name}_staging"):
            client.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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
