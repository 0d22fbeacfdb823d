"""Many accounts in one config: `run --all-accounts`, `--account NAME`, the `clockodo_all` union.

Real `clockodo-pipeline` processes load two fake Clockodo APIs of different companies (and a
third whose key is wrong) into one DuckDB file or one PostgreSQL database of the test's own;
expectations come from the fake companies' data.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest
import yaml
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from clockodo_source.app.demo import demo_apis
from clockodo_source.app.workspace import pipelines_dir, run_lock
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.limits import RateLimits
from clockodo_source.fake.server import FakeClockodoServer, RequestRecord
from clockodo_source.settings import CATALOG
from tests.expected import expected_keys, first_entry_day
from tests.helpers import POSTGRES_DSN, query, stored_keys
from tests.test_change_capture import assert_exact

#: each fake API's budget, and each account's configured one: 30 requests in 2 seconds
BUDGET = (30, 2.0)
#: a customer only globex has (customer ids count from 3001 in each fake company)
GLOBEX_ONLY_CUSTOMER = 3007


def _company(seed: int, entries: int, customers: int) -> FakeCompany:
    start = date.today() - timedelta(days=200)
    return FakeCompany(CompanyConfig(entries=entries, seed=seed, start=start, users=4,
                                     customers=customers, projects=10))


@pytest.fixture
def agency() -> Iterator[dict[str, FakeClockodoServer]]:
    """Two companies of different sizes and API users; globex's API returns a customer field
    acme's does not; zeta's key in the config will be wrong."""
    globex = _company(42, 520, 7)
    globex.edit("customers", globex.customers[0]["id"], region="EU")
    with FakeClockodoServer(_company(41, 400, 5), api_user="ops@acme.example",
                            api_key="acme-key") as acme, \
            FakeClockodoServer(globex, api_user="it@globex.example", api_key="globex-key") as gx, \
            FakeClockodoServer(_company(43, 60, 3), api_user="ops@zeta.example",
                               api_key="zeta-key") as zeta:
        for server in (acme, gx):
            server.limits = RateLimits(budgets=[BUDGET])
        yield {"acme": acme, "globex": gx, "zeta": zeta}


@dataclass
class Warehouse:
    """Where the accounts load: the DuckDB file in the working directory, or a PostgreSQL
    database of the test's own (the union dataset's name is fixed, so a shared database would
    let parallel tests see each other's accounts)."""

    destination: str
    env: dict[str, str]
    root: Path

    def reader(self, dataset: str) -> dlt.Pipeline:
        """A pipeline that reads `dataset` (state of its own, nothing loaded through it)."""
        if self.destination == "duckdb":
            target: Any = dlt.destinations.duckdb(str(self.root / "clockodo.duckdb"))
        else:
            credentials = PostgresCredentials(self.env["DESTINATION__POSTGRES__CREDENTIALS"])
            credentials.password = ""
            target = dlt.destinations.postgres(credentials=credentials)
        return dlt.pipeline(pipeline_name=f"reader_{dataset}", destination=target,
                            dataset_name=dataset, pipelines_dir=str(self.root / "readers"))


@pytest.fixture
def warehouse(destination: str, tmp_path: Path) -> Iterator[Warehouse]:
    if destination == "duckdb":
        yield Warehouse("duckdb", {}, tmp_path)
        return
    database = f"t_accounts_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{database}"')
        dsn = POSTGRES_DSN.rsplit("/", 1)[0] + f"/{database}"
        yield Warehouse("postgres", {"DESTINATION__POSTGRES__CREDENTIALS": dsn}, tmp_path)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def _settings(server: FakeClockodoServer, api_key: str | None = None) -> dict[str, Any]:
    return {"api_user": server.api_user, "api_key": api_key or server.api_key,
            "base_url": server.url,
            "start_date": first_entry_day(server.company).isoformat(),
            "rate_budgets": [list(BUDGET)]}


def _configure(root: Path, agency: dict[str, FakeClockodoServer], warehouse: Warehouse,
               accounts: Sequence[str] = ("acme", "globex", "zeta")) -> dict[str, str]:
    """acme in `.dlt/secrets.toml`, the others as environment variables (both forms); zeta
    with a wrong key. Returns the processes' environment."""
    env = {**os.environ, **warehouse.env, "RUNTIME__DLTHUB_TELEMETRY": "false",
           "DLT_DATA_DIR": str(root / "dlt"),
           "SOURCES__CLOCKODO__BACKOFF_SECONDS": "0.01",
           "SOURCES__CLOCKODO__RETRY_AFTER_FLOOR_SECONDS": "0.01"}
    for name in accounts:
        settings = _settings(agency[name], "not-the-key" if name == "zeta" else None)
        if name == "acme":
            (root / ".dlt").mkdir(exist_ok=True)
            lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
            (root / ".dlt" / "secrets.toml").write_text(
                "[sources.clockodo.accounts.acme]\n" + "\n".join(lines) + "\n")
            continue
        prefix = f"SOURCES__CLOCKODO__ACCOUNTS__{name.upper()}__"
        env.update({prefix + key.upper(): value if isinstance(value, str) else json.dumps(value)
                    for key, value in settings.items()})
    return env


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clockodo_source.app.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def _active(records: Sequence[RequestRecord]) -> tuple[float, float]:
    return min(r.received for r in records), max(r.time for r in records)


def _busiest(records: Sequence[RequestRecord], window: float) -> int:
    """The most requests that arrived within any `window` seconds."""
    times = sorted(r.received for r in records)
    return max((sum(1 for t in times[i:] if t < start + window) for i, start in
                enumerate(times)), default=0)


def _assert_exact(warehouse: Warehouse, agency: dict[str, FakeClockodoServer],
                  accounts: Sequence[str]) -> None:
    """Each account's dataset holds exactly its company's rows (a difference is shown)."""
    for name in accounts:
        reader, company = warehouse.reader(f"clockodo_{name}"), agency[name].company
        try:
            assert_exact(reader, company)
        except AssertionError as failed:
            table = str(failed).splitlines()[0]
            stored = set(stored_keys(reader, table))
            wanted = expected_keys(company, first_entry_day(company))[table]
            raise AssertionError(f"{name}.{table}: missing {sorted(wanted - stored)[:5]}, "
                                 f"extra {sorted(stored - wanted)[:5]}, now {company.now}"
                                 ) from failed


def _assert_union(warehouse: Warehouse, agency: dict[str, FakeClockodoServer],
                  accounts: Sequence[str]) -> None:
    """Every table's view holds each account's rows under its name (values from the fake
    companies), models included; a column only globex has is null for acme."""
    union = warehouse.reader("clockodo_all")
    expected = {name: expected_keys(agency[name].company, first_entry_day(agency[name].company))
                for name in accounts}
    for entity in CATALOG:
        counts = dict(query(union, f"SELECT _account, COUNT(*) FROM {{ds}}.{entity.name} "
                                   "GROUP BY _account"))
        assert counts == {name: len(expected[name][entity.name]) for name in accounts}, \
            entity.name
    customers = set(query(union, "SELECT _account, id, name, region FROM {ds}.customers"))
    assert customers == {(name, row["id"], row["name"], row.get("region"))
                         for name in accounts for row in agency[name].company.customers}
    assert ("globex", agency["globex"].company.customers[0]["id"], agency["globex"].company
            .customers[0]["name"], "EU") in customers
    entries = set(query(union, "SELECT _account, id, text, billable FROM {ds}.entries"))
    assert entries == {(name, row["id"], row.get("text"), row["billable"])
                       for name in accounts for row in agency[name].company.all_entries()}
    for model in ("unbilled_time", "utilization", "absence_summary"):
        counts = dict(query(union, f"SELECT _account, COUNT(*) FROM {{ds}}.{model} "
                                   "GROUP BY _account"))
        own = {name: query(warehouse.reader(f"clockodo_{name}"),
                           f"SELECT COUNT(*) FROM {{ds}}.{model}")[0][0] for name in accounts}
        assert counts == own and all(own.values()), model


def test_all_accounts_load_side_by_side_while_a_broken_one_fails(
        agency: dict[str, FakeClockodoServer], warehouse: Warehouse, tmp_path: Path) -> None:
    """`run --all-accounts`: acme and globex load exactly into their own datasets, at the same
    time, each inside its own budget; zeta (401) fails, is named on stderr and in the summary,
    and the exit status is 1. The union views hold acme and globex. A second run applies each
    account's changes."""
    env = _configure(tmp_path, agency, warehouse)
    args = ["run", "--all-accounts", "--parallel", "3", "--destination", warehouse.destination]
    result = _cli(args, tmp_path, env)

    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert re.fullmatch(
        re.escape("clockodo-pipeline: error: account zeta: Clockodo rejected the credentials "
                  "(401 on ") + r"/\S+ \(\w+\)" + re.escape(
            "): check sources.clockodo.accounts.zeta.api_user and "
            "sources.clockodo.accounts.zeta.api_key in .dlt/secrets.toml (env "
            "SOURCES__CLOCKODO__ACCOUNTS__ZETA__API_USER / "
            "SOURCES__CLOCKODO__ACCOUNTS__ZETA__API_KEY)"), errors[0]), errors[0]
    assert "zeta-key" not in result.stderr + result.stdout
    assert result.stdout.rstrip().endswith("accounts: 2 of 3 loaded; failed: zeta")
    assert "account acme: loaded in" in result.stdout
    assert "account globex: loaded in" in result.stdout
    _assert_exact(warehouse, agency, ("acme", "globex"))
    _assert_union(warehouse, agency, ("acme", "globex"))

    # concurrently: each account's requests ran while the other's did
    acme, globex = (agency[name].requests for name in ("acme", "globex"))
    (a_start, a_end), (g_start, g_end) = _active(acme), _active(globex)
    overlap = min(a_end, g_end) - max(a_start, g_start)
    assert overlap > 0.5 * min(a_end - a_start, g_end - g_start), (overlap, a_end - a_start)
    # each inside its own budget, which together they exceeded: budgets are per API user
    for server in (agency["acme"], agency["globex"]):
        assert server.budget_violations == 0
        assert _busiest(server.requests, BUDGET[1]) <= BUDGET[0]
    assert _busiest([*acme, *globex], BUDGET[1]) > BUDGET[0]

    # each account moves on; the next run applies it to that account only. `--quiet`, as a
    # scheduler runs it: nothing on stdout, only the failed account's line on stderr
    acme_company, globex_company = agency["acme"].company, agency["globex"].company
    gone = next(row["id"] for row in reversed(acme_company.all_entries())
                if row["time_until"] and datetime.fromisoformat(row["time_since"])
                < acme_company.now)
    acme_company.delete_entry(gone)
    globex_company.add_entry()
    again = _cli([*args, "--quiet"], tmp_path, env)
    assert again.returncode == 1, again.stderr
    assert again.stdout == ""
    [line] = again.stderr.splitlines()
    assert line.startswith("clockodo-pipeline: error: account zeta: Clockodo rejected the "
                           "credentials (401 on "), line
    _assert_exact(warehouse, agency, ("acme", "globex"))
    _assert_union(warehouse, agency, ("acme", "globex"))


def _month_with_unbilled(company: FakeCompany, customer: int) -> str:
    """The last month before the current one in which `customer` has unbilled entries."""
    current = company.now.astimezone(UTC).strftime("%Y-%m")
    return max(row["time_since"][:7] for row in company.all_entries()
               if row["customers_id"] == customer and row["billable"] == 1
               and row["time_since"][:7] < current)


def test_one_account_per_command_and_the_union_for_reading(
        agency: dict[str, FakeClockodoServer], tmp_path: Path) -> None:
    """`--account NAME` runs one account (pipeline and dataset clockodo_<name> in
    clockodo.duckdb) and refreshes the union; reports, alerts and invoices read the union with
    `--account all`; billing's calls go out with the chosen account's credentials."""
    warehouse = Warehouse("duckdb", {}, tmp_path)
    env = _configure(tmp_path, agency, warehouse, accounts=("acme", "globex"))

    first = _cli(["run", "--account", "acme"], tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert "union clockodo_all: " in first.stdout and "over 1 account(s): acme" in first.stdout
    second = _cli(["run", "--account", "globex"], tmp_path, env)
    assert second.returncode == 0, second.stderr
    assert "over 2 account(s): acme, globex" in second.stdout
    assert sorted(p.name for p in tmp_path.glob("*.duckdb")) == ["clockodo.duckdb"]
    _assert_exact(warehouse, agency, ("acme", "globex"))
    _assert_union(warehouse, agency, ("acme", "globex"))

    reader = {name: warehouse.reader(f"clockodo_{name}") for name in ("acme", "globex")}
    report = _cli(["report", "unbilled", "--account", "all", "--format", "json"], tmp_path, env)
    assert report.returncode == 0, report.stderr
    rows = json.loads(report.stdout)["rows"]
    own = [query(reader[name], "SELECT COUNT(*) FROM {ds}.unbilled_time")[0][0]
           for name in reader]
    assert len(rows) == sum(own) and all(own)

    alerts = _cli(["alerts", "--account", "all", "--format", "json"], tmp_path, env)
    assert alerts.returncode in (0, 1, 2), alerts.stderr
    assert "not evaluated" not in alerts.stderr

    globex = agency["globex"].company
    month = _month_with_unbilled(globex, GLOBEX_ONLY_CUSTOMER)
    selection = ["--customer", str(GLOBEX_ONLY_CUSTOMER), "--month", month]
    invoice = _cli(["invoice", "--account", "all", *selection, "--format", "json"], tmp_path,
                   env)
    assert invoice.returncode == 0, invoice.stderr
    assert sorted(json.loads(invoice.stdout)["entry_ids"]) == sorted(
        row["id"] for row in globex.all_entries()
        if row["customers_id"] == GLOBEX_ONLY_CUSTOMER and row["billable"] == 1
        and row["time_since"][:7] == month)

    dry_run = _cli(["mark-billed", "--account", "globex", *selection], tmp_path, env)
    assert dry_run.returncode == 0, dry_run.stderr
    writes = [r for r in agency["globex"].requests if r.path == "/v2/entrygroups"]
    assert [(r.method, r.api_user, r.status) for r in writes] == \
        [("PUT", "it@globex.example", 200)]


def test_account_settings_are_checked_before_any_request(tmp_path: Path) -> None:
    """An account without its own key, an unknown option and a bad value are refused with the
    account's own config key, as are names that are not accounts and options that do not go
    with --all-accounts; nothing is requested, nothing printed but one line."""
    base = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DLT_DATA_DIR": str(tmp_path / "dlt")}
    cases = {
        "SOURCES__CLOCKODO__ACCOUNTS__ACME__API_USER":
            "sources.clockodo.accounts.acme.api_key (env "
            "SOURCES__CLOCKODO__ACCOUNTS__ACME__API_KEY) is not set",
        "SOURCES__CLOCKODO__ACCOUNTS__ACME__API_KEYS":
            "sources.clockodo.accounts.acme.api_keys (env "
            "SOURCES__CLOCKODO__ACCOUNTS__ACME__API_KEYS) is not an option",
    }
    for variable, message in cases.items():
        env = {**base, "SOURCES__CLOCKODO__ACCOUNTS__ACME__API_USER": "a@acme.example",
               variable: "x"}
        result = _cli(["run", "--account", "acme"], tmp_path, env)
        assert result.returncode == 1
        assert result.stderr.startswith(f"clockodo-pipeline: error: {message}"), result.stderr
    env = {**base, "SOURCES__CLOCKODO__ACCOUNTS__ACME__API_USER": "a@acme.example",
           "SOURCES__CLOCKODO__ACCOUNTS__ACME__API_KEY": "k"}
    refusals = {
        ("run", "--account", "nope"): "no account 'nope' in the config (configured: acme)",
        ("run", "--account", "all"): "--account all reads the union dataset clockodo_all; "
                                     "`run` needs one account",
        ("run", "--all-accounts", "--dataset", "x"): "--all-accounts runs every account",
    }
    for args, message in refusals.items():
        refused = _cli(list(args), tmp_path, env)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.startswith(f"clockodo-pipeline: error: {message}"), refused.stderr
    env["SOURCES__CLOCKODO__ACCOUNTS__ACME__LOOKBACK_DAYS"] = "many"
    result = _cli(["run", "--account", "acme"], tmp_path, env)
    assert result.returncode == 1
    assert result.stderr.startswith("clockodo-pipeline: error: sources.clockodo.accounts.acme."
                                    "lookback_days (env SOURCES__CLOCKODO__ACCOUNTS__ACME__"
                                    "LOOKBACK_DAYS) has a bad value"), result.stderr


def test_demo_shows_two_sample_companies(tmp_path: Path) -> None:
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false",
           "DLT_DATA_DIR": str(tmp_path / "dlt")}
    result = _cli(["demo", "--accounts", "2", "--entries", "400"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "accounts: 2 of 2 loaded" in result.stdout
    demo = dlt.pipeline(pipeline_name="reader", dataset_name="clockodo_all",
                        destination=dlt.destinations.duckdb(str(tmp_path / "clockodo_demo.duckdb")),
                        pipelines_dir=str(tmp_path / "reader"))
    counts = dict(query(demo, "SELECT _account, COUNT(*) FROM {ds}.entries GROUP BY _account"))
    with demo_apis(2, 400) as apis:  # the same sample companies
        assert counts == {f"demo_{number}": len(company.all_entries())
                          for number, (_, company) in enumerate(apis, start=1)}
    assert counts["demo_1"] != counts["demo_2"]


WORKFLOW = Path(__file__).parent.parent / "pipelines" / "github" / "clockodo.yml"


@pytest.mark.parametrize("destination", ["postgres"])
def test_github_workflow_steps_load_every_account_and_check_alerts(
        agency: dict[str, FakeClockodoServer], warehouse: Warehouse, tmp_path: Path) -> None:
    """The workflow's own steps, run by bash as the runner would (after checkout and install),
    with its secrets pointing at the fakes and a PostgreSQL database: every account loads,
    and the alerts step fails the run only on a critical alert."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["schedule"][0]["cron"].count(" ") == 4  # YAML reads `on:` as True
    job = workflow["jobs"]["load"]
    secrets = {"CLOCKODO_WAREHOUSE_DSN": warehouse.env["DESTINATION__POSTGRES__CREDENTIALS"],
               "ALERTS_WEBHOOK": ""}
    env = _configure(tmp_path, agency, warehouse, accounts=())
    for name in ("acme", "globex"):
        server, upper = agency[name], name.upper()
        secrets[f"{upper}_CLOCKODO_API_USER"] = server.api_user
        secrets[f"{upper}_CLOCKODO_API_KEY"] = server.api_key
        # what the workflow leaves to Clockodo's defaults: the fake's address and size
        prefix = f"SOURCES__CLOCKODO__ACCOUNTS__{upper}__"
        env.update({prefix + "BASE_URL": server.url, prefix + "RATE_BUDGETS": json.dumps(
            [list(BUDGET)]), prefix + "START_DATE": first_entry_day(server.company).isoformat()})
    shim = tmp_path / "bin" / "clockodo-pipeline"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m clockodo_source.app.cli "$@"\n')
    shim.chmod(0o755)
    env["PATH"] = f"{shim.parent}{os.pathsep}{env['PATH']}"

    def resolved(values: dict[str, str]) -> dict[str, str]:
        return {key: re.sub(r"\$\{\{ secrets\.(\w+) \}\}", lambda m: secrets[m[1]], value)
                for key, value in values.items()}

    statuses = {}
    for step in job["steps"]:
        if "run" in step and step["name"] != "Install":
            step_env = {**env, **resolved(job["env"]), **resolved(step.get("env", {}))}
            done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path,
                                  env=step_env, capture_output=True, text=True, timeout=300)
            statuses[step["name"]] = (done.returncode, done.stderr)

    assert statuses["Load every account"][0] == 0, statuses["Load every account"][1]
    _assert_exact(warehouse, agency, ("acme", "globex"))
    alerts = _cli(["alerts", "--account", "all", "--destination", "postgres", "--format",
                   "json"], tmp_path, {**env, **resolved(job["env"])})
    critical = any(alert["severity"] == "critical"
                   for alert in json.loads(alerts.stdout)["alerts"])
    assert statuses["Alerts"][0] == (2 if critical else 0), statuses["Alerts"][1]


def test_an_account_busy_with_an_overlapping_run_exits_75(
        agency: dict[str, FakeClockodoServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """While a run of acme holds its pipeline's lock, `run --all-accounts` loads globex and
    exits 75 (as a single overlapping run does), naming acme."""
    warehouse = Warehouse("duckdb", {}, tmp_path)
    env = _configure(tmp_path, agency, warehouse, accounts=("acme", "globex"))
    monkeypatch.setenv("DLT_DATA_DIR", env["DLT_DATA_DIR"])
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "clockodo.duckdb"))
    with run_lock(pipelines_dir("duckdb", "clockodo_acme", "clockodo_acme"), "clockodo_acme"):
        result = _cli(["run", "--all-accounts"], tmp_path, env)
    assert result.returncode == 75, result.stderr
    assert re.search(r"^clockodo-pipeline: error: account acme: another run of pipeline "
                     rf"clockodo_acme is in progress \(pid {os.getpid()}, since ",
                     result.stderr, re.MULTILINE), result.stderr
    assert result.stdout.rstrip().endswith("accounts: 1 of 2 loaded; failed: acme")
    _assert_exact(warehouse, agency, ("globex",))
    assert agency["acme"].requests == []
