"""Change capture end to end: incremental runs, deletions, reconcile, idempotence, crashes.

Real pipelines load into real DuckDB files and PostgreSQL from the fake Clockodo API over HTTP;
after each scenario every column of every stored row is compared with the fake company's own
data (`tests.exact`).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from clockodo_source import clockodo_source
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests.exact import assert_exact
from tests.expected import first_entry_day
from tests.helpers import (
    API_KEY,
    API_USER,
    POSTGRES_DSN,
    drop_dataset,
    pipeline_for,
    query,
    stored_keys,
)

Source = Callable[..., Any]


@pytest.fixture
def world(make_pipeline: Callable[[], dlt.Pipeline]
          ) -> Iterator[tuple[FakeCompany, FakeClockodoServer, dlt.Pipeline, Source]]:
    config = CompanyConfig(entries=2000, seed=11, start=date.today() - timedelta(days=500))
    company = FakeCompany(config)
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        start = first_entry_day(company).isoformat()

        def source(**options: Any) -> Any:
            return clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=server.url,
                                   start_date=start, **options)

        yield company, server, make_pipeline(), source


def table_digest(pipeline: dlt.Pipeline, table: str) -> str:
    """A hash of a table's content (dlt's own load bookkeeping columns left out)."""
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        columns = [row[0] for row in client.execute_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = %s ORDER BY column_name", pipeline.dataset_name, table)]
        data = [c for c in columns if not c.startswith("_dlt_")]
        selected = ", ".join(client.escape_column_name(column) for column in data)
        rows = client.execute_sql(f"SELECT {selected} FROM {name}")
    return hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()


def content_tables(pipeline: dlt.Pipeline) -> list[str]:
    return sorted(
        table for table in pipeline.default_schema.data_table_names(seen_data_only=True)
        if not table.startswith("_dlt")
    )


def stored_texts(pipeline: dlt.Pipeline) -> dict[int, str | None]:
    return {row[0]: row[1] for row in query(pipeline, "SELECT id, text FROM {ds}.entries")}


def test_incremental_run_then_reconcile(world) -> None:  # type: ignore[no-untyped-def]
    company, server, pipeline, source = world
    pipeline.run(source())
    assert_exact(pipeline, company)

    now = company.now
    settled = [row for row in company.all_entries() if row["time_until"]]
    recent = [row for row in settled
              if now - timedelta(days=20) < datetime.fromisoformat(row["time_since"]) < now]
    old = [row for row in settled
           if datetime.fromisoformat(row["time_since"]) < now - timedelta(days=120)]
    assert len(recent) >= 30 and len(old) >= 5
    for row in recent[:20]:
        company.edit_entry(row["id"], text=f"edited «{row['id']}»\nnew line", billable=2)
    company.edit_entry(recent[0]["id"], text="")  # emptied, not removed: '' stays ''
    company.edit_entry(recent[1]["id"], text=None)
    for row in old[:5]:
        company.edit_entry(row["id"], text="edited long ago")
    deleted = [row["id"] for row in recent[20:30]]
    for entry_id in deleted:
        company.delete_entry(entry_id)
    added = [company.add_entry()["id"] for _ in range(50)]
    company.stop_running_entry()
    customer = company.add_customer(name="New & Co")
    project = company.deactivate_project(company.projects[0]["id"])

    before = len(server.requests)
    pipeline.run(source())
    # edits before the look-back are only seen by a reconcile
    untouched = {(row["id"],) for row in old[:5]}
    assert_exact(pipeline, company, stale={"entries": untouched})
    texts = stored_texts(pipeline)
    assert texts[recent[0]["id"]] == "" and texts[recent[1]["id"]] is None
    assert all(texts[row["id"]] != "edited long ago" for row in old[:5])
    assert not set(deleted) & set(texts) and set(added) <= set(texts)
    assert (customer["id"],) in stored_keys(pipeline, "customers")
    assert query(pipeline, "SELECT active FROM {ds}.projects WHERE id = %s",
                 project["id"]) == [(False,)]
    entry_windows = [r for r in server.requests[before:] if r.path == "/v2/entries"]
    assert len(entry_windows) <= 16  # look-back and future windows only

    pipeline.run(source(full=True))
    assert_exact(pipeline, company)


def test_exact_comparison_tells_an_empty_text_from_null(world) -> None:  # type: ignore[no-untyped-def]
    """The comparison itself: a stored '' turned NULL and a column the fake has no field for
    (holding a value) both fail it, on every destination."""
    company, _, pipeline, source = world
    pipeline.run(source())
    empty = next(row["id"] for row in company.all_entries() if row.get("text") == "")
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("entries")
        client.execute_sql(f"UPDATE {table} SET text = NULL WHERE id = %s", empty)
        client.execute_sql(f"ALTER TABLE {table} ADD COLUMN surplus BIGINT")
        client.execute_sql(f"UPDATE {table} SET surplus = 1 WHERE id = %s", empty)
    with pytest.raises(AssertionError) as failed:
        assert_exact(pipeline, company)
    assert f"entries ({empty},).text: stored None, the fake serves ''" in str(failed.value)
    assert "entries.surplus is stored but no wire row has that field" in str(failed.value)


def test_no_change_run_rewrites_nothing(world) -> None:  # type: ignore[no-untyped-def]
    company, _, pipeline, source = world
    pipeline.run(source())
    digests = {table: table_digest(pipeline, table) for table in content_tables(pipeline)}
    pipeline.run(source())
    written = pipeline.last_trace.last_normalize_info.row_counts
    # per-year tables whose answers did not change are not reloaded either
    for table in ("entries", "absences", "non_business_days", "user_reports",
                  "user_reports__month_details", "work_times", "work_times__intervals"):
        assert written.get(table, 0) == 0, table
    assert {table: table_digest(pipeline, table) for table in content_tables(pipeline)} == digests
    pipeline.run(source(full=True))
    assert {table: table_digest(pipeline, table) for table in content_tables(pipeline)} == digests
    assert_exact(pipeline, company)


def stored_work_times(pipeline: dlt.Pipeline) -> dict[tuple[int, date], list[tuple[Any, ...]]]:
    rows = query(pipeline, "SELECT w.users_id, w.date, i.time_since, i.time_until "
                           "FROM {ds}.work_times w LEFT JOIN {ds}.work_times__intervals i "
                           "ON i._dlt_parent_id = w._dlt_id")
    days: dict[tuple[int, date], list[tuple[Any, ...]]] = {}
    for users_id, day, since, until in rows:
        days.setdefault((users_id, day), []).append((since, until))
    return {key: sorted(intervals) for key, intervals in days.items()}


def wire_work_times(company: FakeCompany) -> dict[tuple[int, date], list[tuple[Any, ...]]]:
    def moment(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value).astimezone(UTC) if value else None

    first = first_entry_day(company)
    return {
        (row["users_id"], date.fromisoformat(row["date"])): sorted(
            (moment(part["time_since"]), moment(part["time_until"]))
            for part in row["intervals"])
        for user in company.users
        for row in company.work_time_days(user["id"], first, company.now.date())
    }


def test_work_time_days_rewritten_only_when_changed(world) -> None:  # type: ignore[no-untyped-def]
    """Unchanged days of the look-back are not rewritten; an edited day is; a day that
    vanishes is removed, and written again when it comes back the same as before."""
    company, _, pipeline, source = world
    pipeline.run(source())
    worked = wire_work_times(company)
    user = company.users[0]["id"]
    idle = next(company.now.date() - timedelta(days=back) for back in range(5, 30)
                if (user, company.now.date() - timedelta(days=back)) not in worked)
    start = datetime.combine(idle, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)

    def written() -> dict[str, int]:
        counts = pipeline.last_trace.last_normalize_info.row_counts
        return {table: counts.get(table, 0) for table in ("work_times", "work_times__intervals")}

    added = company.add_entry(users_id=user, time_since=start,
                              time_until=start + timedelta(hours=1))
    pipeline.run(source())
    assert written() == {"work_times": 1, "work_times__intervals": 1}
    assert stored_work_times(pipeline) == wire_work_times(company)

    company.edit_entry(added["id"], time_until=start + timedelta(hours=2))
    pipeline.run(source())
    assert written() == {"work_times": 1, "work_times__intervals": 1}
    assert stored_work_times(pipeline)[(user, idle)] == [(start, start + timedelta(hours=2))]

    company.delete_entry(added["id"])
    pipeline.run(source())
    assert (user, idle) not in stored_work_times(pipeline)

    company.add_entry(users_id=user, time_since=start, time_until=start + timedelta(hours=2))
    pipeline.run(source())
    assert stored_work_times(pipeline) == wire_work_times(company)
    assert stored_work_times(pipeline)[(user, idle)] == [(start, start + timedelta(hours=2))]
    assert_exact(pipeline, company)


def test_deleted_absences_and_moved_entries(world) -> None:  # type: ignore[no-untyped-def]
    company, _, pipeline, source = world
    pipeline.run(source())
    this_year = [row for row in company.absences
                 if row["date_since"].startswith(str(company.now.year))]
    company.delete_absence(this_year[0]["id"])
    company.edit_absence(this_year[1]["id"], note="changed")
    settled = [row for row in company.all_entries() if row["time_until"]]
    recent = [row for row in settled if datetime.fromisoformat(row["time_since"])
              > company.now - timedelta(days=10)]
    moving = recent[0]
    target = (company.now - timedelta(days=25)).replace(hour=8, minute=0, second=0)
    company.edit_entry(moving["id"], time_since=target, time_until=target + timedelta(hours=1))
    pipeline.run(source())
    assert (this_year[0]["id"],) not in stored_keys(pipeline, "absences")
    assert query(pipeline, "SELECT note FROM {ds}.absences WHERE id = %s",
                 this_year[1]["id"]) == [("changed",)]
    assert query(pipeline, "SELECT time_since FROM {ds}.entries WHERE id = %s",
                 moving["id"]) == [(target.astimezone(UTC),)]
    assert_exact(pipeline, company)


def test_run_interrupted_between_normalize_and_load(world) -> None:  # type: ignore[no-untyped-def]
    company, _, pipeline, source = world
    pipeline.run(source())
    company.add_entry()
    company.delete_entry(next(r["id"] for r in reversed(company.all_entries())
                              if r["time_until"] and datetime.fromisoformat(r["time_since"])
                              < company.now))
    pipeline.extract(source())
    pipeline.normalize()
    assert pipeline.has_pending_data
    crashed = dlt.pipeline(pipeline_name=pipeline.pipeline_name,
                           destination=pipeline.destination,
                           dataset_name=pipeline.dataset_name,
                           pipelines_dir=pipeline.pipelines_dir)
    crashed.run(source())
    assert not crashed.has_pending_data
    assert_exact(crashed, company)


def cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "clockodo_source.app.cli", *args], cwd=cwd,
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_killed_backfill_resumes_without_duplicates(destination: str, tmp_path: Path) -> None:
    company = FakeCompany(CompanyConfig(entries=600, seed=5,
                                        start=date.today() - timedelta(days=200)))
    probe = pipeline_for(destination, tmp_path)
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        start = first_entry_day(company)
        env = {
            "SOURCES__CLOCKODO__API_USER": API_USER,
            "SOURCES__CLOCKODO__API_KEY": API_KEY,
            "SOURCES__CLOCKODO__BASE_URL": server.url,
            "SOURCES__CLOCKODO__START_DATE": start.isoformat(),
            "DESTINATION__POSTGRES__CREDENTIALS": POSTGRES_DSN,
            "DLT_DATA_DIR": str(tmp_path / "dlt"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
        }
        target = ["--destination", destination, "--dataset", probe.dataset_name]
        end = (company.now + timedelta(days=30)).date()
        process = cli(["backfill", "--start-date", start.isoformat(), "--end-date",
                       end.isoformat(), "--window", "month", *target], tmp_path, env)
        assert process.stderr is not None
        windows_started = 0
        for line in process.stderr:
            windows_started += "backfill window" in line
            if windows_started == 4:
                break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert windows_started == 4  # killed part-way, after three windows were loaded

        finish = subprocess.run(
            [sys.executable, "-m", "clockodo_source.app.cli", "run", *target], cwd=tmp_path,
            env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False,
        )
        assert finish.returncode == 0, finish.stderr
        assert "finishing the interrupted backfill" in finish.stderr
        # the loader format is PostgreSQL's own: no warning of a format it lacks a driver for
        assert "WARNING" not in finish.stderr, finish.stderr
        try:
            assert_exact(probe, company)
        finally:
            drop_dataset(probe)


def test_unchanged_master_data_is_not_reloaded_but_derived_tables_still_load(world) -> None:  # type: ignore[no-untyped-def]
    company, _, pipeline, source = world
    pipeline.run(source().with_resources("projects", "customers"))
    pipeline.run(source().with_resources("projects", "customers"))
    written = pipeline.last_trace.last_normalize_info.row_counts
    assert written.get("projects", 0) == 0 and written.get("customers", 0) == 0
    pipeline.run(source().with_resources("customers_projects"))
    assert len(stored_keys(pipeline, "customers_projects")) == len(company.projects)
    assert len(stored_keys(pipeline, "projects")) == len(company.projects)
    company.deactivate_project(company.projects[1]["id"])
    pipeline.run(source().with_resources("projects", "customers"))
    assert query(pipeline, "SELECT active FROM {ds}.projects WHERE id = %s",
                 company.projects[1]["id"]) == [(False,)]
