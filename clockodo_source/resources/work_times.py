"""Work times: one request per user and date window (the endpoint requires `users_id`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

import dlt
from dlt.extract.resource import DltResource

from clockodo_source.resources.common import (
    Context,
    Key,
    RowFilter,
    make_resource,
    prefetch,
    reconciled,
    within,
)
from clockodo_source.rows import Row
from clockodo_source.scan import ScanOptions
from clockodo_source.settings import ENTITIES, Entity
from clockodo_source.state import ResourceState
from clockodo_source.stored import StoredRows
from clockodo_source.windows import Window, tile, utc_midnight

#: User-years of work times in flight: one can hold 100,000 intervals as dicts (40 MB).
USER_YEARS_AHEAD = 2


class DayDigests(RowFilter):
    """A hash of each row as last written, for the days the next incremental run re-reads.

    The look-back moves with every run, so a digest of a whole range never matches twice; per
    day, a row whose hash is unchanged need not be rewritten (a no-change run would otherwise
    rewrite every work-time day of the look-back, and all their intervals).
    """

    def __init__(self, scan: ScanOptions, entity: Entity, state: ResourceState) -> None:
        self._day_at = entity.primary_key.index(entity.range_column or "")
        self._full = scan.full
        self._horizon = scan.horizon()
        self._days = state.day_digests

    def changed(self, key: Key, version: str) -> bool:
        """Whether the row's `version` differs from its last written one; remembers it as
        written."""
        day: date = key[self._day_at]
        if day < self._horizon:
            return True
        name = "/".join(map(str, key))
        digests = self._days.setdefault(day.isoformat(), {})
        if digests.get(name) == version and not self._full:
            return False
        digests[name] = version
        return True

    def forget(self, keys: Iterable[Key]) -> None:
        """Removed rows must be written again if they come back; days the next run no longer
        re-reads are dropped."""
        for key in keys:
            day: date = key[self._day_at]
            self._days.get(day.isoformat(), {}).pop("/".join(map(str, key)), None)
        for old in [day for day in self._days if day < self._horizon.isoformat()]:
            del self._days[old]


def per_user_windows(ctx: Context, entity: Entity) -> DltResource:
    """Each user's days of a year window; the days a run re-reads are authoritative."""
    users = ENTITIES["users"]
    column = entity.range_column or ""
    stored = StoredRows(entity.name, entity.primary_key, column)

    def fetch(task: tuple[Window, int]) -> list[Row]:
        window, users_id = task
        first_day, last_day = window.dates()
        params: dict[str, str | int] = {
            "users_id": users_id,
            "date_since": first_day.isoformat(),
            "date_until": last_day.isoformat(),
        }
        return ctx.client.fetch_all(entity.path, entity.list_key, params, entity.page_size)

    def tasks(since: date, until: date) -> list[tuple[Window, int]]:
        if since >= until:
            return []
        pages: list[list[Row]] = ctx.early.answer(users)
        windows = tile(utc_midnight(since), utc_midnight(until), "year")
        return [(window, row["id"]) for window in windows for page in pages for row in page]

    def rows() -> Iterator[list[Row]]:
        state = ResourceState(dlt.current.resource_state())
        since, until = ctx.scan.work_time_range(state)
        with stored.connected():
            before = stored.versions(since, until)
        # a short look-back reads every user at once
        days = min(max((until - since).days, 1), 366)
        ahead = min(ctx.concurrency, USER_YEARS_AHEAD * 366 // days)
        pages = (page for _, page in prefetch(fetch, tasks(since, until), ahead))
        yield from reconciled(ctx, entity, before, pages, within(column, since, until),
                              DayDigests(ctx.scan, entity, state))
        ctx.scan.record(state)

    # each day once per load, so the merge skips its de-duplication pass, which for the nested
    # intervals needs memory growing with them (630,000 intervals exceeded DuckDB's 64 MB)
    return make_resource(ctx, entity, rows, deduplicated=True)
