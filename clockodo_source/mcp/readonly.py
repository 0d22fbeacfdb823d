"""Reading the dataset through a connection on which the database itself refuses to change
anything: the second layer of the ``query`` tool (whatever the guard might miss), and what
``list_tables`` and ``describe_table`` read.

DuckDB: the file is opened ``read_only`` with external access off, so a statement can neither
write the database nor read, create or download a file (no ``COPY``, ``ATTACH``, extension or
file function gets through), and a timer interrupts a statement that runs too long.
PostgreSQL: dlt's connection in a ``READ ONLY`` transaction with a ``statement_timeout``.
Either way at most ``limit`` rows come back, and whether there were more.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import dlt
import duckdb
from dlt.destinations.sql_client import SqlClientBase

from clockodo_source.mcp.guard import check

QUERY_TIMEOUT_SECONDS = 30
MAX_ROWS = 5000
DIALECTS = ("duckdb", "postgres")
_TABLES_SQL = "SELECT table_name FROM information_schema.tables WHERE table_schema = "
_COLUMNS_SQL = ("SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ")
_IN_ORDER = "ORDER BY ordinal_position"


class ReadFailed(RuntimeError):
    """The dataset could not be read (the database refused or stopped a query, or the
    destination is not one this server reads); the message is one line."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool

    def as_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "truncated": self.truncated}


class Session(Protocol):
    """A read-only connection to the dataset."""

    def tables(self) -> list[str]:
        """Names of the dataset's tables (and views)."""

    def columns(self, table: str) -> list[tuple[str, str]]:
        """Name and database type of each column of ``table``, in order."""

    def count(self, table: str) -> int:
        """Rows in ``table``."""

    def run(self, sql: str) -> tuple[list[str], Sequence[Sequence[Any]]]:
        """Column names and rows of ``sql``, or ``ReadFailed``."""


def run_query(pipeline: dlt.Pipeline, sql: str, limit: int = 200) -> QueryResult:
    """Run one read-only statement over the pipeline's dataset: at most ``limit`` rows.

    Raises ``QueryRefused`` (the guard) or ``ReadFailed`` (the database), each one line.
    """
    if not 1 <= limit <= MAX_ROWS:
        raise ReadFailed(f"limit must be between 1 and {MAX_ROWS} (got {limit})")
    checked = check(sql, dialect(pipeline), pipeline.dataset_name)
    with read_only(pipeline) as session:
        checked.check_tables(pipeline.dataset_name, session.tables())
        columns, rows = session.run(checked.sql(limit + 1))
    return QueryResult(columns, [[plain(value) for value in row] for row in rows[:limit]],
                       len(rows) > limit)


def dialect(pipeline: dlt.Pipeline) -> str:
    """The pipeline's destination, if this server can read it (``ReadFailed`` otherwise)."""
    destination = pipeline.destination.destination_name if pipeline.destination else "none"
    if destination not in DIALECTS:
        raise ReadFailed(f"this server reads DuckDB and PostgreSQL datasets, not {destination}")
    return destination


def read_only(pipeline: dlt.Pipeline, timeout_seconds: float = QUERY_TIMEOUT_SECONDS
              ) -> AbstractContextManager[Session]:
    """A connection to the pipeline's dataset that cannot change anything; a statement that
    runs longer than ``timeout_seconds`` is stopped."""
    opened = _duckdb if dialect(pipeline) == "duckdb" else _postgres
    return opened(pipeline, timeout_seconds)


@contextmanager
def _duckdb(pipeline: dlt.Pipeline, timeout_seconds: float) -> Iterator[Session]:
    database = str(pipeline.sql_client().credentials.database)
    try:
        connection = duckdb.connect(database, read_only=True, config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        })
    except duckdb.Error as exc:
        raise ReadFailed(f"cannot open {database} read-only ({_first_line(exc)}): load it "
                         "first with `clockodo-pipeline run`") from None
    try:
        connection.execute(f"SET search_path = '{pipeline.dataset_name.replace(chr(39), '')}'")
        yield _DuckSession(connection, pipeline.dataset_name, timeout_seconds)
    finally:
        connection.close()


class _DuckSession:
    def __init__(self, connection: duckdb.DuckDBPyConnection, dataset: str,
                 timeout_seconds: float) -> None:
        self.connection = connection
        self.dataset = dataset
        self.timeout_seconds = timeout_seconds

    def tables(self) -> list[str]:
        rows = self.connection.execute(f"{_TABLES_SQL}?", [self.dataset]).fetchall()
        return [str(row[0]) for row in rows]

    def columns(self, table: str) -> list[tuple[str, str]]:
        rows = self.connection.execute(f"{_COLUMNS_SQL}? AND table_name = ? {_IN_ORDER}",
                                       [self.dataset, table]).fetchall()
        return [(str(name), str(kind)) for name, kind in rows]

    def count(self, table: str) -> int:
        found = self.connection.execute(f"SELECT COUNT(*) FROM {_qualified(self.dataset, table)}"
                                        ).fetchone()
        return int(found[0]) if found else 0

    def run(self, sql: str) -> tuple[list[str], Sequence[Sequence[Any]]]:
        timer = threading.Timer(self.timeout_seconds, self.connection.interrupt)
        timer.start()
        try:
            cursor = self.connection.execute(sql)
            columns = [str(column[0]) for column in cursor.description or []]
            return columns, cursor.fetchall()
        except duckdb.InterruptException:
            raise ReadFailed(_too_long(self.timeout_seconds)) from None
        except duckdb.Error as exc:
            raise ReadFailed(f"the database refused the query: {_first_line(exc)}") from None
        finally:
            timer.cancel()


@contextmanager
def _postgres(pipeline: dlt.Pipeline, timeout_seconds: float) -> Iterator[Session]:
    with pipeline.sql_client() as client, client.begin_transaction():
        client.execute_sql("SET TRANSACTION READ ONLY")
        client.execute_sql(f"SET LOCAL statement_timeout = {int(timeout_seconds * 1000)}")
        yield _PostgresSession(client, pipeline.dataset_name, timeout_seconds)


class _PostgresSession:
    def __init__(self, client: SqlClientBase[Any], dataset: str,
                 timeout_seconds: float) -> None:
        self.client = client
        self.dataset = dataset
        self.timeout_seconds = timeout_seconds

    def tables(self) -> list[str]:
        return [str(row[0]) for row in self.client.execute_sql(f"{_TABLES_SQL}%s", self.dataset)
                or []]

    def columns(self, table: str) -> list[tuple[str, str]]:
        rows = self.client.execute_sql(f"{_COLUMNS_SQL}%s AND table_name = %s {_IN_ORDER}",
                                       self.dataset, table) or []
        return [(str(name), str(kind)) for name, kind in rows]

    def count(self, table: str) -> int:
        found = self.client.execute_sql(f"SELECT COUNT(*) FROM {_qualified(self.dataset, table)}")
        return int(found[0][0]) if found else 0

    def run(self, sql: str) -> tuple[list[str], Sequence[Sequence[Any]]]:
        try:
            with self.client.execute_query(sql) as cursor:
                columns = [str(column[0]) for column in cursor.native_cursor.description or []]
                return columns, cursor.fetchall()
        except Exception as exc:
            message = _first_line(exc)
            if "statement timeout" in message:
                raise ReadFailed(_too_long(self.timeout_seconds)) from None
            raise ReadFailed(f"the database refused the query: {message}") from None


def _too_long(timeout_seconds: float) -> str:
    return f"the query ran longer than {timeout_seconds:g} s and was stopped"


def _qualified(dataset: str, table: str) -> str:
    """``"dataset"."table"``, quoted as DuckDB and PostgreSQL both read it."""
    return ".".join('"' + name.replace('"', '""') + '"' for name in (dataset, table))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def plain(value: Any) -> Any:
    """A database value as JSON: numbers, text, ISO dates, lists and objects."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(item) for item in value]
    return str(value)
