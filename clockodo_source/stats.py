"""Counters a run reports: HTTP traffic and, per table, rows added, updated and removed."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class RequestStats:
    """What the run summary reports about HTTP traffic."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    wait_seconds: float = 0.0
    by_path: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, path: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_path[path] = self.by_path.get(path, 0) + 1

    def add(self, *, retries: int = 0, throttled: int = 0, wait: float = 0.0) -> None:
        with self._lock:
            self.retries += retries
            self.throttled += throttled
            self.wait_seconds += wait

    def merge(self, other: RequestStats) -> None:
        self.add(retries=other.retries, throttled=other.throttled, wait=other.wait_seconds)
        with self._lock:
            self.requests += other.requests
            for path, count in other.by_path.items():
                self.by_path[path] = self.by_path.get(path, 0) + count


@dataclass
class TableChanges:
    """Rows a run wrote for keys new to the destination, rewrote for stored keys, and removed."""

    added: int = 0
    updated: int = 0
    removed: int = 0

    def count(self, written: list[tuple[object, ...]], stored: set[tuple[object, ...]],
              removed: int = 0) -> None:
        updated = sum(1 for key in written if key in stored)
        self.updated += updated
        self.added += len(written) - updated
        self.removed += removed


@dataclass
class SourceStats:
    requests: RequestStats = field(default_factory=RequestStats)
    tables: dict[str, TableChanges] = field(default_factory=dict)
    #: tables skipped because the API user may not read them: table -> endpoint
    skipped: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> TableChanges:
        return self.tables.setdefault(name, TableChanges())

    def merge(self, other: SourceStats) -> None:
        """Add another run's counters (a backfill is one run per window)."""
        self.requests.merge(other.requests)
        self.skipped.update(other.skipped)
        for name, changes in other.tables.items():
            mine = self.table(name)
            mine.added += changes.added
            mine.updated += changes.updated
            mine.removed += changes.removed


#: the stats of the source most recently built in this thread: dlt hides a source's objects
#: once it is built, and the CLI's summary needs them; per thread, because `run --all-accounts`
#: builds and runs several accounts' sources at once, each in a thread of its own
_latest = threading.local()


def track(stats: SourceStats) -> SourceStats:
    _latest.value = stats
    return stats


def latest() -> SourceStats | None:
    value: SourceStats | None = getattr(_latest, "value", None)
    return value
