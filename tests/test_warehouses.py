"""BigQuery and Snowflake readiness, checked without an account and without a connection.

The source is extracted from the fake API and normalized for each warehouse; then the normalized
schema, the load package and dlt's own pre-load checks are held against what that warehouse's
dlt destination supports. The look-ups the source makes against the destination (to find deleted
rows) go to a stubbed SQL client that answers like an empty dataset, so nothing leaves the
process; the statements it receives are checked as SQL of the warehouse's dialect.

Needs `dlt[bigquery,snowflake]` (google-cloud-bigquery, snowflake-connector-python) and sqlglot;
without them these tests fail rather than skip.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dlt
import pytest
import sqlglot
from dlt.common.destination import Destination
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.destination.utils import resolve_merge_strategy
from dlt.common.schema import Schema
from dlt.common.schema.typing import TTableSchema
from dlt.common.schema.utils import get_nested_tables, has_table_seen_data
from dlt.common.storages import ParsedLoadJobFileName
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from clockodo_source import clockodo_source
from clockodo_source.app.destinations import run_options
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import CATALOG, DELETED_COLUMN, ENTITIES, Entity
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER

INSTALL = "pip install 'dlt[bigquery,snowflake]'"
#: per warehouse: dlt's SQL client and merge job (import paths), and dummy credentials
WAREHOUSES: dict[str, dict[str, Any]] = {
    "bigquery": {
        "sql_client": "dlt.destinations.impl.bigquery.sql_client:BigQuerySqlClient",
        "merge_job": "dlt.destinations.impl.bigquery.bigquery:BigQueryMergeJob",
        "credentials": {
            "project_id": "clockodo-test",
            "client_email": "loader@clockodo-test.iam.gserviceaccount.com",
            "private_key": "not-a-key",
        },
        # BigQuery's TIMESTAMP is an absolute instant (UTC); DATETIME would be wall-clock time
        "timestamp": "TIMESTAMP",
    },
    "snowflake": {
        "sql_client": "dlt.destinations.impl.snowflake.sql_client:SnowflakeSqlClient",
        "merge_job": "dlt.destinations.impl.snowflake.snowflake:SnowflakeMergeJob",
        "credentials": "snowflake://loader:not-a-password@account/CLOCKODO_DB?warehouse=WH",
        # an instant; TIMESTAMP_NTZ would drop the UTC meaning of the API's times
        "timestamp": "TIMESTAMP_LTZ",
    },
}
#: the format dlt prefers for both warehouses, and the one `run_options` (the CLI) picks
FORMATS = ("jsonl", "parquet")


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:  # a missing client library fails, it never skips
        pytest.fail(f"{path} cannot be imported ({exc}); run `{INSTALL}`")


@dataclass
class Lookups:
    """What the stubbed warehouse SQL client was asked while the source ran."""

    opened: int = 0
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


@dataclass
class Normalized:
    warehouse: str
    file_format: str
    pipeline: dlt.Pipeline
    lookups: Lookups

    @property
    def schema(self) -> Schema:
        return self.pipeline.default_schema

    @property
    def caps(self) -> DestinationCapabilitiesContext:
        return self.pipeline.destination.capabilities()

    def jobs(self) -> list[ParsedLoadJobFileName]:
        (load_id,) = self.pipeline.list_normalized_load_packages()
        info = self.pipeline.get_load_package_info(load_id)
        assert not info.jobs["failed_jobs"]
        return [job.job_file_info for job in info.jobs["new_jobs"]]


def _destination(warehouse: str) -> Destination[Any, Any]:
    credentials = WAREHOUSES[warehouse]["credentials"]
    if warehouse == "bigquery":
        return dlt.destinations.bigquery(credentials=credentials)
    return dlt.destinations.snowflake(credentials=credentials)


def _stub_sql_client(monkeypatch: pytest.MonkeyPatch, warehouse: str) -> Lookups:
    """Make the warehouse's dlt SQL client answer like an empty dataset without connecting:
    every statement is recorded and fails as a missing table does on the real warehouse."""
    client_class = _load(WAREHOUSES[warehouse]["sql_client"])
    lookups = Lookups()

    def open_connection(self: Any) -> None:
        lookups.opened += 1

    def execute_sql(self: Any, sql: str, *args: Any, **kwargs: Any) -> None:
        lookups.statements.append((sql, args))
        raise DatabaseUndefinedRelation(Exception(f"{sql}: table does not exist (stub)"))

    monkeypatch.setattr(client_class, "open_connection", open_connection)
    monkeypatch.setattr(client_class, "close_connection", lambda self: None)
    @contextmanager
    def execute_query(self: Any, sql: str, *args: Any, **kwargs: Any) -> Iterator[None]:
        execute_sql(self, sql, *args)
        yield

    monkeypatch.setattr(client_class, "execute_sql", execute_sql)
    monkeypatch.setattr(client_class, "execute_query", execute_query)
    return lookups


@pytest.fixture(scope="module", params=[(w, f) for w in WAREHOUSES for f in FORMATS],
                ids=lambda param: "-".join(param))
def normalized(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Normalized]:
    """One extract + normalize per warehouse and file format, in a pipelines dir of its own."""
    warehouse, file_format = request.param
    tmp_path: Path = tmp_path_factory.mktemp(f"{warehouse}_{file_format}")
    company = FakeCompany(CompanyConfig(entries=300, seed=3))
    with pytest.MonkeyPatch.context() as monkeypatch, \
            FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        lookups = _stub_sql_client(monkeypatch, warehouse)
        pipeline = dlt.pipeline(
            pipeline_name=f"clockodo_{warehouse}",
            destination=_destination(warehouse),
            dataset_name="clockodo",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        source = clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=server.url,
                                 start_date=first_entry_day(company).isoformat())
        options = {**run_options(pipeline, source), "loader_file_format": file_format}
        pipeline.extract(source, **options)
        pipeline.normalize()
        yield Normalized(warehouse, file_format, pipeline, lookups)


def _family(schema: Schema, entity: Entity) -> list[TTableSchema]:
    """The entity's table and its nested (child) tables."""
    return [table for table in schema.data_tables()
            if str(table["name"]).split("__", 1)[0] == entity.name]


def test_warehouse_client_libraries_are_installed() -> None:
    for warehouse in WAREHOUSES.values():
        assert callable(_load(warehouse["sql_client"]).open_connection)
        assert callable(_load(warehouse["merge_job"]).generate_sql)


def test_cli_picks_parquet_for_both_warehouses(tmp_path: Path) -> None:
    for warehouse in WAREHOUSES:
        pipeline = dlt.pipeline(pipeline_name=f"options_{warehouse}",
                                destination=_destination(warehouse),
                                pipelines_dir=str(tmp_path / "pipelines"))
        options = run_options(pipeline, clockodo_source(api_user=API_USER, api_key=API_KEY))
        caps = pipeline.destination.capabilities()
        assert options == {"loader_file_format": "parquet"}, warehouse
        assert "parquet" in caps.supported_loader_file_formats, warehouse


def test_load_package_files_are_in_a_supported_format(normalized: Normalized) -> None:
    jobs = normalized.jobs()
    supported = normalized.caps.supported_loader_file_formats
    assert {job.file_format for job in jobs} <= set(supported)
    data_jobs = [job for job in jobs if not job.table_name.startswith("_dlt")]
    assert {job.file_format for job in data_jobs} == {normalized.file_format}
    assert {entity.name for entity in CATALOG} <= {job.table_name for job in data_jobs}


def test_columns_keep_their_declared_types(normalized: Normalized) -> None:
    """No variant columns, no JSON, and every declared column (timestamps and dates at any
    depth included) with exactly the type the catalog declares."""
    schema = normalized.schema
    for table in schema.data_tables():
        for name, column in table["columns"].items():
            where = f"{table['name']}.{name}"
            assert "__v_" not in name, f"variant column {where}"
            assert column.get("data_type") != "json", f"json column {where}"
            # dlt's own columns are only described by the catalog (dlt types them on creation),
            # so in a child table no row reached they stay a description
            assert column.get("data_type") or (set(column) == {"name", "description"} and \
                name.startswith("_dlt_")), f"untyped column {where}"
    for entity in CATALOG:
        columns = schema.get_table(entity.name)["columns"]
        for name, kind in entity.column_types.items():
            assert columns[name]["data_type"] == kind, f"{entity.name}.{name}"
            if kind == "timestamp":
                assert columns[name].get("timezone", True), f"{entity.name}.{name} is naive"
        for table in _family(schema, entity):
            for name, column in table["columns"].items():
                leaf = name.rsplit("__", 1)[-1]
                if leaf in entity.nested_timestamps:
                    assert column["data_type"] == "timestamp", f"{table['name']}.{name}"
                    assert column.get("timezone", True), f"{table['name']}.{name} is naive"
                if leaf in entity.nested_dates:
                    assert column["data_type"] == "date", f"{table['name']}.{name}"
    intervals = schema.get_table("work_times__intervals")["columns"]
    assert intervals["time_since"]["data_type"] == intervals["time_until"]["data_type"] \
        == "timestamp"
    assert schema.get_table("entries")["columns"]["time_since"]["data_type"] == "timestamp"
    assert schema.get_table("users")["columns"]["created_at"]["data_type"] == "timestamp"
    assert schema.get_table("absences")["columns"]["date_since"]["data_type"] == "date"


def test_every_column_maps_to_a_warehouse_type(normalized: Normalized) -> None:
    """dlt's own pre-load verification (identifier lengths and case-folding collisions, type
    mapping, types loadable from the package's file format) passes, and every column maps to
    a warehouse type: instants to the warehouse's timestamp type, dates to DATE."""
    client: Any = normalized.pipeline.destination_client()
    prepared = client.verify_schema(new_jobs=normalized.jobs())
    assert {entity.name for entity in CATALOG} <= {table["name"] for table in prepared}
    timestamp = WAREHOUSES[normalized.warehouse]["timestamp"]
    mapped = 0
    for table in prepared:
        for name, column in table["columns"].items():
            db_type = client.type_mapper.to_destination_type(column, table)
            assert db_type, f"{table['name']}.{name}"
            client.type_mapper.ensure_supported_type(column, table, normalized.file_format)
            if column["data_type"] == "timestamp":
                assert db_type == timestamp, f"{table['name']}.{name}: {db_type}"
            if column["data_type"] == "date":
                assert db_type == "DATE", f"{table['name']}.{name}: {db_type}"
            mapped += 1
    assert mapped > 300


def test_merge_tables_delete_insert_with_hard_deletes(normalized: Normalized) -> None:
    """Merged tables resolve to delete-insert, which the warehouse supports; the `_deleted`
    hard-delete column reaches dlt's merge SQL for the warehouse, and that SQL parses in the
    warehouse's dialect. Replaced tables get a replace strategy the warehouse supports."""
    schema, caps = normalized.schema, normalized.caps
    client: Any = normalized.pipeline.destination_client()
    merge_job = _load(WAREHOUSES[normalized.warehouse]["merge_job"])
    deleted = client.sql_client.escape_column_name(DELETED_COLUMN)
    for entity in CATALOG:
        table = schema.get_table(entity.name)
        assert table["write_disposition"] == entity.write_disposition, entity.name
        if entity.write_disposition != "merge":
            strategy = client.prepare_load_table(entity.name)["x-replace-strategy"]
            assert strategy in caps.supported_replace_strategies, entity.name
            continue
        strategy = resolve_merge_strategy(schema.tables, table, caps)
        assert strategy == "delete-insert", entity.name
        assert strategy in caps.supported_merge_strategies, entity.name
        column = table["columns"][DELETED_COLUMN]
        assert column.get("hard_delete") is True and column["data_type"] == "bool"
        keys = {name for name, col in table["columns"].items() if col.get("primary_key")}
        assert keys == set(entity.primary_key), entity.name
        # as dlt's loader builds it: declared child tables that never saw data are left out
        chain = [client.prepare_load_table(t["name"])
                 for t in get_nested_tables(schema.tables, entity.name)
                 if has_table_seen_data(t)]
        statements = merge_job.generate_sql(chain, client.sql_client)
        sql = "\n".join(statements)
        root = client.sql_client.make_qualified_table_name(entity.name)
        assert f"DELETE FROM {root}" in sql, entity.name
        assert f"{deleted} = " in sql, f"{entity.name}: hard deletes not applied"
        for statement in statements:
            sqlglot.parse(statement, read=caps.sqlglot_dialect)
    assert {e.name for e in CATALOG if e.write_disposition == "merge"} == {
        "entries", "absences", "work_times", "non_business_days", "user_reports"}


def test_deletion_lookups_are_warehouse_sql(normalized: Normalized) -> None:
    """The source's look-ups of stored keys are valid SQL of the warehouse's dialect, on the
    pipeline's dataset, with range bounds typed like the range column: BigQuery will not
    compare a DATE column with a TIMESTAMP parameter, nor a TIMESTAMP with a DATETIME."""
    lookups = normalized.lookups
    assert lookups.opened and lookups.statements
    client: Any = normalized.pipeline.sql_client()
    dialect = normalized.caps.sqlglot_dialect
    looked_up = set()
    for sql, args in lookups.statements:
        (parsed,) = sqlglot.parse(sql.replace("%s", "NULL"), read=dialect)
        assert isinstance(parsed, sqlglot.exp.Select), sql
        table = next(e for e in ENTITIES.values()
                     if f"FROM {client.make_qualified_table_name(e.name)}" in sql)
        looked_up.add(table.name)
        assert sql.count("%s") == len(args), sql
        kind = table.column_types[table.range_column] if args and table.range_column else None
        for value in args:
            if kind == "timestamp":
                assert isinstance(value, datetime) and value.tzinfo is not None, (sql, value)
            elif kind == "date":
                assert type(value) is date, (sql, value)
            else:
                assert type(value) is int, (sql, value)
    derived = {e.name for e in CATALOG if e.derived_from}
    assert looked_up == {e.name for e in CATALOG} - derived
