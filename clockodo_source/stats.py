"""Counters a run reports: HTTP traffic and, per table, rows added, updated and removed."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: a row's primary key values
Key = tuple[Any, ...]


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
    """Rows a run wrote for keys new to the destination, wrote with a content other than the
    stored one, and removed. A row rewritten unchanged (a reconcile rewrites its whole range)
    is none of these."""

    added: int = 0
    updated: int = 0
    removed: int = 0

    def count(self, written: Iterable[tuple[Key, str]], stored: Mapping[Key, str | None]
              ) -> None:
        """Count rows written as (key, version) against the stored version of each key."""
        for key, version in written:
            if key not in stored:
                self.added += 1
            elif stored[key] != version:
                self.updated += 1


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
