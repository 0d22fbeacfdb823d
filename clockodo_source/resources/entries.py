"""Entries in entry-time windows, compared column-wise with what the destination holds.

An entry belongs to the window holding its `time_since` (the API also returns it from a
neighbouring window it overlaps); rows whose `time_last_change` equals the stored one are not
rewritten; stored entries of the scanned range the API no longer returns are deleted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime

import dlt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable
from dlt.extract.resource import DltResource

from clockodo_source.client import Page, PageDecoder
from clockodo_source.exact import keep_values_exact
from clockodo_source.resources.common import Context, make_resource, prefetch
from clockodo_source.rows import (
    UTC_MOMENT,
    ArrowPages,
    KeyedPage,
    KeyedPages,
    arrow_schema,
    arrow_table,
    format_timestamp,
    tombstones,
)
from clockodo_source.settings import DELETED_COLUMN, LOAD_ID_COLUMN, ROW_ID_COLUMN, Entity
from clockodo_source.state import ResourceState
from clockodo_source.stored import StoredRows
from clockodo_source.windows import Window, tile

#: Entries per window of a dense account: about ten pages, so partial last pages add at most a
#: tenth more requests, while windows stay small enough to re-read and compare cheaply.
ROWS_PER_WINDOW = 10_000
#: Entry windows fetched ahead of the one being written; pages inside them are fetched in
#: parallel too, so a few windows keep `concurrency` requests busy at bounded memory.
WINDOWS_AHEAD = 2
#: First pages of entry windows requested ahead: small, and what the rest of a window waits for.
FIRST_PAGES_AHEAD = 6
#: The entry columns that place a row in its window and tell whether it changed
CHANGE_COLUMNS = ("id", "time_since", "time_last_change", "time_insert")
#: the page decoder for an entry window
Decoder = Callable[[Window], PageDecoder]


class ReturnedIds:
    """Ids a scan has returned so far, as one sorted int64 array (8 bytes an id): a window is
    checked against it by binary search, without a Python object per id."""

    def __init__(self) -> None:
        self._ids = np.empty(0, np.int64)

    def _returned(self, ids: np.ndarray) -> np.ndarray:
        """Per id, whether it was returned (a binary search: no hash set of a million ids)."""
        if not len(self._ids):
            return np.zeros(len(ids), bool)
        at = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        returned: np.ndarray = self._ids[at] == ids
        return returned

    def first_seen(self, table: pa.Table) -> pa.Table:
        """`table` without the rows an earlier window returned (an entry that moved while the
        range was read), so each id is written once; remembers the ids."""
        ids = table["id"].to_numpy()
        new = ~self._returned(ids)
        if not new.all():
            table, ids = table.filter(pa.array(new)), ids[new]
        # two sorted runs: the stable sort merges them in linear time
        self._ids = np.sort(np.concatenate([self._ids, np.sort(ids)]), kind="stable")
        return table

    def missing(self, ids: pa.Array) -> pa.Array:
        """Those of `ids` that were not returned."""
        return ids.filter(pa.array(~self._returned(ids.to_numpy())))


class StoredStarts:
    """The `time_since` of the entries stored for a scanned range, sorted: a window holding
    some is a re-read, one holding none is new (its pages are decoded whole at once)."""

    def __init__(self, starts: pa.ChunkedArray | None) -> None:
        self._starts = (np.empty(0, np.int64) if starts is None
                        else np.sort(starts.cast(UTC_MOMENT).cast(pa.int64()).to_numpy()))

    def any_in(self, window: Window) -> bool:
        since, until = (int(moment.timestamp() * 1_000_000)
                        for moment in (window.since, window.until))
        at = int(np.searchsorted(self._starts, since))
        return at < len(self._starts) and bool(self._starts[at] < until)


def in_window(table: pa.Table, window: Window) -> pa.Table:
    """The rows whose `time_since` lies in `window`, each id once (a row that moved between
    pages while they were read comes twice)."""
    starts = table["time_since"]
    inside = pc.and_(
        pc.greater_equal(starts, pa.scalar(window.since, starts.type)),
        pc.less(starts, pa.scalar(window.until, starts.type)),
    )
    table = table.filter(inside)
    if pc.count_distinct(table["id"]).as_py() == table.num_rows:
        return table
    ids = table["id"].to_pylist()
    first = {row_id: index for index, row_id in reversed(list(enumerate(ids)))}
    return table.take(sorted(first.values()))


class EntryScan:
    """One scan of a range of entries: plan the windows, fetch them, keep what changed, then
    delete what the API no longer returns. Each step is a method, testable on its own."""

    def __init__(self, ctx: Context, entity: Entity) -> None:
        self.ctx = ctx
        self.entity = entity
        self.schema = arrow_schema({**entity.column_types, DELETED_COLUMN: "bool"},
                                   entity.primary_key)
        self.full = ArrowPages(self.schema)
        self.keyed = KeyedPages(self.full, CHANGE_COLUMNS)
        self.params = dict(entity.params) if ctx.options.enhanced_list else {}
        self.stored = StoredRows(entity.name, entity.primary_key, entity.range_column)
        self.changes = ctx.stats.table(entity.name)
        self.page_size = entity.page_size or 1000
        self.held = StoredStarts(None)

    def window_params(self, window: Window) -> dict[str, str]:
        return {
            **self.params,
            "time_since": format_timestamp(window.since),
            "time_until": format_timestamp(window.until),
        }

    def decoder(self, window: Window) -> PageDecoder:
        """A re-read of stored rows, most of them unchanged, decodes key columns first."""
        return self.keyed if self.held.any_in(window) else self.full

    def first_page(self, window: Window) -> Page:
        return self.ctx.client.first_page(self.entity.path, self.entity.list_key,
                                          self.window_params(window), self.page_size,
                                          self.decoder(window))

    def plan(self, since: datetime, until: datetime) -> Iterator[tuple[Window, Page]]:
        """Windows sized to the account, each with its first page: one request reads a sparse
        range whole; a dense one is cut into calendar-aligned windows of about ROWS_PER_WINDOW
        entries, whose first pages are requested ahead of the windows' other pages (those
        wait for the page count), so each window costs one round trip, not two."""
        whole = Window(since, until)
        first = self.first_page(whole)
        paging = first[1]
        if int(paging.get("count_pages") or 0) <= 1:
            yield whole, first
            return
        units = list(tile(since, until, self.ctx.scan.window))
        wanted = math.ceil(int(paging.get("count_items") or 0) / ROWS_PER_WINDOW)
        size = math.ceil(len(units) / max(wanted, 1))
        windows = [
            Window(units[start].since, units[min(start + size, len(units)) - 1].until)
            for start in range(0, len(units), size)
        ]
        ahead = min(self.ctx.concurrency, FIRST_PAGES_AHEAD)
        yield from prefetch(self.first_page, windows, ahead)

    def fetch(self, task: tuple[Window, Page]) -> tuple[pa.Table, list[KeyedPage]]:
        """A window as one arrow table, each page decoded by the thread that fetched it; with
        the keyed decoder, the table of its key columns and the pages to decode changed rows
        from."""
        window, first = task
        pages = [page for page in self.ctx.client.iter_pages(
            self.entity.path, self.entity.list_key, self.window_params(window), self.page_size,
            self.decoder(window), first)
            if len(page)]
        bodies = [page for page in pages if isinstance(page, KeyedPage)]
        tables = [page.keys for page in bodies] or pages
        if not tables:
            return self.schema.empty_table(), []
        return in_window(pa.concat_tables(tables, promote_options="default"), window), bodies

    def changed(self, table: pa.Table, window: Window) -> pa.Table:
        """Rows new to the destination or whose change time differs from the stored one,
        compared column-wise (a window holds about ten thousand entries)."""
        known = self.stored.table(window.since, window.until, extra=("time_last_change",))
        if known is None:
            self.changes.added += table.num_rows
            return table
        position = pc.index_in(table["id"], value_set=known["id"].cast(pa.int64()))
        before = known["time_last_change"].cast(UTC_MOMENT).take(position)
        cursor = pc.coalesce(table["time_last_change"], table["time_insert"]).cast(UTC_MOMENT)
        differs = pc.fill_null(pc.not_equal(before, cursor), True)
        keep = pc.or_(pc.is_null(position), differs)
        added = pc.sum(pc.and_(keep, pc.is_null(position))).as_py() or 0
        kept = pc.sum(keep).as_py() or 0
        self.changes.added += added
        self.changes.updated += kept - added
        return table.filter(keep)

    def __call__(self) -> Iterator[pa.Table]:
        state = ResourceState(dlt.current.resource_state())
        since, until = self.ctx.scan.entry_range(state)
        found = self.stored.table(since, until, extra=("time_since",))
        self.held = StoredStarts(None if found is None else found["time_since"])
        returned = ReturnedIds()
        ahead = min(self.ctx.concurrency, WINDOWS_AHEAD)
        for (window, _), (table, pages) in prefetch(self.fetch, self.plan(since, until), ahead):
            if not table.num_rows:
                continue
            table = self.changed(returned.first_seen(table), window)
            if pages and table.num_rows:
                table = in_window(self.keyed.rows(pages, table["id"], self.entity.list_key),
                                  window)
            if table.num_rows:
                state.advance_cursor(pc.max(table["time_last_change"]).as_py())
                yield table
        stored_ids = (pa.array([], pa.int64()) if found is None
                      else found["id"].cast(pa.int64()).combine_chunks())
        gone = returned.missing(stored_ids)
        self.changes.removed += len(gone)
        if len(gone):
            keys = sorted((row_id,) for row_id in gone.to_pylist())
            yield arrow_table(tombstones(keys, self.entity.primary_key), self.schema)
        self.ctx.scan.record(state)


def current_load_id() -> str | None:
    """The id of the load being extracted; None when the source is iterated outside one."""
    try:
        return str(dlt.current.load_package_state()["load_id"])
    except CurrentLoadPackageStateNotAvailable:
        return None


def with_dlt_columns(table: pa.Table, load_id: str | None) -> pa.Table:
    """`table` with the columns dlt gives rows yielded as dicts but not arrow tables: the load
    that wrote a row, and a row id, unique per row like dlt's own. The id is the entry's id
    as text (its version is `time_last_change`): the cheapest unique text, made by one Arrow
    kernel; a unique text column is what costs, in DuckDB's storage, about 2 s a million rows."""
    loads = pa.repeat(pa.scalar(load_id, pa.string()), table.num_rows)
    return (table.append_column(LOAD_ID_COLUMN, loads)
            .append_column(ROW_ID_COLUMN, table["id"].cast(pa.string())))


def entries(ctx: Context, entity: Entity) -> DltResource:
    """The entries resource: each run one `EntryScan` of its range."""
    scan = EntryScan(ctx, entity)

    def rows() -> Iterator[pa.Table]:
        keep_values_exact(dlt.current.resource(), dlt.current.pipeline())
        load_id = current_load_id()
        with scan.stored.connected():
            for table in scan():
                yield with_dlt_columns(table, load_id)

    return make_resource(ctx, entity, rows, deduplicated=True)
