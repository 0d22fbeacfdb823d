"""Which ranges a run reads, from the options and what earlier runs recorded in dlt state.

There is no "changed since" filter in Clockodo, so every run re-reads a range and treats it as
authoritative. The range depends on the kind of run:

* first run (no state) and reconcile (`full`): everything from `start_date`;
* later runs: from the UTC day of the last scan minus `lookback_days`, so a gap between runs is
  covered too, and runs on the same day read the same windows;
* a fixed `end_date`: exactly `[start_date, end_date)`, leaving the incremental state alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from clockodo_source.rows import parse_timestamp
from clockodo_source.settings import WORK_TIMES_START
from clockodo_source.windows import utc_midnight

LAST_SCAN = "last_scan_at"
LAST_RECONCILE = "last_reconcile_at"
BACKFILL = "backfill"
CURSOR = "time_last_change_cursor"
#: per fully refreshed table, a hash of the list it was last loaded from; the same list is not
#: loaded again
DIGESTS = "content_digests"
#: per day the next incremental run re-reads, a hash of each row of that day as last written
DAY_DIGESTS = "day_digests"
#: in the source state, per table the last run that read it could not (403): table -> endpoint;
#: stored with the load, so alerts can say which tables a run skipped
SKIPPED_TABLES = "skipped_tables"


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
    def pending(state: Mapping[str, Any]) -> tuple[BackfillPlan, date] | None:
        """The unfinished backfill recorded in a resource state, with its resume point."""
        record = state.get(BACKFILL)
        if not record:
            return None
        plan = BackfillPlan.parse(record["plan"])
        done = date.fromisoformat(record["done_until"])
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

    def _incremental_since(self, state: Mapping[str, Any]) -> datetime | None:
        """Start of an incremental re-scan, or None when the whole history must be read."""
        if self.stateless or self.full or not state.get(LAST_SCAN):
            return None
        last = min(parse_timestamp(state[LAST_SCAN]), self.now)
        return max(utc_midnight(self.start_date), utc_midnight(self.horizon(last)))

    def horizon(self, scan: datetime | None = None) -> date:
        """First day an incremental run after `scan` (default: this run) re-reads."""
        return ((scan or self.now) - timedelta(days=self.lookback_days)).date()

    def entry_range(self, state: Mapping[str, Any]) -> tuple[datetime, datetime]:
        if self.end_date is not None:
            return utc_midnight(self.start_date), utc_midnight(self.end_date)
        since = self._incremental_since(state) or utc_midnight(self.start_date)
        return since, self.now + timedelta(days=self.future_days)

    def year_range(self, state: Mapping[str, Any]) -> tuple[int, int]:
        """Inclusive years: all from start_date to next year, or current and previous (not
        before start_date's)."""
        if self.end_date is not None:
            return self.start_date.year, (self.end_date - timedelta(days=1)).year
        if self._incremental_since(state) is not None:
            return max(self.start_date.year, self.now.year - 1), self.now.year
        return self.start_date.year, self.now.year + 1

    def work_time_range(self, state: Mapping[str, Any]) -> tuple[date, date]:
        """Half-open days; work times exist only from 2023-08-21 and never in the future."""
        tomorrow = self.now.date() + timedelta(days=1)
        if self.end_date is not None:
            since, until = self.start_date, min(self.end_date, tomorrow)
        else:
            incremental = self._incremental_since(state)
            since = incremental.date() if incremental else self.start_date
            until = tomorrow
        return max(since, WORK_TIMES_START), until

    def record(self, state: dict[str, Any]) -> None:
        """Remember this scan in the resource state; a fixed window only records the progress
        of the backfill it belongs to, leaving the incremental state alone."""
        if self.end_date is not None:
            if self.backfill is not None:
                state[BACKFILL] = {
                    "plan": self.backfill.marker(),
                    "done_until": self.end_date.isoformat(),
                }
            return
        if self.full or not state.get(LAST_SCAN):
            state[LAST_RECONCILE] = self.now.isoformat()
        state[LAST_SCAN] = self.now.isoformat()
