"""Which ranges a run reads, from the options and what earlier runs recorded in dlt state.

There is no "changed since" filter in Clockodo, so every run re-reads a range and treats it as
authoritative. The range depends on the kind of run:

* first run (no state) and reconcile (`full`): everything from `start_date` (per-year tables
  from the account's first year with data, see `resources.first_year`);
* later runs: from the UTC day of the last scan minus `lookback_days`, so a gap between runs is
  covered too, and runs on the same day read the same windows;
* a fixed `end_date`: exactly `[start_date, end_date)`, leaving the incremental state alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from clockodo_source.settings import WORK_TIMES_START
from clockodo_source.state import ResourceState
from clockodo_source.windows import utc_midnight


@dataclass(frozen=True)
class BackfillPlan:
    """A windowed backfill of `[start, end)`; each window's load records how far it got, so a
    killed backfill resumes at its first unfinished window."""

    start: date
    end: date
    window: str

    def marker(self) -> str:
        return f"{self.start}/{self.end}/{self.window}"

    @classmethod
    def parse(cls, marker: str) -> BackfillPlan:
        start, end, window = marker.split("/")
        return cls(date.fromisoformat(start), date.fromisoformat(end), window)

    @staticmethod
    def pending(state: ResourceState) -> tuple[BackfillPlan, date] | None:
        """The unfinished backfill recorded in a resource state, with its resume point."""
        if state.backfill is None:
            return None
        marker, done = state.backfill
        plan = BackfillPlan.parse(marker)
        return (plan, done) if done < plan.end else None


@dataclass(frozen=True)
class ScanOptions:
    start_date: date
    end_date: date | None
    lookback_days: int
    future_days: int
    window: str
    full: bool
    now: datetime
    backfill: BackfillPlan | None = None

    @property
    def stateless(self) -> bool:
        return self.end_date is not None

    def _incremental_since(self, state: ResourceState) -> datetime | None:
        """Start of an incremental re-scan, or None when the whole history must be read."""
        if self.stateless or self.full or state.last_scan is None:
            return None
        last = min(state.last_scan, self.now)
        return max(utc_midnight(self.start_date), utc_midnight(self.horizon(last)))

    def horizon(self, scan: datetime | None = None) -> date:
        """First day an incremental run after `scan` (default: this run) re-reads."""
        return ((scan or self.now) - timedelta(days=self.lookback_days)).date()

    def entry_range(self, state: ResourceState) -> tuple[datetime, datetime]:
        if self.end_date is not None:
            return utc_midnight(self.start_date), utc_midnight(self.end_date)
        since = self._incremental_since(state) or utc_midnight(self.start_date)
        return since, self.now + timedelta(days=self.future_days)

    def year_range(self, state: ResourceState, first_year: int | None = None
                   ) -> tuple[int, int]:
        """Inclusive years: all from the account's `first_year` with data (not before
        start_date's) to next year, or current and previous (not before that first year).
        A fixed window reads its own years."""
        if self.end_date is not None:
            return self.start_date.year, (self.end_date - timedelta(days=1)).year
        first = max(self.start_date.year, first_year or self.start_date.year)
        if self._incremental_since(state) is not None:
            return max(first, self.now.year - 1), self.now.year
        return first, self.now.year + 1

    def work_time_range(self, state: ResourceState) -> tuple[date, date]:
        """Half-open days; work times exist only from 2023-08-21 and never in the future."""
        tomorrow = self.now.date() + timedelta(days=1)
        if self.end_date is not None:
            since, until = self.start_date, min(self.end_date, tomorrow)
        else:
            incremental = self._incremental_since(state)
            since = incremental.date() if incremental else self.start_date
            until = tomorrow
        return max(since, WORK_TIMES_START), until

    def record(self, state: ResourceState) -> None:
        """Remember this scan in the resource state; a fixed window only records the progress
        of the backfill it belongs to, leaving the incremental state alone."""
        if self.end_date is not None:
            if self.backfill is not None:
                state.record_backfill(self.backfill.marker(), self.end_date)
            return
        state.record_scan(self.now, whole_history=self.full or state.last_scan is None)
