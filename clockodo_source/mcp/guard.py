"""The first layer of the ``query`` tool: only one read-only statement over the dataset.

The SQL is parsed (sqlglot, in the destination's dialect) and refused unless it is a single
SELECT / WITH query that writes nothing, calls no function that reads or writes files or URLs
or changes the server, and reads only tables of the dataset (or its own CTEs). What runs is
the SQL generated from the checked syntax tree, without comments, never the text as sent: a
trick that makes the database see something other than what the parser saw (a statement
behind a comment, an odd quote) cannot slip past. The database itself is the second layer
(DuckDB opened read-only without file access, PostgreSQL in a read-only transaction).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

#: syntax that writes, changes settings, runs other statements, or locks: refused anywhere
_WRITING = tuple(
    kind for name in (
        "DML", "DDL", "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter",
        "TruncateTable", "Command", "Copy", "Export", "LoadData", "Attach", "Detach", "Install",
        "Set", "Pragma", "Use", "Transaction", "Commit", "Rollback", "Into", "Lock", "Describe",
        "Show", "Summarize", "Kill", "Grant", "Revoke", "Analyze", "Refresh", "Cache", "Uncache",
        "Declare", "Execute",
    ) if (kind := getattr(exp, name, None)) is not None
)
#: functions that read or write files or URLs, run SQL from a string, read secrets, change
#: settings or sequences, lock, or stop other sessions (DuckDB and PostgreSQL names)
_DENIED_PREFIXES = (
    "read_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_", "mysql_", "sniff_",
    "st_read", "pragma_", "json_execute", "python_", "pandas_", "arrow_", "load_", "install_",
    "export_", "import_", "copy_", "write_", "enable_", "disable_", "force_", "truncate_",
    "register_", "deregister_", "create_", "destroy_", "add_", "remove_", "duckdb_secret",
    "duckdb_log", "pg_read", "pg_ls_", "pg_stat_file", "pg_file", "pg_current_logfile",
    "pg_terminate", "pg_cancel", "pg_reload", "pg_rotate", "pg_sleep", "pg_advisory",
    "pg_notify", "pg_promote", "pg_switch", "pg_create", "pg_drop", "pg_replication", "pg_log",
    "lo_", "dblink", "query_to_", "cursor_to_", "table_to_", "schema_to_", "database_to_",
)
_DENIED_NAMES = frozenset({"glob", "query", "query_table", "which_secret", "checkpoint",
                           "set_config", "setval", "nextval", "getenv"})


class QueryRefused(ValueError):
    """A statement the ``query`` tool does not run; the message is one line saying why."""


@dataclass(frozen=True)
class CheckedQuery:
    """A statement that passed the syntax checks: its tree and the tables it reads."""

    tree: exp.Query
    dialect: str
    #: dataset tables read (lower-cased), without the query's own CTE names
    tables: frozenset[str]

    def check_tables(self, dataset: str, present: Collection[str]) -> None:
        """Refuse a table that is not in the dataset (``present``: its table names)."""
        known = {name.lower() for name in present}
        for name in sorted(self.tables - known):
            raise QueryRefused(f"refused: table {name!r} is not in dataset {dataset} "
                               "(list_tables names its tables)")

    def sql(self, limit: int) -> str:
        """The SQL to run: at most ``limit`` rows (a limit of the query's own stays inside)."""
        tree = self.tree.copy()
        if tree.args.get("limit") is None and tree.args.get("offset") is None:
            limited = tree.limit(limit)
        else:
            limited = exp.select("*").from_(tree.subquery("q")).limit(limit)
        return limited.sql(dialect=self.dialect, comments=False)


def check(sql: str, dialect: str, dataset: str) -> CheckedQuery:
    """Parse ``sql`` and refuse anything but one read-only query (``QueryRefused``)."""
    try:
        statements = [tree for tree in sqlglot.parse(sql, read=dialect) if tree is not None]
    except SqlglotError as exc:
        reason = (str(exc).strip().splitlines() or ["unreadable"])[0]
        raise QueryRefused(f"refused: not a statement this server can check: {reason}") from None
    if len(statements) != 1:
        raise QueryRefused(f"refused: one statement only, a SELECT or WITH query "
                           f"(found {len(statements)})")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        first = (tree.sql(dialect=dialect, comments=False).split() or ["?"])[0].upper()
        raise QueryRefused(f"refused: only a read-only SELECT or WITH query runs here, "
                           f"not {first}")
    for node in tree.walk():
        if isinstance(node, _WRITING):
            raise QueryRefused(f"refused: the query contains {_statement_name(node)}; "
                               "only reading is allowed")
        if isinstance(node, exp.Func):
            _check_function(node, dialect)
    return CheckedQuery(tree, dialect, _tables(tree, dataset))


def _statement_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Into):
        return "SELECT ... INTO (it creates a table)"
    if isinstance(node, exp.Lock):
        return "FOR UPDATE/SHARE (it locks rows)"
    return node.key.upper()


def _check_function(node: exp.Func, dialect: str) -> None:
    """Refuse by every name the function goes by: as written, as sqlglot knows it, and as
    the generated SQL calls it."""
    names = {node.sql_name().lower(), node.sql(dialect=dialect).split("(", 1)[0].strip().lower()}
    if isinstance(node, exp.Anonymous):
        names.add(str(node.this).lower())
    for name in sorted(names):
        if name in _DENIED_NAMES or name.startswith(_DENIED_PREFIXES):
            raise QueryRefused(f"refused: function {name} is not allowed (it reads or writes "
                               "files or URLs, runs other SQL, or changes the server)")


def _tables(tree: exp.Query, dataset: str) -> frozenset[str]:
    """Named tables the query reads; a qualifier other than the dataset is refused."""
    own = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = set()
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Func):  # a table function, checked as a function
            continue
        if not isinstance(table.this, exp.Identifier):
            raise QueryRefused(f"refused: unsupported table reference {table.sql()}")
        if table.catalog or (table.db and table.db.lower() != dataset.lower()):
            raise QueryRefused(f"refused: table {table.sql()} is outside dataset {dataset}")
        name = table.name.lower()
        if table.db or name not in own:
            names.add(name)
    return frozenset(names)
