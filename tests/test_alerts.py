"""Alerts on a fake company with known conditions, loaded into DuckDB and PostgreSQL.

The conditions are made with the fake's own mutations: one budget at 90 % and one at 110 %, a
customer whose old unbilled work was billed, a clock running for 20 hours, a user who booked
time on every recent day, an overtime carry that puts a user far over 80 hours, a table the
API user may not read and, later, a stale last load. What must fire is computed here from the
fake company's data (``tests/analytics_expected.py`` for budgets), never from our own output.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dlt
import pytest

from clockodo_source import clockodo_source
from clockodo_source.alerts import Thresholds, check, evaluate, notify_urls
from clockodo_source.alerts.notify import deliver
from clockodo_source.analytics import build_models, write_html_report
from clockodo_source.errors import ConfigurationError
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests.analytics_expected import parse_dt, project_budgets, run_entries
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, POSTGRES_DSN, query
from tests.test_cli import cli

PIPELINE = "clockodo_pipeline"
FORBIDDEN_PATH, FORBIDDEN_TABLE = "/v4/lumpSumServices", "lumpsum_services"
NO_BUDGET_PROJECT, NO_BUDGET_CUSTOMER = 40001, 3001
#: whole-project budgets of 120 h, brought to 90 % and 110 %
BUDGET_TARGETS = {40002: 90.0, 40014: 110.0}
BILLED_CUSTOMER = 3005  # every unbilled entry older than 25 days is marked billed
PUNCTUAL_USER = 1005  # books an hour on each of the last 8 days
OVERTIME_USER, OVERTIME_CARRY_HOURS = 1002, 5000.0
RUNNING_HOURS = 20
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FAR_ZONE = "Pacific/Kiritimati"  # UTC+14: 10:00 UTC is already the next local day


# ------------------------------------------------------------------ the known conditions


def make_conditions(company: FakeCompany) -> int:
    """Mutate ``company`` into the known conditions; returns the running entry's id."""
    budgets = project_budgets(company, run_entries(company))
    start = company.now.replace(hour=9, minute=0, second=0) - timedelta(days=40)
    for project_id, percent in BUDGET_TARGETS.items():
        row = budgets[(project_id,)]
        assert row["budget_kind"] == "hours" and row["budget"] == 120.0
        missing = row["budget"] * percent / 100 - row["used"]
        assert missing > 0, "the generated project already used more than the target"
        for day in range(math.ceil(missing / 8)):
            hours = min(8.0, missing - 8 * day)
            since = start + timedelta(days=day)
            company.add_entry(projects_id=project_id, customers_id=row["customers_id"],
                              time_since=since, time_until=since + timedelta(hours=hours))
    old = company.now - timedelta(days=25)
    for entry in company.all_entries():
        if (entry["customers_id"] == BILLED_CUSTOMER and entry["billable"] == 1
                and parse_dt(entry["time_since"]) < old):
            company.edit_entry(entry["id"], billable=2)
    for back in range(1, 9):
        since = (company.now - timedelta(days=back)).replace(hour=10, minute=0, second=0)
        company.add_entry(users_id=PUNCTUAL_USER, projects_id=NO_BUDGET_PROJECT,
                          customers_id=NO_BUDGET_CUSTOMER, time_since=since,
                          time_until=since + timedelta(hours=1))
    # a new list, as the fake never changes a row in place (copy on write)
    company.overtime_carries = [
        {**row, "hours": OVERTIME_CARRY_HOURS}
        if row["users_id"] == OVERTIME_USER and row["year"] == company.now.year else row
        for row in company.overtime_carries
    ]
    running = next(entry for entry in company.all_entries() if entry["time_until"] is None)
    company.edit_entry(running["id"], projects_id=NO_BUDGET_PROJECT,
                       customers_id=NO_BUDGET_CUSTOMER,
                       time_since=company.now - timedelta(hours=RUNNING_HOURS))
    return int(running["id"])


def expected_alerts(company: FakeCompany, skipped: tuple[str, ...] = (FORBIDDEN_TABLE,),
                    stale: bool = False) -> dict[str, str]:
    """Alert key -> severity at the default thresholds, from the fake company's own data."""
    now, today = company.now, company.now.date()
    entries = run_entries(company)
    alerts = {}
    for (project_id,), row in project_budgets(company, entries).items():
        if row["used_pct"] is not None and row["used_pct"] >= 80:
            alerts[f"budget:{project_id}"] = "critical" if row["used_pct"] >= 100 else "warning"
    for customer, oldest in oldest_unbilled(company).items():
        if (today - oldest).days > 30:
            alerts[f"unbilled_age:{customer}"] = "warning"
    for entry in company.all_entries():
        if (entry["time_until"] is None
                and now - parse_dt(entry["time_since"]) > timedelta(hours=12)):
            alerts[f"running_clock:{entry['id']}"] = "warning"
    for user_id in missing_workdays(company, UTC):
        alerts[f"missing_time:{user_id}"] = "warning"
    for report in company.user_reports(today.year):
        if report["diff"] / 3600 >= 80:
            alerts[f"overtime:{report['users_id']}"] = "warning"
    alerts.update({f"sync:{table}": "warning" for table in skipped})
    if stale:
        alerts[f"sync:{PIPELINE}"] = "critical"
    return alerts


def oldest_unbilled(company: FakeCompany) -> dict[int, date]:
    """Per customer the UTC day of the oldest billable, not yet billed entry started by now."""
    oldest: dict[int, date] = {}
    for entry in run_entries(company):
        if entry.billable == 1:
            oldest[entry.customers_id] = min(entry.day, oldest.get(entry.customers_id, entry.day))
    return oldest


def missing_workdays(company: FakeCompany, zone: tzinfo, now: datetime | None = None
                     ) -> dict[int, list[date]]:
    """Per active user, the days of the last seven before ``now`` (local to ``zone``, today
    left out) with target hours, no non-business day of the user's group, no approved absence
    and no time entry starting that day."""
    today = (now or company.now).astimezone(zone).date()
    days = [today - timedelta(days=back) for back in range(7, 0, -1)]
    booked = {(entry["users_id"], parse_dt(entry["time_since"]).astimezone(zone).date())
              for entry in company.all_entries() if entry["type"] == 1}
    holidays = {(row["nonbusiness_group_id"], date.fromisoformat(row["evaluated_date"]))
                for year in {day.year for day in days} for row in company.nonbusiness_days(year)}
    missing: dict[int, list[date]] = {}
    for user in company.users:
        for day in days:
            if (user["active"] and _has_target(company, user["id"], day)
                    and (user["nonbusiness_groups_id"], day) not in holidays
                    and not _absent(company, user["id"], day)
                    and (user["id"], day) not in booked):
                missing.setdefault(user["id"], []).append(day)
    return missing


def _has_target(company: FakeCompany, user_id: int, day: date) -> bool:
    weekday = WEEKDAYS[day.weekday()]
    for row in company.target_hours:
        until = row["date_until"] or "9999-12-31"
        if row["users_id"] == user_id and row["date_since"] <= day.isoformat() <= until:
            if row["type"] == "monthly":
                return bool(row[f"workday_{weekday}"] and row["monthly_target"] > 0)
            return bool(row[weekday] > 0)
    return False


def _absent(company: FakeCompany, user_id: int, day: date) -> bool:
    return any(row["users_id"] == user_id and row["status"] == 1
               and row["date_since"] <= day.isoformat() <= row["date_until"]
               for row in company.absences)


# ------------------------------------------------------------------ loads and webhooks


@dataclass
class World:
    company: FakeCompany
    server: FakeClockodoServer
    pipeline: dlt.Pipeline
    running_id: int

    def load(self) -> None:
        """A run and the models, as the CLI's run makes them."""
        source = clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=self.server.url,
                                 start_date=first_entry_day(self.company).isoformat(),
                                 backoff_seconds=0.01)
        self.pipeline.run(source, loader_file_format="parquet")
        build_models(self.pipeline, now=self.company.now)

    def cli_env(self) -> dict[str, str]:
        destination = self.pipeline.destination.destination_name
        location = (POSTGRES_DSN if destination == "postgres"
                    else str(Path(self.pipeline.destination_client().config.credentials.database)))
        return {f"DESTINATION__{destination.upper()}__CREDENTIALS": location}


@pytest.fixture
def world(make_pipeline: Callable[[], dlt.Pipeline]) -> Iterator[World]:
    company = FakeCompany(CompanyConfig(entries=500, seed=23))
    running_id = make_conditions(company)
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        server.forced_status[FORBIDDEN_PATH] = 403
        made = World(company, server, make_pipeline(), running_id)
        made.load()
        yield made


class Receiver:
    """A webhook on loopback that records the JSON body of every POST; it answers with
    ``statuses`` first, then 200."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.posts: list[dict[str, Any]] = []
        posts, answers = self.posts, list(statuses)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                posts.append(json.loads(self.rfile.read(length)))
                self.send_response(answers.pop(0) if answers else 200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/secret"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def refusing_url() -> str:
    """A loopback port nobody listens on: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/T1/B1/hidden-token"


def by_key(alerts: list[dict[str, Any]]) -> dict[str, str]:
    return {alert["key"]: alert["severity"] for alert in alerts}


# ------------------------------------------------------------------ tests


def test_alert_keys_severities_and_values_equal_the_known_conditions(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    company = world.company
    evaluation = evaluate(world.pipeline, thresholds=Thresholds(), now=company.now)
    expected = expected_alerts(company)
    assert {alert.key: alert.severity for alert in evaluation.alerts} == expected
    assert evaluation.unevaluated == {}
    assert evaluation.status == 2
    assert [alert.severity for alert in evaluation.alerts][:1] == ["critical"]  # most severe first
    found = {alert.key: alert for alert in evaluation.alerts}

    budgets = project_budgets(company, run_entries(company))
    names = {row["id"]: row["name"] for row in [*company.projects, *company.customers,
                                                  *company.users]}
    for project_id, percent in BUDGET_TARGETS.items():
        alert = found[f"budget:{project_id}"]
        assert alert.value == pytest.approx(percent)
        assert alert.value == pytest.approx(budgets[(project_id,)]["used_pct"])
        assert alert.threshold == (100.0 if percent >= 100 else 80.0)
        customer = budgets[(project_id,)]["customers_id"]
        assert alert.subject == f"{names[project_id]} · {names[customer]}"
    assert f"unbilled_age:{BILLED_CUSTOMER}" not in found
    for customer, oldest in oldest_unbilled(company).items():
        if f"unbilled_age:{customer}" in found:
            alert = found[f"unbilled_age:{customer}"]
            assert alert.value == (company.now.date() - oldest).days
            assert oldest.isoformat() in alert.message
            assert alert.subject == names[customer]
    running = found[f"running_clock:{world.running_id}"]
    assert running.value == pytest.approx(RUNNING_HOURS, abs=0.01)
    assert running.subject == names[1001] and running.threshold == 12.0
    missing = missing_workdays(company, UTC)
    assert PUNCTUAL_USER not in missing
    for user_id, days in missing.items():
        alert = found[f"missing_time:{user_id}"]
        assert alert.value == len(days) and alert.subject == names[user_id]
        assert all(day.isoformat() in alert.message for day in days)
    report = next(row for row in company.user_reports(company.now.year)
                  if row["users_id"] == OVERTIME_USER)
    assert found[f"overtime:{OVERTIME_USER}"].value == pytest.approx(report["diff"] / 3600)
    assert found[f"sync:{FORBIDDEN_TABLE}"].severity == "warning"

    # the same from the command line, on the destination the pipeline loaded
    result = cli("alerts", "--destination", world.pipeline.destination.destination_name,
                 "--dataset", world.pipeline.dataset_name, "--format", "json",
                 cwd=tmp_path, env=world.cli_env())
    assert result.returncode == 2, result.stderr
    assert by_key(json.loads(result.stdout)["alerts"]) == expected

    # the HTML report opens with them
    page = ET.parse(write_html_report(world.pipeline, tmp_path / "report.html")).getroot()
    sections = page.findall(".//section")
    assert sections[0].findtext("h2") == "Alerts"
    rows = sections[0].findall(".//tbody/tr")
    assert [row.get("class") for row in rows][:1] == ["critical"]
    assert {row.findall("td")[2].text for row in rows} == {alert.subject
                                                          for alert in evaluation.alerts}

    # workdays and days are those of the timezone option's calendar: at noon UTC it is
    # already the next day in Kiritimati
    noon = (company.now - timedelta(days=1)).replace(hour=12, minute=0, second=0)
    monkeypatch.setenv("SOURCES__CLOCKODO__TIMEZONE", FAR_ZONE)
    far = evaluate(world.pipeline, thresholds=Thresholds(), now=noon)
    far_missing = missing_workdays(company, ZoneInfo(FAR_ZONE), noon)
    assert far_missing != missing_workdays(company, UTC, noon)
    assert {int(alert.key.split(":")[1]): alert.message.split(": ", 1)[1] for alert in far.alerts
            if alert.rule == "missing_time"} == {
        user: ", ".join(f"{day:%a} {day.isoformat()}" for day in days)
        for user, days in far_missing.items()}


def test_webhooks_get_new_changed_and_resolved_alerts_once(world: World) -> None:
    company, pipeline = world.company, world.pipeline
    limits = Thresholds()
    expected = expected_alerts(company)
    with Receiver() as hook:
        first = check(pipeline, notify=[hook.url], thresholds=limits, now=company.now)
        assert len(hook.posts) == 1
        assert by_key(hook.posts[0]["alerts"]) == expected and hook.posts[0]["resolved"] == []
        text = hook.posts[0]["text"].splitlines()
        assert text[0].startswith(f"Clockodo alerts for {PIPELINE} (dataset ")
        assert text[1].startswith(":red_circle: Budget · ")  # most severe first
        assert first.failures == [] and first.status == 2
        assert first.notified is not None and first.notified.resolved == []
        assert {alert.key for alert in first.notified.raised} == set(expected)

        second = check(pipeline, notify=[hook.url], thresholds=limits, now=company.now)
        assert len(hook.posts) == 1 and second.notified is None  # nothing new: nothing sent
        assert [a.first_seen for a in second.evaluation.alerts] == \
               [a.first_seen for a in first.evaluation.alerts]

        # a stale last load: a new critical alert; a webhook refusing connections fails, is
        # reported, changes no status and marks nothing as told
        with pipeline.sql_client() as client:
            client.execute_sql(f"UPDATE {client.make_qualified_table_name('_dlt_loads')} "
                               "SET inserted_at = inserted_at - INTERVAL '30 hours'")
        refused_url = refusing_url()
        refused_port = refused_url.split(":")[2].split("/")[0]
        refused = check(pipeline, notify=[refused_url], thresholds=limits, now=company.now)
        assert refused.status == 2 and len(refused.failures) == 1
        assert "failed after 3 attempt(s)" in refused.failures[0]
        assert f"127.0.0.1:{refused_port}/..." in refused.failures[0]
        assert "hidden-token" not in refused.failures[0]  # a webhook's path is its secret
        check(pipeline, notify=[hook.url], thresholds=limits, now=company.now)
        assert len(hook.posts) == 2
        assert by_key(hook.posts[1]["alerts"]) == {f"sync:{PIPELINE}": "critical"}
        assert hook.posts[1]["resolved"] == []

        # the clock stopped, the table readable again, a fresh load: three resolved
        company.stop_running_entry()
        world.server.forced_status.clear()
        world.load()
        assert expected_alerts(company, skipped=()) == {
            key: severity for key, severity in expected.items()
            if key not in (f"running_clock:{world.running_id}", f"sync:{FORBIDDEN_TABLE}")}
        last = check(pipeline, notify=[hook.url], thresholds=limits, now=company.now)
        assert len(hook.posts) == 3
        assert hook.posts[2]["alerts"] == []
        assert {row["key"] for row in hook.posts[2]["resolved"]} == {
            f"running_clock:{world.running_id}", f"sync:{FORBIDDEN_TABLE}", f"sync:{PIPELINE}"}
        assert "3 resolved" in hook.posts[2]["text"]
        stored = query(pipeline, "SELECT key, severity, notified_severity, active "
                                 "FROM {ds}.alert_state")
        assert {row[0]: row[1] for row in stored} == expected_alerts(company, skipped=())
        assert all(row[2] == row[1] and row[3] for row in stored)
        assert {a.key for a in last.evaluation.alerts} == {row[0] for row in stored}


def test_exit_statuses_and_bad_input_on_the_command_line(tmp_path: Path) -> None:
    company = FakeCompany(CompanyConfig(entries=300, seed=31))
    make_conditions(company)
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server, \
            Receiver() as hook:
        env = {"SOURCES__CLOCKODO__API_USER": API_USER, "SOURCES__CLOCKODO__API_KEY": API_KEY,
               "SOURCES__CLOCKODO__BASE_URL": server.url,
               "SOURCES__CLOCKODO__START_DATE": first_entry_day(company).isoformat()}

        nothing = cli("alerts", cwd=tmp_path, env=env)
        assert nothing.returncode == 3 and "run the pipeline first" in nothing.stderr

        refused = cli("run", "--alerts", "--notify", "ftp://hooks.example/T0/B0/secret",
                      cwd=tmp_path, env=env)
        assert refused.returncode == 3 and "--notify must be an http(s) URL" in refused.stderr
        assert server.request_count() == 0 and "secret" not in refused.stderr

        loaded = cli("run", "--alerts", cwd=tmp_path, env=env)
        assert loaded.returncode == 2, loaded.stderr
        assert "entries" in loaded.stdout and "critical" in loaded.stdout

        warnings = cli("alerts", "--format", "json", cwd=tmp_path,
                       env={**env, "ALERTS__BUDGET_CRIT_PCT": "1000"})
        assert warnings.returncode == 1, warnings.stderr
        found = by_key(json.loads(warnings.stdout)["alerts"])
        assert found and set(found.values()) == {"warning"}

        quiet = {"ALERTS__BUDGET_WARN_PCT": "1000", "ALERTS__BUDGET_CRIT_PCT": "1000",
                 "ALERTS__UNBILLED_DAYS": "100000", "ALERTS__RUNNING_HOURS": "100000",
                 "ALERTS__MISSING_DAYS": "0", "ALERTS__OVERTIME_HOURS": "1e9"}
        none = cli("alerts", cwd=tmp_path, env={**env, **quiet})
        assert none.returncode == 0, none.stderr
        assert none.stdout.startswith("No alerts")

        unknown = cli("alerts", cwd=tmp_path, env={**env, "ALERTS__BUDGET_WARN": "70"})
        assert unknown.returncode == 3 and "alerts.budget_warn " in unknown.stderr
        assert len(unknown.stderr.strip().splitlines()) == 1
        assert hook.posts == []

        # one webhook refusing connections: reported, the status stays that of the alerts
        told = cli("alerts", "--notify", refusing_url(), "--notify", hook.url, cwd=tmp_path,
                   env=env)
        assert told.returncode == 2
        assert "failed after 3 attempt(s)" in told.stderr and "hidden-token" not in told.stderr
        assert len(hook.posts) == 1 and set(by_key(hook.posts[0]["alerts"])) == set(found)
        assert "critical" in by_key(hook.posts[0]["alerts"]).values()


def test_bad_alert_settings_are_refused_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value, words in (
        ("STALE_HOURS", "soon", "alerts.stale_hours (env ALERTS__STALE_HOURS) must be a number"),
        ("RUNNING_HOURS", "-1", "alerts.running_hours (env ALERTS__RUNNING_HOURS) must be zero"),
        ("UNBILLED_DAYS", "2.5", "alerts.unbilled_days (env ALERTS__UNBILLED_DAYS) must be a "
                                 "whole number"),
        ("OVERTIME", "80", "alerts.overtime (env ALERTS__OVERTIME) is not an alerts setting"),
    ):
        with monkeypatch.context() as patch:
            patch.setenv(f"ALERTS__{key}", value)
            with pytest.raises(ConfigurationError, match=re.escape(words)):
                Thresholds.from_config()
    monkeypatch.setenv("ALERTS__BUDGET_WARN_PCT", "70.5")
    monkeypatch.setenv("ALERTS__MISSING_DAYS", "3")
    assert Thresholds.from_config() == Thresholds(budget_warn_pct=70.5, missing_days=3)
    monkeypatch.setenv("ALERTS__NOTIFY", '["https://hooks.example/a", "http://127.0.0.1:9/b"]')
    assert notify_urls() == ["https://hooks.example/a", "http://127.0.0.1:9/b"]
    assert notify_urls(["https://chat.example/hooks/x"]) == ["https://chat.example/hooks/x"]
    monkeypatch.setenv("ALERTS__NOTIFY", "mailto:ops@example.com")
    with pytest.raises(ConfigurationError, match=r"alerts\.notify .* must be an http\(s\) URL"):
        notify_urls()


def test_a_webhook_is_retried_on_5xx_but_not_on_4xx() -> None:
    body = {"text": "Clockodo alerts for test: 1 warning new or changed.", "alerts": [],
            "resolved": []}
    with Receiver(statuses=(503, 502)) as flaky:
        assert deliver(flaky.url, body, backoff_seconds=0.01) is None
        assert flaky.posts == [body] * 3
    with Receiver(statuses=(503, 503, 503)) as down:
        failure = deliver(down.url, body, backoff_seconds=0.01)
        assert failure is not None and "failed after 3 attempt(s): HTTP 503" in failure
    with Receiver(statuses=(404,)) as gone:
        failure = deliver(gone.url, body, backoff_seconds=0.01)
        assert failure is not None and "failed after 1 attempt(s): HTTP 404" in failure
        assert len(gone.posts) == 1 and "T000" not in failure
