"""Unit tests of what a run re-reads (the scan range policy) and of the stored look-ups, which
the end-to-end scenarios only exercise as a whole."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from clockodo_source.scan import BackfillPlan, ScanOptions
from clockodo_source.settings import WORK_TIMES_START
from clockodo_source.state import ResourceState
from clockodo_source.stored import StoredRows

NOW = datetime(2026, 11, 30, 14, 25, 7, tzinfo=UTC)


def options(**changes: Any) -> ScanOptions:
    settings: dict[str, Any] = dict(start_date=date(2021, 3, 15), end_date=None,
                                    lookback_days=35, future_days=366, window="month",
                                    full=False, now=NOW)
    settings.update(changes)
    return ScanOptions(**settings)


def scanned(at: datetime | None, full: bool = False) -> ResourceState:
    state = ResourceState({})
    if at is not None:
        state.record_scan(at, whole_history=full)
    return state


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def test_first_run_reads_the_whole_history_and_the_future() -> None:
    first = scanned(None)
    assert options().entry_range(first) == (midnight(date(2021, 3, 15)),
                                            NOW + timedelta(days=366))
    assert options().year_range(first) == (2021, 2027)
    assert options().work_time_range(first) == (WORK_TIMES_START, date(2026, 12, 1))


def test_incremental_run_reads_the_look_back_from_a_utc_midnight() -> None:
    """Runs on the same day read the same windows: the look-back starts at the midnight of
    the last scan's day minus `lookback_days`."""
    state = scanned(NOW - timedelta(hours=1))
    since, until = options().entry_range(state)
    assert since == midnight(date(2026, 10, 26))
    assert until == NOW + timedelta(days=366)
    assert options().year_range(state) == (2025, 2026)
    assert options().work_time_range(state) == (date(2026, 10, 26), date(2026, 12, 1))


def test_a_gap_between_runs_is_covered() -> None:
    """A pipeline that did not run for two months re-reads from its last scan, not only the
    last 35 days."""
    state = scanned(NOW - timedelta(days=61))
    assert options().entry_range(state)[0] == midnight(date(2026, 8, 26))


def test_the_look_back_never_starts_before_start_date() -> None:
    state = scanned(NOW - timedelta(days=1))
    assert options(start_date=date(2026, 11, 20)).entry_range(state)[0] == midnight(
        date(2026, 11, 20))
    assert options(start_date=date(2026, 11, 20)).year_range(state) == (2026, 2026)


def test_a_scan_recorded_in_the_future_counts_as_now() -> None:
    state = scanned(NOW + timedelta(days=3))
    assert options().entry_range(state)[0] == midnight(date(2026, 10, 26))


def test_reconcile_reads_everything_and_records_a_reconcile() -> None:
    state = scanned(NOW - timedelta(hours=2))
    full = options(full=True)
    assert full.entry_range(state)[0] == midnight(date(2021, 3, 15))
    assert full.year_range(state) == (2021, 2027)
    full.record(state)
    assert state.last_scan == NOW and state.last_reconcile == NOW


def test_an_incremental_run_records_a_scan_only() -> None:
    state = scanned(NOW - timedelta(days=1), full=True)
    reconciled = state.last_reconcile
    options().record(state)
    assert state.last_scan == NOW and state.last_reconcile == reconciled


def test_a_fixed_window_reads_exactly_it_and_leaves_the_incremental_state() -> None:
    state = scanned(NOW - timedelta(days=1))
    before = dict(state.data)
    window = options(start_date=date(2024, 2, 1), end_date=date(2024, 3, 1))
    assert window.stateless
    assert window.entry_range(state) == (midnight(date(2024, 2, 1)), midnight(date(2024, 3, 1)))
    assert window.year_range(state) == (2024, 2024)
    assert window.work_time_range(state) == (date(2024, 2, 1), date(2024, 3, 1))
    window.record(state)
    assert state.data == before


def test_backfill_windows_record_their_progress_and_resume() -> None:
    plan = BackfillPlan(date(2024, 1, 1), date(2024, 4, 1), "month")
    state = scanned(None)
    assert BackfillPlan.pending(state) is None
    options(start_date=date(2024, 1, 1), end_date=date(2024, 2, 1), backfill=plan).record(state)
    assert BackfillPlan.pending(state) == (plan, date(2024, 2, 1))
    assert BackfillPlan.parse(plan.marker()) == plan
    options(start_date=date(2024, 3, 1), end_date=date(2024, 4, 1), backfill=plan).record(state)
    assert BackfillPlan.pending(state) is None  # done: nothing to resume
    assert state.last_scan is None  # a backfill leaves the incremental state alone


def test_the_horizon_is_the_first_day_the_next_run_rereads() -> None:
    assert options().horizon() == date(2026, 10, 26)
    assert options(lookback_days=0).horizon() == NOW.date()


@pytest.fixture
def loaded(tmp_path: Path) -> dlt.Pipeline:
    pipeline = dlt.pipeline(pipeline_name="stored", dataset_name="clockodo",
                            destination=dlt.destinations.duckdb(str(tmp_path / "s.duckdb")),
                            pipelines_dir=str(tmp_path / "pipelines"))
    rows = [{"id": number, "day": date(2026, 1, number), "text": f"row {number}"}
            for number in range(1, 6)]
    pipeline.run(rows, table_name="things", primary_key="id")
    return pipeline


def test_stored_rows_select_a_half_open_range_with_extra_columns(
        loaded: dlt.Pipeline) -> None:
    stored = StoredRows("things", ("id",), "day")
    loaded.activate()
    with stored.connected():
        assert sorted(stored.select(date(2026, 1, 2), date(2026, 1, 4))) == [(2,), (3,)]
        assert sorted(stored.select(date(2026, 1, 4), date(2026, 2, 1), extra=("text",))) == [
            (4, "row 4"), (5, "row 5")]
        assert stored.table(date(2027, 1, 1), date(2027, 2, 1)) is None  # none in range
        table = stored.table(date(2026, 1, 1), date(2026, 2, 1), extra=("day",))
        assert table is not None and table.column_names == ["id", "day"]


def test_stored_rows_of_a_table_not_loaded_yet_are_none(loaded: dlt.Pipeline) -> None:
    stored = StoredRows("absent", ("id",))
    loaded.activate()
    with stored.connected():
        assert stored.table() is None and stored.select() == []
    outside = StoredRows("things", ("id",))
    assert outside.select() == []  # outside `connected()`: nothing is read
