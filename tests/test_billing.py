"""Billing end to end: invoice drafts from the destination, and mark-billed's audited
two-phase write against the fake Clockodo API over HTTP, on DuckDB and PostgreSQL.

Expectations come from the fake company's own wire data (what Clockodo holds), never from
our loader's or our billing code's output.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dlt
import duckdb
import httpx
import pytest

from clockodo_source import clockodo_client, clockodo_source
from clockodo_source.billing import invoice, mark_billed
from clockodo_source.client import ENTRYGROUPS_PATH
from clockodo_source.errors import ConfigurationError
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.entrygroups import ConfirmHold
from clockodo_source.fake.limits import RateLimits
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.fake.wire import Wire
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, configure_source, duckdb_pipeline, query
from tests.test_cli import cli

TABLES = ("entries", "customers", "projects", "services", "lumpsum_services")
AUDIT = ("at", "action", "customers_id", "projects_id", "since", "until", "affected_entries",
         "edited_entries", "status", "message", "entry_ids")
AUDIT_COLUMNS = ", ".join(f'"{name}"' for name in AUDIT)  # `at` is a keyword in DuckDB


@dataclass
class World:
    company: FakeCompany
    server: FakeClockodoServer
    pipeline: dlt.Pipeline

    @property
    def month(self) -> date:
        """First day of the month before the company's today: past, mostly unbilled."""
        return (self.company.now.date().replace(day=1) - timedelta(days=1)).replace(day=1)

    @property
    def month_text(self) -> str:
        return f"{self.month:%Y-%m}"

    def load(self, **options: Any) -> None:
        self.pipeline.run(clockodo_source(**options).with_resources(*TABLES))

    def customer_with_projects(self) -> tuple[int, list[int]]:
        """A customer with at least two projects that take new entries."""
        usable: dict[int, list[int]] = {}
        for project in self.company.projects:
            if project["active"] and not project["completed"]:
                usable.setdefault(project["customers_id"], []).append(project["id"])
        customer = max(usable, key=lambda key: (len(usable[key]), -key))
        assert len(usable[customer]) >= 2
        return customer, usable[customer]


def _world(pipeline: dlt.Pipeline, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    company = FakeCompany(CompanyConfig(entries=500, seed=11,
                                        start=date.today() - timedelta(days=100)))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        configure_source(monkeypatch, server, first_entry_day(company).isoformat())
        yield World(company, server, pipeline)


@pytest.fixture
def world(make_pipeline: Callable[[], dlt.Pipeline],
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A fake company served over HTTP, the source configured for it, and a pipeline into
    the `destination` under test (nothing loaded yet)."""
    yield from _world(make_pipeline(), monkeypatch)


@pytest.fixture
def duckdb_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The same on the DuckDB file the CLI uses in the working directory."""
    yield from _world(duckdb_pipeline(tmp_path), monkeypatch)


# ------------------------------------------------------------- expectations

def moment(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def local_range(first: date, end: date, zone: tzinfo) -> tuple[datetime, datetime]:
    return (datetime.combine(first, datetime.min.time(), zone).astimezone(UTC),
            datetime.combine(end, datetime.min.time(), zone).astimezone(UTC))


def selected_wire(company: FakeCompany, customer: int, first: date, end: date,
                  zone: tzinfo = UTC, project: int | None = None) -> list[Wire]:
    """Clockodo's unbilled entries of a customer (and project) in local days [first, end)."""
    since, until = local_range(first, end, zone)
    return [row for row in company.all_entries()
            if row["customers_id"] == customer and row["billable"] == 1
            and (project is None or row["projects_id"] == project)
            and since <= moment(row["time_since"]) < until]


def expected_lines(company: FakeCompany, entries: list[Wire], first: date, end: date,
                   zone: tzinfo) -> list[dict[str, Any]]:
    """Invoice lines as the contract defines them, from wire entries."""
    names = {kind: {row["id"]: row["name"] for row in company.master(kind)}
             for kind in ("customers", "projects", "services", "lumpsum_services")}
    groups: dict[tuple[Any, ...], list[Wire]] = {}
    for row in entries:
        if row["type"] == 1:
            key: tuple[Any, ...] = (1, row["projects_id"], row["services_id"], row["hourly_rate"])
        elif row["type"] == 3:
            key = (3, row["projects_id"], row["lumpsum_services_id"],
                   row["lumpsum_services_price"])
        else:
            key = (2, row["id"])
        groups.setdefault(key, []).append(row)
    lines = []
    for key, rows in groups.items():
        head = rows[0]
        place = (names["projects"][head["projects_id"]] if head["projects_id"]
                 else names["customers"][head["customers_id"]])
        values, quantities = [], []
        for row in rows:
            if row["type"] == 1:
                hours = row["duration"] / 3600
                quantities.append(hours)
                computed = row["hourly_rate"] * hours
            elif row["type"] == 3:
                quantities.append(row["lumpsum_services_amount"])
                computed = row["lumpsum_services_amount"] * row["lumpsum_services_price"]
            else:
                quantities.append(1.0)
                computed = row["lumpsum"]
            values.append(row["revenue"] if row.get("revenue") is not None else computed)
        if key[0] == 1:
            what, unit, price = names["services"][head["services_id"]], "h", head["hourly_rate"]
        elif key[0] == 3:
            what, unit = names["lumpsum_services"][head["lumpsum_services_id"]], "pcs"
            price = head["lumpsum_services_price"]
        else:
            what = head["text"] or names["services"][head["services_id"]]
            unit, price = "flat", head["lumpsum"]
        days = [moment(row["time_since"]).astimezone(zone).date() for row in rows]
        count = len(rows)
        lines.append({
            "title": f"{place}: {what}",
            "description": f"{first} to {end - timedelta(days=1)}, "
                           f"{count} {'entry' if count == 1 else 'entries'}",
            "quantity": round(sum(quantities), 2), "unit": unit, "unit_price": price,
            "amount": round(sum(values), 2), "customers_id": head["customers_id"],
            "projects_id": head["projects_id"],
            "services_id": None if key[0] == 3 else head["services_id"],
            "lumpsum_services_id": head["lumpsum_services_id"] if key[0] == 3 else None,
            "entries": count, "first_date": min(days).isoformat(),
            "last_date": max(days).isoformat(),
        })
    return lines


def assert_same_lines(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    def order(line: dict[str, Any]) -> tuple[Any, ...]:
        return (line["title"], line["unit"], line["unit_price"] or 0, line["first_date"],
                line["amount"])

    assert len(got) == len(expected)
    for mine, theirs in zip(sorted(got, key=order), sorted(expected, key=order), strict=True):
        for name in ("quantity", "amount"):  # sums may differ in the last float bit
            assert mine[name] == pytest.approx(theirs[name], abs=0.011), (name, theirs)
        assert {k: v for k, v in mine.items() if k not in ("quantity", "amount")} == \
            {k: v for k, v in theirs.items() if k not in ("quantity", "amount")}


def add_invoice_entries(world: World, customer: int, projects: list[int]) -> dict[str, int]:
    """Entries of several services, rates and kinds in the month, and some to leave out."""
    company = world.company
    month = world.month
    day = datetime.combine(month + timedelta(days=9), datetime.min.time(), UTC)
    services = [row["id"] for row in company.services if row["active"]][:2]
    lumpsum = next(row for row in company.lumpsum_services if row["active"])
    other = next(row["id"] for row in company.customers if row["id"] != customer)
    first, second = projects[:2]

    def time_entry(hour: int, **fields: Any) -> Wire:
        start = day + timedelta(hours=hour)
        base = {"customers_id": customer, "projects_id": first, "services_id": services[0],
                "hourly_rate": 95.0, "time_since": start,
                "time_until": start + timedelta(minutes=95)}
        return company.add_entry(**{**base, **fields})

    time_entry(8)
    time_entry(10, hourly_rate=150.0)
    time_entry(12, services_id=services[1])
    time_entry(14, projects_id=None)
    time_entry(16, revenue=None)  # no revenue from the API: rate x hours
    for hours, kind in ((8, 2), (9, 2)):
        company.add_entry(type=kind, customers_id=customer, projects_id=first if hours == 8
                          else second, time_since=day + timedelta(days=1, hours=hours),
                          lumpsum=80.0 if hours == 8 else 25.0,
                          revenue=80.0 if hours == 8 else 25.0,
                          text="Hosting-Pauschale" if hours == 8 else None)
    for hours, amount, price in ((10, 3.0, lumpsum["price"]), (11, 2.0, 0.25)):
        company.add_entry(type=3, customers_id=customer, projects_id=first,
                          lumpsum_services_id=lumpsum["id"], lumpsum_services_amount=amount,
                          lumpsum_services_price=price, revenue=round(amount * price, 2),
                          time_since=day + timedelta(days=2, hours=hours))
    berlin = ZoneInfo("Europe/Berlin")
    first_minute = datetime.combine(month, datetime.min.time(), berlin) + timedelta(minutes=30)
    next_month = (month + timedelta(days=32)).replace(day=1)
    after = datetime.combine(next_month, datetime.min.time(), berlin) + timedelta(minutes=15)
    inside = time_entry(0, time_since=first_minute, time_until=first_minute + timedelta(hours=1))
    outside = time_entry(0, time_since=after, time_until=after + timedelta(hours=1))
    time_entry(18, billable=0)
    time_entry(19, billable=2)
    time_entry(20, customers_id=other, projects_id=None)
    return {"inside": inside["id"], "outside": outside["id"]}


# -------------------------------------------------------------------- tests

def test_invoice_lines_equal_the_fake_companys_figures(world: World,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A Berlin month of one customer: time of several services and rates, lump-sum values
    and services; billed, non-billable, other customers' and next month's entries left out."""
    monkeypatch.setenv("SOURCES__CLOCKODO__TIMEZONE", "Europe/Berlin")
    zone = ZoneInfo("Europe/Berlin")
    customer, projects = world.customer_with_projects()
    marks = add_invoice_entries(world, customer, projects)
    world.load()
    first, end = world.month, (world.month + timedelta(days=32)).replace(day=1)
    wire = selected_wire(world.company, customer, first, end, zone)
    ids = {row["id"] for row in wire}
    assert marks["inside"] in ids and marks["outside"] not in ids
    assert {row["type"] for row in wire} == {1, 2, 3}
    assert len({row["hourly_rate"] for row in wire if row["type"] == 1}) >= 2

    document = invoice(world.pipeline, customer=customer, month=world.month_text).document()

    name = next(row["name"] for row in world.company.customers if row["id"] == customer)
    assert document["customer"] == {"id": customer, "name": name}
    assert (document["since"], document["until"]) == (first.isoformat(), end.isoformat())
    expected = expected_lines(world.company, wire, first, end, zone)
    assert_same_lines(document["lines"], expected)
    assert document["total"] == round(sum(line["amount"] for line in document["lines"]), 2)
    assert document["total"] == pytest.approx(sum(line["amount"] for line in expected), abs=0.02)
    assert document["entry_ids"] == sorted(ids)

    project = projects[0]
    narrowed = invoice(world.pipeline, customer=customer, project=project,
                       since=first.isoformat(), until=end.isoformat())
    only = selected_wire(world.company, customer, first, end, zone, project)
    assert_same_lines(narrowed.document()["lines"],
                      expected_lines(world.company, only, first, end, zone))
    table = narrowed.render("table")
    assert f"total {narrowed.total:,.2f}" in table
    rows = list(csv.DictReader(io.StringIO(narrowed.render("csv"))))
    assert [row["title"] for row in rows] == [line["title"] for line in
                                              narrowed.document()["lines"]]
    assert json.loads(narrowed.render("json")) == narrowed.document()


def test_dry_run_then_apply_changes_exactly_the_selection(world: World) -> None:
    customer, projects = world.customer_with_projects()
    project = projects[0]
    world.load()
    first, end = world.month, (world.month + timedelta(days=32)).replace(day=1)
    chosen = selected_wire(world.company, customer, first, end, project=project)
    assert len(chosen) >= 2
    ids = sorted(row["id"] for row in chosen)
    before = {row["id"]: row for row in world.company.all_entries()}

    dry = mark_billed(world.pipeline, customer=customer, project=project,
                      month=world.month_text)
    assert (dry.status, dry.affected, dry.edited) == ("dry_run", len(ids), None)
    assert {row["id"]: row for row in world.company.all_entries()} == before
    calls = world.server.entrygroups.calls
    assert [(call.method, call.confirming) for call in calls] == [("PUT", False)]

    applied = mark_billed(world.pipeline, customer=customer, project=project,
                          month=world.month_text, apply=True)
    assert (applied.status, applied.affected, applied.edited) == ("applied", len(ids), len(ids))
    after = {row["id"]: row for row in world.company.all_entries()}
    assert after.keys() == before.keys()
    changed = sorted(key for key in after if after[key] != before[key])
    assert changed == ids
    for key in ids:
        assert after[key]["billable"] == 2
        assert after[key]["time_last_change"] > before[key]["time_last_change"]
        assert {k: v for k, v in after[key].items() if k not in ("billable", "time_last_change")
                } == {k: v for k, v in before[key].items()
                      if k not in ("billable", "time_last_change")}
    stored = dict(query(world.pipeline, "SELECT id, billable FROM {ds}.entries"))
    assert {key: stored[key] for key in before} == {key: row["billable"]
                                                   for key, row in after.items()}
    assert query(world.pipeline, "SELECT COUNT(*) FROM {ds}.unbilled_time WHERE "
                 "customers_id = %s AND projects_id = %s AND month = %s",
                 customer, project, first) == [(0,)]

    again = mark_billed(world.pipeline, customer=customer, project=project,
                        month=world.month_text, apply=True)
    assert (again.status, again.affected, again.edited) == ("applied", 0, 0)
    assert {row["id"]: row for row in world.company.all_entries()} == after
    assert len(world.server.entrygroups.confirming()) == 1

    audit = [dict(zip(AUDIT, row, strict=True)) for row in query(
        world.pipeline, f"SELECT {AUDIT_COLUMNS} FROM {{ds}}.billing_audit ORDER BY 1")]
    moments = [row.pop("at") for row in audit]
    assert moments == sorted(moments)
    assert datetime.now(UTC) - timedelta(minutes=5) < moments[0] <= datetime.now(UTC)
    common = {"action": "mark_billed", "customers_id": customer, "projects_id": project,
              "since": first, "until": end}
    assert audit == [
        {**common, "affected_entries": len(ids), "edited_entries": len(ids),
         "status": "applied", "message": f"marked {len(ids)} entries billed",
         "entry_ids": json.dumps(ids)},
        {**common, "affected_entries": 0, "edited_entries": 0, "status": "applied",
         "message": "nothing to change: no unbilled entries in this selection",
         "entry_ids": "[]"},
    ]


def add_unbilled(world: World, customer: int, project: int, day: int = 12) -> Wire:
    start = datetime.combine(world.month + timedelta(days=day), datetime.min.time(), UTC)
    return world.company.add_entry(customers_id=customer, projects_id=project, hourly_rate=95.0,
                                   time_since=start + timedelta(hours=7),
                                   time_until=start + timedelta(hours=9))


def audit_rows(pipeline: dlt.Pipeline) -> list[dict[str, Any]]:
    rows = query(pipeline, f"SELECT {AUDIT_COLUMNS} FROM {{ds}}.billing_audit ORDER BY 1")
    return [dict(zip(AUDIT, row, strict=True)) for row in rows]


def snapshot(company: FakeCompany) -> dict[int, Wire]:
    return {row["id"]: row for row in company.all_entries()}


def test_stale_warehouse_is_refused(world: World) -> None:
    """Clockodo holding more or fewer unbilled entries than the warehouse selected: refused
    and audited, nothing changed; --force applies anyway."""
    customer, projects = world.customer_with_projects()
    world.load()
    first, end = world.month, (world.month + timedelta(days=32)).replace(day=1)
    chosen = selected_wire(world.company, customer, first, end)
    ids = sorted(row["id"] for row in chosen)
    extra = add_unbilled(world, customer, projects[0])
    before = snapshot(world.company)

    more = mark_billed(world.pipeline, customer=customer, month=world.month_text, apply=True)
    assert (more.status, more.affected, more.edited) == ("refused", len(ids) + 1, 0)
    assert f"reconcile --start-date {first} --end-date {end}" in more.message
    world.company.delete_entry(extra["id"])
    world.company.delete_entry(ids[0])
    before = snapshot(world.company)
    fewer = mark_billed(world.pipeline, customer=customer, month=world.month_text, apply=True)
    assert (fewer.status, fewer.affected) == ("refused", len(ids) - 1)
    assert snapshot(world.company) == before
    assert world.server.entrygroups.confirming() == []

    forced = mark_billed(world.pipeline, customer=customer, month=world.month_text,
                         apply=True, force=True)
    assert (forced.status, forced.edited) == ("applied", len(ids) - 1)
    after = snapshot(world.company)
    assert sorted(key for key in after if after[key] != before[key]) == ids[1:]

    audit = audit_rows(world.pipeline)
    assert [(row["status"], row["affected_entries"], row["edited_entries"]) for row in audit] \
        == [("refused", len(ids) + 1, 0), ("refused", len(ids) - 1, 0),
            ("applied", len(ids) - 1, len(ids) - 1)]
    assert all(json.loads(row["entry_ids"]) == ids for row in audit)
    assert all((row["customers_id"], row["projects_id"], row["since"], row["until"])
               == (customer, None, first, end) for row in audit)
    assert audit[0]["message"].startswith(f"refused: Clockodo would change {len(ids) + 1} "
                                          f"entries, the warehouse selected {len(ids)}")
    assert audit[2]["message"] == (f"marked {len(ids) - 1} entries billed (forced: the "
                                   f"warehouse selected {len(ids)})")


def test_confirmation_failures_are_audited_and_never_retried(world: World) -> None:
    """429 and 5xx on the first call are retried like reads; the confirming call is sent once:
    a 5xx leaves the outcome unknown, a key that no longer fits the data (400) is refused by
    Clockodo; each apply audited, nothing changed."""
    customer, projects = world.customer_with_projects()
    world.load()
    writes = world.server.entrygroups
    chosen = selected_wire(world.company, customer, world.month,
                           (world.month + timedelta(days=32)).replace(day=1), project=projects[0])
    before = snapshot(world.company)
    selection = {"customer": customer, "project": projects[0], "month": world.month_text}

    writes.fail_first = [429, 503]
    writes.fail_confirm = [503]
    lost = mark_billed(world.pipeline, apply=True, **selection)
    assert (lost.status, lost.affected, lost.edited) == ("failed", len(chosen), None)
    assert lost.message.startswith("outcome unknown: Clockodo API answered 503")
    assert [call.status for call in writes.calls if not call.confirming] == [429, 503, 200]
    assert [call.status for call in writes.confirming()] == [503]
    assert snapshot(world.company) == before

    writes.hold = ConfirmHold()
    results = []
    worker = threading.Thread(target=lambda: results.append(
        mark_billed(world.pipeline, apply=True, **selection)))
    worker.start()
    assert writes.hold.arrived.wait(60)
    world.company.edit_entry(chosen[0]["id"], text="changed between the two calls")
    writes.hold.release(apply=True)
    worker.join(60)
    (stale_key,) = results
    assert (stale_key.status, stale_key.edited) == ("failed", 0)
    assert stale_key.message.startswith("not applied: Clockodo API answered 400")
    assert [call.status for call in writes.confirming()] == [503, 400]
    assert {key: row["billable"] for key, row in snapshot(world.company).items()} == \
        {key: row["billable"] for key, row in before.items()}

    audit = audit_rows(world.pipeline)
    assert [(row["status"], row["affected_entries"], row["edited_entries"]) for row in audit] \
        == [("failed", len(chosen), None), ("failed", len(chosen), 0)]
    assert [row["message"] for row in audit] == [lost.message, stale_key.message]


def test_lost_answer_is_unknown_and_the_next_dry_run_shows_what_happened(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    customer, _ = world.customer_with_projects()
    world.load()
    monkeypatch.setenv("SOURCES__CLOCKODO__TIMEOUT_SECONDS", "1")
    writes = world.server.entrygroups
    first, end = world.month, (world.month + timedelta(days=32)).replace(day=1)
    ids = sorted(row["id"] for row in selected_wire(world.company, customer, first, end))
    before = snapshot(world.company)
    writes.hold = ConfirmHold()

    lost = mark_billed(world.pipeline, customer=customer, month=world.month_text, apply=True)
    assert (lost.status, lost.edited) == ("failed", None)
    assert lost.message.startswith("outcome unknown")
    assert snapshot(world.company) == before
    writes.hold.release(apply=True)  # Clockodo got it after all
    deadline = time.monotonic() + 30
    while writes.confirming()[-1:] == [] or writes.confirming()[-1].status != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert all(world.company.entry(key)["billable"] == 2 for key in ids)

    dry = mark_billed(world.pipeline, customer=customer, month=world.month_text)
    assert (dry.status, dry.affected) == ("dry_run", 0)
    assert "had an unknown outcome" in dry.message
    assert f"meant to change {len(ids)} entries, Clockodo now has 0" in dry.message
    assert len(writes.confirming()) == 1
    assert [(row["status"], row["edited_entries"]) for row in audit_rows(world.pipeline)] == \
        [("failed", None)]

    world.pipeline.run(clockodo_source(start_date=first.isoformat(), end_date=end.isoformat())
                       .with_resources("entries"))
    settled = mark_billed(world.pipeline, customer=customer, month=world.month_text, apply=True)
    assert (settled.status, settled.affected, settled.edited) == ("applied", 0, 0)


def test_entrygroups_budget_holds_under_a_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nine calls at once through one client keep to the entrygroups budget (here 3 a
    second); the fake enforces it, as the same burst without the client's budget shows."""
    company = FakeCompany(CompanyConfig(entries=200, seed=2))
    customer = company.customers[0]["id"]
    body = {"time_since": "2000-01-01T00:00:00Z", "time_until": "2100-01-01T00:00:00Z",
            "filter": {"customers_id": customer, "billable": 1}, "billable": 2}
    expected = sum(1 for row in company.all_entries()
                   if row["customers_id"] == customer and row["billable"] == 1)

    def burst() -> list[Any]:
        with clockodo_client() as client, ThreadPoolExecutor(9) as pool:
            return list(pool.map(lambda _: client.put(ENTRYGROUPS_PATH, body, retry=True),
                                 range(9)))

    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        configure_source(monkeypatch, server, "2000-01-01")
        server.limits = RateLimits(entrygroups=(3, 1.0))
        monkeypatch.setenv("SOURCES__CLOCKODO__ENTRYGROUPS_BUDGET", "[3, 1]")
        started = time.monotonic()
        answers = burst()
        assert time.monotonic() - started >= 2.0
        assert [answer["affected_entries"] for answer in answers] == [expected] * 9
        assert server.budget_violations == 0
        assert [call.confirming for call in server.entrygroups.calls] == [False] * 9

        server.limits = RateLimits(entrygroups=(3, 1.0))
        monkeypatch.setenv("SOURCES__CLOCKODO__ENTRYGROUPS_BUDGET", "[100, 1]")
        assert len(burst()) == 9  # overran the API's budget: 429s, retried
        assert server.budget_violations > 0


@pytest.mark.parametrize("value", [[0, 60], [10], "10", [10, -1]])
def test_bad_entrygroups_budget_names_the_option(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^sources\.clockodo\.entrygroups_budget "
                                                 r".* e\.g\. \[10, 60\]$"):
        clockodo_client(api_user=API_USER, api_key=API_KEY, entrygroups_budget=value)


def test_bad_selection_is_one_line_before_any_call() -> None:
    for values, start in (
        ({"customer": None, "month": "2026-03"}, "a customer is required"),
        ({"customer": "acme", "month": "2026-03"}, "customer must be a Clockodo customer id"),
        ({"customer": 3001, "month": "2026-13"}, "month must be YYYY-MM"),
        ({"customer": 3001, "since": "2026-03-10", "until": "2026-03-01"}, "--until"),
        ({"customer": 3001, "month": "2026-03", "since": "2026-03-01"}, "give either"),
        ({"customer": 3001, "since": "2026-03-01"}, "give the period"),
        ({"customer": 3001, "since": "March", "until": "2026-04-01"}, "--since must be a date"),
    ):
        with pytest.raises(ConfigurationError) as raised:
            invoice(duckdb_pipeline(Path.cwd()), **values)
        assert str(raised.value).startswith(start), values
        assert "\n" not in str(raised.value)


# ------------------------------------------------------------------ the fake

HEADERS = {"X-ClockodoApiUser": API_USER, "X-ClockodoApiKey": API_KEY,
           "X-Clockodo-External-Application": "tests;" + API_USER}


def test_fake_entrygroups_two_phase_protocol(fresh_api: FakeClockodoServer) -> None:
    fresh_api.limits = RateLimits(entrygroups=None)  # the budget has a test of its own
    company = fresh_api.company
    today = company.now.date()
    since, until = local_range(today - timedelta(days=90), today, UTC)
    customer = Counter(row["customers_id"] for row in company.all_entries() if row["billable"]
                       == 1 and since <= moment(row["time_since"]) < until).most_common(1)[0][0]
    body = {"time_since": f"{since:%Y-%m-%dT%H:%M:%SZ}",
            "time_until": f"{until:%Y-%m-%dT%H:%M:%SZ}",
            "filter": {"customers_id": customer, "billable": 1}, "billable": 2}
    ids = {row["id"] for row in selected_wire(company, customer, since.date(), until.date())}
    assert len(ids) >= 2
    before = snapshot(company)
    with httpx.Client(base_url=fresh_api.url, headers=HEADERS) as http:
        def put(payload: dict[str, Any], **query: str) -> httpx.Response:
            return http.put("/v2/entrygroups", json=payload, params=query)

        first = put(body)
        assert first.status_code == 200
        assert first.json()["affected_entries"] == len(ids)
        key = first.json()["confirm_key"]
        assert snapshot(company) == before
        other = put({**body, "billable": 0, "confirm_key": key})
        assert (other.status_code, other.json()["error"]["fields"]) == (400, ["confirm_key"])
        company.edit_entry(min(ids), text="edited after the first call")
        assert put({**body, "confirm_key": key}).status_code == 400
        edited = snapshot(company)
        key = put(body).json()["confirm_key"]
        applied = put({**body, "confirm_key": key})
        assert applied.json() == {"success": True, "edited_entries": len(ids)}
        after = snapshot(company)
        assert sorted(k for k in after if after[k] != edited[k]) == sorted(ids)
        assert all(after[k]["billable"] == 2 and after[k]["time_last_change"]
                   > edited[k]["time_last_change"] for k in ids)
        assert put(body).json()["affected_entries"] == 0

        for payload, query, status in (
            ({**body, "colour": 1}, {}, 400), (body, {"dry": "1"}, 400),
            ({**body, "filter": {"teams_id": 1}}, {}, 501),
            ({**body, "billable": 5}, {}, 400), ({**body, "time_since": "2026-01-01"}, {}, 400),
            ({"time_until": body["time_until"], "billable": 2}, {}, 400),
        ):
            answer = put(payload, **query)
            assert answer.status_code == status, payload
            assert "error" in answer.json()
        assert http.get("/v2/entrygroups").status_code == 405

        delete = {"time_since": body["time_since"], "time_until": body["time_until"],
                  "filter[customers_id]": str(customer), "filter[billable]": "2"}
        first = http.delete("/v2/entrygroups", params=delete)
        assert first.json()["affected_entries"] >= len(ids)
        gone = http.delete("/v2/entrygroups",
                           params={**delete, "confirm_key": first.json()["confirm_key"]})
        assert gone.json() == {"success": True,
                               "deleted_entries": first.json()["affected_entries"]}
        assert not ids & {row["id"] for row in company.all_entries()}
    assert sum(call.confirming and call.status == 200
               for call in fresh_api.entrygroups.calls) == 2


def test_fake_entrygroups_allows_ten_calls_a_minute_per_method(
        fresh_api: FakeClockodoServer) -> None:
    body = {"time_since": "2000-01-01T00:00:00Z", "time_until": "2000-01-02T00:00:00Z",
            "billable": 2}
    with httpx.Client(base_url=fresh_api.url, headers=HEADERS) as http:
        statuses = [http.put("/v2/entrygroups", json=body).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]
        throttled = http.put("/v2/entrygroups", json=body)
        assert int(throttled.headers["retry-after"]) > 50
        assert http.delete("/v2/entrygroups", params={
            "time_since": body["time_since"], "time_until": body["time_until"]}).status_code == 200
        assert http.get("/v3/customers").status_code == 200


# ------------------------------------------------------------- command line

def one_line_error(result: subprocess.CompletedProcess[str], start: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith(f"clockodo-pipeline: error: {start}"), result.stderr


def test_cli_invoice_and_mark_billed(duckdb_world: World, tmp_path: Path) -> None:
    world = duckdb_world
    customer, _ = world.customer_with_projects()
    world.load()
    first, end = world.month, (world.month + timedelta(days=32)).replace(day=1)
    ids = sorted(row["id"] for row in selected_wire(world.company, customer, first, end))
    selection = ["--customer", str(customer), "--month", world.month_text]

    written = cli("invoice", *selection, "--format", "json", "--output", "invoice.json",
                  cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    document = json.loads((tmp_path / "invoice.json").read_text(encoding="utf-8"))
    assert document["entry_ids"] == ids
    assert (document["since"], document["until"]) == (first.isoformat(), end.isoformat())
    table = cli("invoice", *selection, cwd=tmp_path)
    assert f"total {document['total']:,.2f} ({len(ids)} entries)" in table.stdout

    dry = cli("mark-billed", *selection, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert f"Clockodo: {len(ids)} entries to mark billed" in dry.stdout
    assert world.server.entrygroups.confirming() == []
    applied = cli("mark-billed", *selection, "--apply", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert (f"marked {len(ids)} entries billed; the warehouse now shows {len(ids)} of the "
            f"{len(ids)} selected entries billed") in applied.stdout
    assert all(world.company.entry(key)["billable"] == 2 for key in ids)
    again = cli("mark-billed", *selection, "--apply", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout
    with duckdb.connect(str(tmp_path / "clockodo_pipeline.duckdb"), read_only=True) as db:
        billed = db.execute("SELECT DISTINCT billable FROM clockodo.entries WHERE id IN "
                            f"({', '.join(map(str, ids))})").fetchall()
        statuses = db.execute("SELECT status, edited_entries FROM clockodo.billing_audit "
                              'ORDER BY "at"').fetchall()
    assert billed == [(2,)]
    assert statuses == [("applied", len(ids)), ("applied", 0)]


def test_cli_bad_input_and_a_stale_warehouse_are_one_line(duckdb_world: World,
                                                          tmp_path: Path) -> None:
    world = duckdb_world
    customer, projects = world.customer_with_projects()
    world.load()
    foreign = next(row["id"] for row in world.company.projects
                   if row["customers_id"] != customer)
    month = ["--month", world.month_text]
    one_line_error(cli("invoice", "--customer", "999999", *month, cwd=tmp_path),
                   "customer 999999 is not among the loaded customers")
    one_line_error(cli("mark-billed", "--customer", str(customer), "--project", str(foreign),
                       *month, "--apply", cwd=tmp_path), f"project {foreign} belongs to customer")
    one_line_error(cli("mark-billed", "--customer", str(customer), "--month", "2026-13",
                       "--apply", cwd=tmp_path), "month must be YYYY-MM")
    one_line_error(cli("invoice", "--customer", str(customer), "--since", "2026-03-10",
                       "--until", "2026-03-01", cwd=tmp_path), "--until (2026-03-01) must be after")
    assert world.server.entrygroups.calls == []

    empty = ["--customer", str(customer), "--month", "2001-01"]
    nothing = cli("invoice", *empty, cwd=tmp_path)
    assert nothing.returncode == 0 and nothing.stdout.strip().endswith("no unbilled entries")
    nothing = cli("mark-billed", *empty, "--apply", cwd=tmp_path)
    assert nothing.returncode == 0, nothing.stderr
    assert "nothing to change" in nothing.stdout

    add_unbilled(world, customer, projects[0])
    before = snapshot(world.company)
    one_line_error(cli("mark-billed", "--customer", str(customer), *month, "--apply",
                       cwd=tmp_path), "mark-billed refused: Clockodo would change")
    assert snapshot(world.company) == before
    assert world.server.entrygroups.confirming() == []


def test_killed_apply_leaves_clockodo_unchanged_and_says_outcome_unknown(
        duckdb_world: World, tmp_path: Path) -> None:
    """The process dies between the two calls (its confirming call never reached the data):
    Clockodo unchanged, the audit row written before says the outcome is unknown, and the
    next dry run shows what is true."""
    world = duckdb_world
    customer, _ = world.customer_with_projects()
    world.load()
    first, end = world.month, (world.month + timedelta(days=32)).replace(day=1)
    ids = sorted(row["id"] for row in selected_wire(world.company, customer, first, end))
    selection = ["--customer", str(customer), "--month", world.month_text]
    before = snapshot(world.company)
    hold = world.server.entrygroups.hold = ConfirmHold()
    process = subprocess.Popen(
        [sys.executable, "-m", "clockodo_source.app.cli", "mark-billed", *selection, "--apply"],
        cwd=tmp_path, env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert hold.arrived.wait(120)
    finally:
        process.kill()
        process.communicate(timeout=60)
    hold.release(apply=False)
    world.server.entrygroups.hold = None
    assert snapshot(world.company) == before

    dry = cli("mark-billed", *selection, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert f"Clockodo: {len(ids)} entries to mark billed" in dry.stdout
    assert f"had an unknown outcome: it meant to change {len(ids)} entries" in dry.stdout
    with duckdb.connect(str(tmp_path / "clockodo_pipeline.duckdb"), read_only=True) as db:
        (row,) = db.execute("SELECT status, message, affected_entries, edited_entries, "
                            "entry_ids FROM clockodo.billing_audit").fetchall()
    assert row[0] == "failed" and row[1].startswith("outcome unknown")
    assert row[2:] == (len(ids), None, json.dumps(ids))

    applied = cli("mark-billed", *selection, "--apply", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert all(world.company.entry(key)["billable"] == 2 for key in ids)
