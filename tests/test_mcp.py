"""The MCP server end to end: `clockodo-pipeline mcp` as a real subprocess, spoken to with the
official SDK's client over stdio and over streamable HTTP, on a company loaded from the fake
Clockodo API by `clockodo-pipeline run` (DuckDB and PostgreSQL).

Every tool answers what the command line answers for the same arguments; `query` refuses
everything but one read-only statement and leaves the database byte for byte as it was;
HTTP needs its token; `mark_billed` exists only with `--allow-write` and marks time billed in
Clockodo through the dry run's token. Expectations come from the fake company's data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import dlt
import httpx
import httpx2
import pytest
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from clockodo_source.analytics import MODEL_NAMES
from clockodo_source.app.demo import demo_api
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.mcp.readonly import ReadFailed, read_only
from clockodo_source.settings import ENTITIES
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, POSTGRES_DSN, drop_dataset
from tests.test_cli import cli

READ_TOOLS = {"list_tables", "describe_table", "query", "report", "alerts", "status", "invoice"}
TOKEN = "test-token-" + "7" * 24


# ------------------------------------------------------------------ a loaded company

@dataclass
class Loaded:
    """A company served by the fake API, loaded by the CLI into `destination`."""

    company: FakeCompany
    server: FakeClockodoServer
    cwd: Path
    env: dict[str, str]
    destination: str
    dataset: str

    @property
    def options(self) -> list[str]:
        return ["--destination", self.destination, "--dataset", self.dataset]

    @property
    def duckdb_file(self) -> Path:
        return self.cwd / "clockodo_pipeline.duckdb"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, *self.options, cwd=self.cwd, env=self.env)

    def cli_json(self, *args: str) -> Any:
        result = self.cli(*args, "--format", "json")
        assert result.returncode in (0, 1, 2), result.stderr  # alerts exit 1/2 with alerts
        return json.loads(result.stdout)

    def pipeline(self) -> dlt.Pipeline:
        """The same dataset, opened in this process (for reads that bypass the server)."""
        if self.destination == "duckdb":
            destination: Any = dlt.destinations.duckdb(str(self.duckdb_file))
        else:
            credentials = PostgresCredentials(POSTGRES_DSN)
            credentials.password = ""
            destination = dlt.destinations.postgres(credentials=credentials)
        return dlt.pipeline(pipeline_name="mcp_test_reader", destination=destination,
                            dataset_name=self.dataset, pipelines_dir=str(self.cwd / "reader"))


def load(server: FakeClockodoServer, cwd: Path, destination: str) -> Loaded:
    """`clockodo-pipeline run` from the server's company into `destination`."""
    company = server.company
    env = {
        "DLT_DATA_DIR": str(cwd / "dlt_data"),
        "SOURCES__CLOCKODO__API_USER": server.api_user,
        "SOURCES__CLOCKODO__API_KEY": server.api_key,
        "SOURCES__CLOCKODO__BASE_URL": server.url,
        "SOURCES__CLOCKODO__START_DATE": first_entry_day(company).isoformat(),
        "SOURCES__CLOCKODO__BACKOFF_SECONDS": "0.01",
    }
    dataset = "clockodo"
    if destination == "postgres":
        env["DESTINATION__POSTGRES__CREDENTIALS"] = POSTGRES_DSN
        dataset = f"t_{uuid.uuid4().hex[:12]}"
    loaded = Loaded(company, server, cwd, env, destination, dataset)
    result = loaded.cli("run")
    assert result.returncode == 0, result.stderr
    return loaded


@pytest.fixture(scope="module")
def demo() -> Iterator[FakeClockodoServer]:
    """The demo company (`clockodo-pipeline demo`'s), served for the whole module."""
    with demo_api(entries=800) as (server, _):
        yield server


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def loaded(request: pytest.FixtureRequest, demo: FakeClockodoServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    made = load(demo, tmp_path_factory.mktemp(f"mcp_{request.param}"), request.param)
    yield made
    drop_dataset(made.pipeline())


# ------------------------------------------------------------------ talking to the server

class Session:
    """The SDK's client, connected to a running server."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def tools(self) -> set[str]:
        return {tool.name for tool in (await self.client.list_tools()).tools}

    async def call(self, tool: str, **arguments: Any) -> Any:
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        return result.structured_content

    async def refused(self, tool: str, **arguments: Any) -> str:
        """The one-line reason of a call that fails as a tool error."""
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error, result.structured_content
        text = result.content[0].text  # type: ignore[union-attr]
        assert "\n" not in text.strip(), text
        return str(text)


@asynccontextmanager
async def stdio(loaded: Loaded, *extra: str) -> AsyncIterator[Session]:
    """`clockodo-pipeline mcp` started by the client, as an MCP host starts it."""
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "clockodo_source.app.cli", "mcp", *loaded.options, *extra],
        env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", **loaded.env},
        cwd=str(loaded.cwd))
    async with Client(server) as client:
        yield Session(client)


def run(test: Callable[[], Any]) -> None:
    anyio.run(test)


# ------------------------------------------------------------------ expectations

def past_unbilled(company: FakeCompany) -> tuple[int, str]:
    """The customer and month with the most unbilled entries before the company's today."""
    counts = Counter((row["customers_id"], row["time_since"][:7])
                     for row in company.all_entries()
                     if row["billable"] == 1 and row["time_since"][:7] < f"{company.now:%Y-%m}")
    (customer, month), _ = counts.most_common(1)[0]
    return customer, month


def unbilled_ids(company: FakeCompany, customer: int, month: str) -> list[int]:
    return sorted(row["id"] for row in company.all_entries()
                  if row["customers_id"] == customer and row["billable"] == 1
                  and row["time_since"][:7] == month)


def customers_unbilled_since(company: FakeCompany, days: int) -> set[int]:
    """Customers with unbilled entries of a day more than `days` days ago (UTC calendar)."""
    cutoff = (company.now - timedelta(days=days)).date()
    return {row["customers_id"] for row in company.all_entries()
            if row["billable"] == 1 and date.fromisoformat(row["time_since"][:10]) < cutoff}


def without_elapsed_time(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A running clock's hours grow between two evaluations: compared to a tenth of an hour."""
    return [{**alert, "value": round(alert["value"], 1), "message": re.sub(
        r"running for [\d,.]+ h", "running for N h", alert["message"])}
            if alert["rule"] == "running_clock" else alert for alert in alerts]


def status_lines(text: str) -> dict[str, list[str]]:
    """`status` table rows by table name: rows, last scan, last reconcile, cursor."""
    rows = {}
    for line in text.splitlines()[1:]:
        cells = line.split()
        if cells and cells[0] in ENTITIES:
            rows[cells[0]] = cells[1:]
    return rows


# ------------------------------------------------------------------ every tool = the CLI

def test_every_tool_answers_as_the_command_line(loaded: Loaded) -> None:
    company = loaded.company
    customer, month = past_unbilled(company)
    expected_ids = unbilled_ids(company, customer, month)

    async def check() -> None:
        async with stdio(loaded) as server:
            assert await server.tools() == READ_TOOLS  # no mark_billed without --allow-write

            assert await server.call("report", name="budgets") == \
                loaded.cli_json("report", "budgets")
            filtered = await server.call("report", name="unbilled", month=month,
                                         customer=customer)
            assert filtered == loaded.cli_json("report", "unbilled", "--month", month,
                                               "--customer", str(customer))
            assert sum(row["entries"] for row in filtered["rows"]) == len(expected_ids)
            refused = await server.refused("report", name="budgets", month=month)
            assert "cannot be filtered by month" in refused
            year = company.now.year
            absences = await server.call("report", name="absences", year=year)
            assert absences == loaded.cli_json("report", "absences", "--year", str(year))
            assert absences["rows"] and {row["year"] for row in absences["rows"]} == {year}

            invoice = await server.call("invoice", customer=customer, month=month)
            assert invoice == loaded.cli_json("invoice", "--customer", str(customer),
                                              "--month", month)
            assert invoice["entry_ids"] == expected_ids

            alerts = loaded.cli_json("alerts")  # records first_seen, which the tool reads
            mine = await server.call("alerts")
            assert without_elapsed_time(mine["alerts"]) == \
                without_elapsed_time(alerts["alerts"])
            assert {alert["key"] for alert in mine["alerts"]
                    if alert["rule"] == "unbilled_age"} == {
                f"unbilled_age:{key}" for key in customers_unbilled_since(company, days=30)}

            status = await server.call("status")
            shown = loaded.cli("status")
            assert shown.returncode == 0, shown.stderr
            lines = status_lines(shown.stdout)
            assert list(lines) == [table["table"] for table in status["tables"]] \
                == list(ENTITIES)
            for table in status["tables"]:
                cells = [f"{table['rows']:,}", *(table[key] or "-" for key in (
                    "last_scan", "last_reconcile", "cursor"))]
                assert lines[table["table"]] == cells
            loaded_at = re.search(r"^last successful load: (.+)$", shown.stdout, re.M)
            assert loaded_at is not None
            assert datetime.fromisoformat(loaded_at[1]) == \
                datetime.fromisoformat(status["last_successful_load"])

            tables = {table["name"]: table for table in
                      (await server.call("list_tables"))["tables"]}
            for table in ENTITIES:
                assert tables[table]["rows"] == next(
                    entry["rows"] for entry in status["tables"] if entry["table"] == table)
                assert tables[table]["description"]
            assert tables["entries"]["rows"] == len(company.all_entries())
            assert tables["customers"]["rows"] == len(company.customers)
            assert set(MODEL_NAMES) <= set(tables)
            assert not any(name.startswith("_dlt") for name in tables)

            entries = await server.call("describe_table", name="entries")
            assert entries["primary_key"] == ["id"]
            columns = {column["name"]: column for column in entries["columns"]}
            assert set(ENTITIES["entries"].column_types) <= set(columns)
            assert columns["id"]["type"].upper() == "BIGINT"
            assert "2 billed" in columns["billable"]["meaning"]
            for table in (name for name in tables  # the source's tables and the models
                          if name.split("__")[0] in ENTITIES or name in MODEL_NAMES):
                described = await server.call("describe_table", name=table)
                assert described["description"], table
                assert all(column.get("meaning") for column in described["columns"]), table
            budgets = await server.call("describe_table", name="project_budgets")
            assert "28 days" in {column["name"]: column for column in budgets["columns"]}[
                "runout_date"]["meaning"]
            assert "no table 'nope'" in await server.refused("describe_table", name="nope")

            counted = await server.call(
                "query", sql="SELECT billable, COUNT(*) AS n FROM entries GROUP BY billable "
                             "ORDER BY billable")
            assert counted == {"columns": ["billable", "n"], "truncated": False, "rows": [
                [billable, n] for billable, n in sorted(Counter(
                    row["billable"] for row in company.all_entries()).items())]}
            first = await server.call("query", sql="SELECT id FROM entries ORDER BY id",
                                      limit=5)
            ids = sorted(row["id"] for row in company.all_entries())
            assert first == {"columns": ["id"], "rows": [[key] for key in ids[:5]],
                             "truncated": True}

    run(check)


# ------------------------------------------------------------------ query refuses, changes nothing

def refusals(folder: Path) -> list[tuple[str, str]]:
    """Statements `query` must refuse, and a word its reason must contain."""
    return [
        ("CREATE TABLE stolen AS SELECT * FROM entries", "CREATE"),
        ("DROP TABLE entries", "DROP"),
        ("ALTER TABLE entries ADD COLUMN x INTEGER", "ALTER"),
        ("DELETE FROM entries", "DELETE"),
        ("UPDATE entries SET billable = 2", "UPDATE"),
        ("INSERT INTO customers (id, name) VALUES (1, 'x')", "INSERT"),
        ("WITH gone AS (DELETE FROM entries RETURNING id) SELECT * FROM gone", "DELETE"),
        ("SELECT * INTO stolen FROM entries", "INTO"),
        (f"COPY entries TO '{folder / 'copied.csv'}'", "COPY"),
        (f"COPY (SELECT * FROM entries) TO '{folder / 'copied.parquet'}' (FORMAT parquet)",
         "COPY"),
        (f"ATTACH '{folder / 'other.duckdb'}' AS other", "refused"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("PRAGMA database_size", "PRAGMA"),
        ("SET search_path = 'main'", "SET"),
        ("CALL checkpoint()", "CALL"),
        ("CHECKPOINT", "CHECKPOINT"),
        (f"SELECT * FROM read_csv('{folder / 'any.csv'}')", "read_csv"),
        ("SELECT * FROM read_text('/etc/hostname')", "read_text"),
        ("SELECT * FROM read_blob('/etc/hostname')", "read_blob"),
        ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "read_parquet"),
        ("SELECT pg_read_file('/etc/hostname')", "pg_read_file"),
        ("SELECT * FROM query('DROP TABLE entries')", "query"),
        ("SELECT * FROM '/etc/hostname'", "not in dataset"),
        ("SELECT * FROM information_schema.tables", "outside dataset"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT 1; DROP TABLE entries", "one statement"),
        ("SELECT 1 -- just a read\n; DROP TABLE entries", "one statement"),
        ("/* a harmless read */ DROP TABLE entries", "DROP"),
        ("SELECT 1 /* ; */ ; DELETE FROM entries -- done", "one statement"),
    ]


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")
            if "dlt_data" not in path.parts and "reader" not in path.parts}


def database_snapshot(loaded: Loaded) -> Any:
    """The DuckDB file's bytes; on PostgreSQL every table of the dataset and its rows."""
    if loaded.destination == "duckdb":
        return hashlib.sha256(loaded.duckdb_file.read_bytes()).hexdigest()
    pipeline = loaded.pipeline()
    with pipeline.sql_client() as client:
        tables = sorted(row[0] for row in client.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            loaded.dataset) or [])
        return {table: client.execute_sql(
            f"SELECT COUNT(*) FROM {client.make_qualified_table_name(table)}")[0][0]  # type: ignore[index]
            for table in tables}


def test_query_refuses_all_but_one_read_and_changes_nothing(loaded: Loaded) -> None:
    before, files = database_snapshot(loaded), files_under(loaded.cwd)

    async def check() -> None:
        async with stdio(loaded) as server:
            for sql, reason in refusals(loaded.cwd):
                refused = await server.refused("query", sql=sql)
                assert "refused:" in refused and reason in refused, (sql, refused)
            assert "limit must be" in await server.refused("query", sql="SELECT 1", limit=0)
            assert (await server.call("query", sql="SELECT COUNT(*) AS n FROM customers")
                    )["rows"] == [[len(loaded.company.customers)]]

    run(check)
    assert database_snapshot(loaded) == before
    assert files_under(loaded.cwd) == files
    the_database_refuses_what_a_guard_might_miss(loaded)
    assert database_snapshot(loaded) == before
    assert files_under(loaded.cwd) == files


def the_database_refuses_what_a_guard_might_miss(loaded: Loaded) -> None:
    """Below the guard: the connection `query` runs on cannot write, read files or run long."""
    pipeline = loaded.pipeline()
    writes = ["CREATE TABLE stolen AS SELECT 1 AS x",
              f"DROP TABLE {loaded.dataset}.customers",
              f"DELETE FROM {loaded.dataset}.entries"]
    if loaded.destination == "duckdb":
        writes += [f"COPY {loaded.dataset}.entries TO '{loaded.cwd / 'copied.csv'}'",
                   f"ATTACH '{loaded.cwd / 'other.duckdb'}' AS other",
                   "SELECT * FROM read_text('/etc/hostname')",
                   "INSTALL httpfs"]
        slow = "SELECT COUNT(*) FROM range(1000000) AS a, range(1000000) AS b"
    else:
        slow = "SELECT pg_sleep(5)"
    for sql in writes:
        with read_only(pipeline) as session, pytest.raises(ReadFailed) as refused:
            session.run(sql)
        assert "the database refused the query" in str(refused.value), sql
    with read_only(pipeline, timeout_seconds=0.5) as session, \
            pytest.raises(ReadFailed, match=r"longer than 0\.5 s"):
        session.run(slow)


# ------------------------------------------------------------------ HTTP

@pytest.mark.parametrize("loaded", ["duckdb"], indirect=True)
def test_http_needs_a_token_and_every_request_the_bearer(loaded: Loaded) -> None:
    http = ["mcp", "--transport", "http", "--port", "0"]
    missing = loaded.cli(*http)
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0, missing.stderr
    assert "needs a bearer token" in missing.stderr and "MCP__TOKEN" in missing.stderr
    short = cli(*http, *loaded.options, cwd=loaded.cwd, env={**loaded.env, "MCP__TOKEN": "x"})
    assert short.returncode == 1 and "too short" in short.stderr

    with http_server(loaded, TOKEN) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "curl", "version": "1"}}}
        headers = {"Accept": "application/json, text/event-stream"}
        for sent in ({}, {"Authorization": "Bearer wrong-" + TOKEN},
                     {"Authorization": TOKEN}):
            answer = httpx.post(url, json=hello, headers={**headers, **sent}, timeout=30)
            assert answer.status_code == 401, sent
            assert answer.headers["www-authenticate"].startswith("Bearer")

        async def check() -> None:
            bearer = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                        timeout=120)
            async with bearer, Client(streamable_http_client(url, http_client=bearer)) as client:
                server = Session(client)
                assert await server.tools() == READ_TOOLS
                assert await server.call("report", name="unbilled") == \
                    loaded.cli_json("report", "unbilled")

        run(check)


@contextmanager
def http_server(loaded: Loaded, token: str) -> Iterator[str]:
    """`clockodo-pipeline mcp --transport http --port 0` in the background; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "clockodo_source.app.cli", "mcp", "--transport", "http",
         "--port", "0", *loaded.options], cwd=loaded.cwd, text=True,
        env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", **loaded.env,
             "MCP__TOKEN": token},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    urls: list[str] = []
    announced = threading.Event()

    def read_stderr() -> None:  # drained throughout, so the server never blocks on it
        assert process.stderr is not None
        for line in process.stderr:
            found = re.search(r"listening on (\S+)", line)
            if found:
                urls.append(found[1])
                announced.set()
        announced.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    try:
        assert announced.wait(120) and urls, "the server did not announce its URL"
        yield urls[0]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


# ------------------------------------------------------------------ mark_billed

def test_mark_billed_only_with_allow_write_and_through_the_dry_runs_token(
        tmp_path: Path) -> None:
    company = FakeCompany(CompanyConfig(entries=300, seed=11,
                                        start=date.today() - timedelta(days=100)))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as api:
        loaded = load(api, tmp_path, "duckdb")
        customer, month = past_unbilled(company)
        ids = unbilled_ids(company, customer, month)
        selection = {"customer": customer, "month": month}
        assert ids

        async def check() -> None:
            async with stdio(loaded, "--allow-write") as server:
                assert await server.tools() == READ_TOOLS | {"mark_billed"}
                dry = await server.call("mark_billed", **selection)
                shown = loaded.cli("mark-billed", "--customer", str(customer), "--month", month)
                assert shown.returncode == 0, shown.stderr
                assert dry["summary"] == shown.stdout.strip()
                assert (dry["status"], dry["entry_ids"], dry["clockodo_affected"]) == \
                    ("dry_run", ids, len(ids))
                assert api.entrygroups.confirming() == []
                assert all(company.entry(key)["billable"] == 1 for key in ids)

                other = next(row["id"] for row in company.customers if row["id"] != customer)
                refused = await server.refused("mark_billed", customer=other, month=month,
                                               confirm_token=dry["confirm_token"])
                assert "another selection" in refused
                used = await server.refused("mark_billed", **selection,
                                            confirm_token=dry["confirm_token"])
                assert "unknown, used or expired" in used  # a token serves one attempt
                assert all(company.entry(key)["billable"] == 1 for key in ids)

                token = (await server.call("mark_billed", **selection))["confirm_token"]
                applied = await server.call("mark_billed", **selection, confirm_token=token)
                assert (applied["status"], applied["edited"]) == ("applied", len(ids))
                assert all(company.entry(key)["billable"] == 2 for key in ids)
                in_warehouse = await server.call(
                    "query", sql="SELECT COUNT(*) FROM entries WHERE billable = 2 AND id IN "
                                 f"({', '.join(map(str, ids))})")
                assert in_warehouse["rows"] == [[len(ids)]]
                audit = await server.call(
                    "query", sql='SELECT status, edited_entries, entry_ids, "until" '
                                 "FROM billing_audit")
                first = date.fromisoformat(f"{month}-01")
                end = (first + timedelta(days=32)).replace(day=1)
                assert audit["rows"] == [["applied", len(ids), json.dumps(ids),
                                          end.isoformat()]]

                again = await server.call("mark_billed", **selection)
                assert again["clockodo_affected"] == 0 and "confirm_token" not in again
                assert "nothing to mark billed" in again["message"]

        run(check)
