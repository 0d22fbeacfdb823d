"""dlt resources generated from the entity catalog, one builder per kind of partitioning.

Partitioned tables are merged on their primary key, and every range a run reads is treated as
authoritative: keys stored for that range that the API no longer returns get a tombstone row
(the `_deleted` hard-delete column), so deletions reach every destination that supports merge.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

import dlt
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.extract.resource import DltResource

from clockodo_source.client import ClockodoClient, Page, PageDecoder, Row
from clockodo_source.destinations import keep_values_exact
from clockodo_source.errors import ClockodoApiError
from clockodo_source.rows import (
    ArrowPages,
    KeyedPage,
    KeyedPages,
    arrow_schema,
    arrow_table,
    convert_top_row,
    format_timestamp,
    tombstones,
)
from clockodo_source.scan import CURSOR, DAY_DIGESTS, DIGESTS, SKIPPED_TABLES, ScanOptions
from clockodo_source.settings import DELETED_COLUMN, ENTITIES, Entity, EveryIdOf, Partition
from clockodo_source.stats import SourceStats
from clockodo_source.stored import StoredRows
from clockodo_source.windows import Window, tile, utc_midnight

logger = logging.getLogger("clockodo_source")
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
#: User-years of work times in flight: one can hold 100,000 intervals as dicts (40 MB).
USER_YEARS_AHEAD = 2
T = TypeVar("T")
R = TypeVar("R")
Key = tuple[Any, ...]
#: the page decoder for an entry window
Decoder = Callable[[Window], PageDecoder]


def prefetch(fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[tuple[T, R]]:
    """Map `fn` over `items` in order with up to `ahead` calls in flight, so request latency
    overlaps while memory stays bounded."""
    pool = ThreadPoolExecutor(max_workers=max(ahead, 1), thread_name_prefix="clockodo-scan")
    queue: deque[tuple[T, Future[R]]] = deque()
    try:
        for item in items:
            queue.append((item, pool.submit(fn, item)))
            if len(queue) >= ahead:
                head, future = queue.popleft()
                yield head, future.result()
        while queue:
            head, future = queue.popleft()
            yield head, future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _read_list(client: ClockodoClient, entity: Entity) -> list[list[Row]]:
    """Every page of a master-data list (from its fallback route where the API has no
    current one yet)."""
    try:
        return list(client.iter_pages(entity.path, entity.list_key, dict(entity.params),
                                      entity.page_size))
    except ClockodoApiError as exc:
        if exc.status != 404 or not entity.fallback_path or not entity.fallback_list_key:
            raise
        return list(client.iter_pages(entity.fallback_path, entity.fallback_list_key))


def _read_year(client: ClockodoClient, entity: Entity, year: int, ids: list[int]) -> list[Row]:
    """One year of a per-year table (a row gets its `year` where the API leaves it out); `ids`
    are those of the list `entity.every_id_of` names, all asked for in the one request."""
    params: dict[str, str | int] = {**dict(entity.params)}
    params[entity.year_param or "year"] = year
    if entity.every_id_of and ids:
        params[entity.every_id_of.param] = ",".join(map(str, ids))
    page = client.fetch_all(entity.path, entity.list_key, params, entity.page_size)
    return [{**row, "year": year} for row in page] if entity.add_year else page


def _read_ids(client: ClockodoClient, listed: EveryIdOf) -> list[int]:
    """Every id of a small unpaged list (the non-business groups)."""
    return sorted(row["id"] for row in client.fetch_all(listed.path, listed.list_key))


class EarlyReads:
    """The small answers of a run, all requested when its first table starts: every
    master-data list, the lists whose ids a per-year table asks for (the non-business
    groups), and every year of the per-year tables.

    Each is about one request; read table after table, every one would wait for the round
    trip of the one before, and under a binding rate budget the last budget window would
    wait on them after the large tables instead of having them served in an earlier one.
    """

    def __init__(self, client: ClockodoClient, options: ScanOptions, concurrency: int) -> None:
        self._client = client
        self._options = options
        self._concurrency = concurrency
        self._started = False
        self._reads: dict[tuple[str, int | None], Future[Any]] = {}
        self._ids: dict[EveryIdOf, Future[list[int]]] = {}

    def _read(self, entity: Entity, year: int | None) -> Any:
        if year is None:
            return _read_list(self._client, entity)
        ids = self._listed_ids(entity.every_id_of) if entity.every_id_of else []
        return _read_year(self._client, entity, year, ids)

    def _listed_ids(self, listed: EveryIdOf) -> list[int]:
        """The ids as requested early (the years wait for that one request), else now."""
        early = self._ids.get(listed)
        return early.result() if early is not None else _read_ids(self._client, listed)

    def _wanted(self) -> list[tuple[Entity, int | None]]:
        """Each list the run loads (itself or through a derived table), each year of each
        per-year table it loads."""
        states = dlt.current.source_state().get("resources", {})
        wanted: list[tuple[Entity, int | None]] = []
        for entity in ENTITIES.values():
            if not _loaded_tables(entity):
                continue
            if entity.partition is Partition.NONE:
                wanted.append((entity, None))
            elif entity.partition is Partition.YEARS:
                first, last = self._options.year_range(states.get(entity.name, {}))
                wanted += [(entity, year) for year in range(first, last + 1)]
        return wanted

    def start(self) -> None:
        """Request every small answer of the run; once."""
        if self._started:
            return
        self._started = True
        wanted = self._wanted()
        if not wanted:
            return
        pool = ThreadPoolExecutor(max_workers=min(self._concurrency, len(wanted)),
                                  thread_name_prefix="clockodo-early")
        # submitted first, so a worker runs them before any year waits on them
        self._ids = {listed: pool.submit(_read_ids, self._client, listed)
                     for listed in {entity.every_id_of for entity, _ in wanted} if listed}
        self._reads = {(entity.name, year): pool.submit(self._read, entity, year)
                       for entity, year in wanted}
        pool.shutdown(wait=False)

    def answer(self, entity: Entity, year: int | None = None) -> Any:
        """A list's pages (`year` None), or a year's rows: as requested early, else now.
        Answers stay for the run (they are small): the users list serves its table and the
        work-time requests."""
        early = self._reads.get((entity.name, year))
        return early.result() if early is not None else self._read(entity, year)


class Context:
    """What every resource of one source shares: the client, the scan options and counters."""

    def __init__(self, client: ClockodoClient, options: ScanOptions, stats: SourceStats,
                 enhanced_list: bool, concurrency: int, strict: bool = False) -> None:
        self.client = client
        self.options = options
        self.stats = stats
        self.enhanced_list = enhanced_list
        self.concurrency = concurrency
        self.strict = strict
        self.early = EarlyReads(client, options, concurrency)


def _typed(entity: Entity, rows: Iterable[Row]) -> list[Row]:
    declared = entity.column_types
    return [convert_top_row(row, entity.timestamps, entity.dates, declared) for row in rows]


def _key(entity: Entity, row: Row) -> Key:
    return tuple(row[name] for name in entity.primary_key)


def _forgiving(ctx: Context, entity: Entity, fn: Callable[[], Iterator[Any]]
               ) -> Callable[[], Iterator[Any]]:
    """Skip a table the API user may not read (403) instead of failing the whole run, unless
    `strict`. A skipped table keeps what it holds: no tombstones, no state, and a replaced
    table is switched to dlt's `skip` disposition so it is not emptied. The source state
    remembers which tables the last run that read them skipped."""

    def guarded() -> Iterator[Any]:
        produced = False
        ctx.early.start()
        skipped: dict[str, str] = dlt.current.source_state().setdefault(SKIPPED_TABLES, {})
        try:
            for item in fn():
                produced = True
                yield item
        except ClockodoApiError as exc:
            replace = entity.write_disposition == "replace"
            if exc.status != 403 or ctx.strict or (produced and replace):
                raise
            ctx.stats.skipped[entity.name] = skipped[entity.name] = exc.endpoint
            logger.warning("skipped %s: the API user may not read %s (403)", entity.name,
                           exc.endpoint)
            if replace:
                _skip(entity)
        else:
            skipped.pop(entity.name, None)

    return guarded


def _derived(entity: Entity) -> list[str]:
    """Tables made from `entity`'s rows without a request of their own."""
    return [derived.name for derived in ENTITIES.values() if derived.derived_from == entity.name]


def _loaded_tables(entity: Entity) -> list[str]:
    """Tables this run loads from `entity`'s rows: its own and derived ones, each only when
    selected (a parent read for a derived table loads nothing)."""
    selected = dlt.current.source().resources.selected
    return [name for name in (entity.name, *_derived(entity)) if name in selected]


def _skip(entity: Entity) -> None:
    """Leave a replaced table (and the tables derived from it) as stored this run: dlt would
    empty a replaced table whose resource yields nothing."""
    dlt.current.resource().apply_hints(write_disposition="skip")
    resources = dlt.current.source().resources
    for name in _derived(entity):
        if name in resources:
            resources[name].apply_hints(write_disposition="skip")


def _resource(ctx: Context, entity: Entity, fn: Callable[[], Iterator[Any]],
              deduplicated: bool = False) -> DltResource:
    """`deduplicated`: the resource yields each key at most once per load, so the merge can
    skip its de-duplication pass over the staged rows (half the merge time of a large load)."""
    resource: DltResource = dlt.resource(  # type: ignore[call-overload]
        _forgiving(ctx, entity, fn),
        name=entity.name,
        primary_key=list(entity.primary_key),
        write_disposition=entity.write_disposition,
        columns=entity.column_hints(),
        nested_hints=entity.nested_hints(),
    )
    if deduplicated:
        resource.apply_hints(additional_table_hints={"x-stage-data-deduplicated": True})
    return resource


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
        moment = pa.timestamp("us", tz="UTC")  # a naive stored time is UTC
        self._starts = (np.empty(0, np.int64) if starts is None
                        else np.sort(starts.cast(moment).cast(pa.int64()).to_numpy()))

    def any_in(self, window: Window) -> bool:
        since, until = (int(moment.timestamp() * 1_000_000)
                        for moment in (window.since, window.until))
        at = int(np.searchsorted(self._starts, since))
        return at < len(self._starts) and bool(self._starts[at] < until)


def full_list(ctx: Context, entity: Entity) -> DltResource:
    """Master data: the whole list every run, replacing the table (removed rows go too)."""
    stored = StoredRows(entity.name, entity.primary_key)

    def rows() -> Iterator[list[Row]]:
        listed: list[list[Row]] = ctx.early.answer(entity)
        digests = _digests()
        tables = _loaded_tables(entity)
        digest = _digest(listed)
        if not ctx.options.full and all(digests.get(table) == digest for table in tables):
            _skip(entity)  # unchanged since each table was last loaded: nothing to rewrite
            return
        with stored.connected():
            before = set(stored.select())
        returned: set[Key] = set()
        for page in listed:
            typed = _typed(entity, page)
            keys = [_key(entity, row) for row in typed]
            ctx.stats.table(entity.name).count(keys, before)
            returned.update(keys)
            yield typed
        ctx.stats.table(entity.name).removed += len(before - returned)
        if not ctx.options.stateless:
            digests.update(dict.fromkeys(tables, digest))

    return _resource(ctx, entity, rows)


def _digest(content: object) -> str:
    """A short hash of JSON-able content: kept in dlt state, per table, year and day."""
    return hashlib.blake2b(orjson.dumps(content), digest_size=16).hexdigest()


def _digests() -> dict[str, str]:
    """Per table, the digest of what it was last loaded from. In the source state: dlt resets
    the state of `replace` resources every run."""
    digests: dict[str, str] = dlt.current.source_state().setdefault(DIGESTS, {})
    return digests


def customer_projects(projects: DltResource, entity: Entity) -> DltResource:
    """The customer-to-project mapping, taken from the projects rows (no extra request)."""

    def mapping(page: list[Row]) -> Iterator[list[Row]]:
        yield [{"customers_id": row["customers_id"], "projects_id": row["id"]} for row in page]

    return dlt.transformer(
        mapping,
        data_from=projects,
        name=entity.name,
        primary_key=list(entity.primary_key),
        write_disposition="replace",
        columns=entity.column_hints(),
    )


def entries(ctx: Context, entity: Entity) -> DltResource:
    """Entries in entry-time windows. An entry belongs to the window holding its `time_since`
    (the API also returns it from a neighbouring window it overlaps); rows whose
    `time_last_change` equals the stored one are not rewritten."""
    schema = arrow_schema({**entity.column_types, DELETED_COLUMN: "bool"}, entity.primary_key)
    full = ArrowPages(schema)
    keyed = KeyedPages(full, CHANGE_COLUMNS)
    params = dict(entity.params) if ctx.enhanced_list else {}
    stored = StoredRows(entity.name, entity.primary_key, entity.range_column)
    changes = ctx.stats.table(entity.name)
    page_size = entity.page_size or 1000

    def window_params(window: Window) -> dict[str, str]:
        return {
            **params,
            "time_since": format_timestamp(window.since),
            "time_until": format_timestamp(window.until),
        }

    def first_page(window: Window, decoder: Decoder) -> Page:
        return ctx.client.first_page(entity.path, entity.list_key, window_params(window),
                                     page_size, decoder(window))

    def plan(since: datetime, until: datetime, decoder: Decoder
             ) -> Iterator[tuple[Window, Page]]:
        """Windows sized to the account, each with its first page: one request reads a sparse
        range whole; a dense one is cut into calendar-aligned windows of about ROWS_PER_WINDOW
        entries, whose first pages are requested ahead of the windows' other pages (those
        wait for the page count), so each window costs one round trip, not two."""
        whole = Window(since, until)
        first = first_page(whole, decoder)
        paging = first[1]
        if int(paging.get("count_pages") or 0) <= 1:
            yield whole, first
            return
        units = list(tile(since, until, ctx.options.window))
        wanted = math.ceil(int(paging.get("count_items") or 0) / ROWS_PER_WINDOW)
        size = math.ceil(len(units) / max(wanted, 1))
        windows = [
            Window(units[start].since, units[min(start + size, len(units)) - 1].until)
            for start in range(0, len(units), size)
        ]
        ahead = min(ctx.concurrency, FIRST_PAGES_AHEAD)
        yield from prefetch(partial(first_page, decoder=decoder), windows, ahead)

    def fetch(task: tuple[Window, Page], decoder: Decoder
              ) -> tuple[pa.Table, list[KeyedPage]]:
        """A window as one arrow table, each page decoded by the thread that fetched it; with
        the keyed decoder, the table of its key columns and the pages to decode changed rows
        from."""
        window, first = task
        pages = [page for page in ctx.client.iter_pages(
            entity.path, entity.list_key, window_params(window), page_size, decoder(window),
            first)
            if len(page)]
        bodies = [page for page in pages if isinstance(page, KeyedPage)]
        tables = [page.keys for page in bodies] or pages
        if not tables:
            return schema.empty_table(), []
        return in_window(pa.concat_tables(tables, promote_options="default"), window), bodies

    def in_window(table: pa.Table, window: Window) -> pa.Table:
        starts = table["time_since"]
        inside = pc.and_(
            pc.greater_equal(starts, pa.scalar(window.since, starts.type)),
            pc.less(starts, pa.scalar(window.until, starts.type)),
        )
        table = table.filter(inside)
        if pc.count_distinct(table["id"]).as_py() == table.num_rows:
            return table
        ids = table["id"].to_pylist()  # a row moved between pages while paging: keep it once
        first = {row_id: index for index, row_id in reversed(list(enumerate(ids)))}
        return table.take(sorted(first.values()))

    def changed(table: pa.Table, window: Window) -> pa.Table:
        """Rows new to the destination or whose change time differs from the stored one,
        compared column-wise (a window holds about ten thousand entries)."""
        known = stored.table(window.since, window.until, extra=("time_last_change",))
        if known is None:
            changes.added += table.num_rows
            return table
        moment = pa.timestamp("us", tz="UTC")  # a naive stored time is UTC
        position = pc.index_in(table["id"], value_set=known["id"].cast(pa.int64()))
        before = known["time_last_change"].cast(moment).take(position)
        cursor = pc.coalesce(table["time_last_change"], table["time_insert"]).cast(moment)
        differs = pc.fill_null(pc.not_equal(before, cursor), True)
        keep = pc.or_(pc.is_null(position), differs)
        added = pc.sum(pc.and_(keep, pc.is_null(position))).as_py() or 0
        kept = pc.sum(keep).as_py() or 0
        changes.added += added
        changes.updated += kept - added
        return table.filter(keep)

    def scan() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        since, until = ctx.options.entry_range(state)
        found = stored.table(since, until, extra=("time_since",))
        held = StoredStarts(None if found is None else found["time_since"])

        def decoder(window: Window) -> PageDecoder:
            """A re-read of stored rows, most of them unchanged: key columns first."""
            return keyed if held.any_in(window) else full

        returned = ReturnedIds()
        cursor: datetime | None = None  # newest time_last_change written (for `status`)
        ahead = min(ctx.concurrency, WINDOWS_AHEAD)
        windows = plan(since, until, decoder)
        for (window, _), (table, pages) in prefetch(partial(fetch, decoder=decoder), windows,
                                                    ahead):
            if not table.num_rows:
                continue
            table = changed(returned.first_seen(table), window)
            if pages and table.num_rows:
                table = in_window(keyed.rows(pages, table["id"], entity.list_key), window)
            if table.num_rows:
                latest = pc.max(table["time_last_change"]).as_py()
                cursor = max(filter(None, (cursor, latest)), default=None)
                yield table
        stored_ids = (pa.array([], pa.int64()) if found is None
                      else found["id"].cast(pa.int64()).combine_chunks())
        gone = returned.missing(stored_ids)
        changes.removed += len(gone)
        if len(gone):
            keys = sorted((row_id,) for row_id in gone.to_pylist())
            yield arrow_table(tombstones(keys, entity.primary_key), schema)
        ctx.options.record(state)
        if cursor is not None and cursor.isoformat() > state.get(CURSOR, ""):
            state[CURSOR] = cursor.isoformat()

    def rows() -> Iterator[pa.Table]:
        keep_values_exact(dlt.current.resource(), dlt.current.pipeline())
        with stored.connected():
            yield from scan()

    return _resource(ctx, entity, rows, deduplicated=True)


def _within(column: str, lower: Any, upper: Any) -> Callable[[Row], bool]:
    """Whether a row's `column` lies in `[lower, upper)`: the range a re-read answers for."""
    return lambda row: bool(lower <= row[column] < upper)


class DayDigests:
    """A hash of each row as last written, for the days the next incremental run re-reads.

    The look-back moves with every run, so a digest of a whole range never matches twice; per
    day, a row whose hash is unchanged need not be rewritten (a no-change run would otherwise
    rewrite every work-time day of the look-back, and all their intervals).
    """

    def __init__(self, ctx: Context, entity: Entity) -> None:
        self._day_at = entity.primary_key.index(entity.range_column or "")
        self._full = ctx.options.full
        self._horizon = ctx.options.horizon()
        self._days: dict[str, dict[str, str]] = dlt.current.resource_state().setdefault(
            DAY_DIGESTS, {})

    def changed(self, key: Key, row: Row) -> bool:
        """Whether `row` differs from its last written version; remembers it as written."""
        day: date = key[self._day_at]
        if day < self._horizon:
            return True
        name = "/".join(map(str, key))
        digest = _digest(row)
        digests = self._days.setdefault(day.isoformat(), {})
        if digests.get(name) == digest and not self._full:
            return False
        digests[name] = digest
        return True

    def forget(self, keys: Iterable[Key]) -> None:
        """Removed rows: a row that comes back must be written again."""
        for key in keys:
            day: date = key[self._day_at]
            self._days.get(day.isoformat(), {}).pop("/".join(map(str, key)), None)

    def prune(self) -> None:
        """Drop the days the next run no longer re-reads."""
        for day in [day for day in self._days if day < self._horizon.isoformat()]:
            del self._days[day]


def _reconciled(ctx: Context, entity: Entity, stored: set[Key], pages: Iterable[list[Row]],
                keep: Callable[[Row], bool], digests: DayDigests | None = None
                ) -> Iterator[list[Row]]:
    """Typed rows of `pages` that belong to the scanned range (each key once) and, given
    `digests`, changed since last written; then tombstones for stored keys of that range the
    API no longer returned."""
    changes = ctx.stats.table(entity.name)
    seen: set[Key] = set()
    for page in pages:
        kept = []
        for row in _typed(entity, page):
            key = _key(entity, row)
            if keep(row) and key not in seen:
                seen.add(key)
                if digests is None or digests.changed(key, row):
                    kept.append(row)
        changes.count([_key(entity, row) for row in kept], stored)
        yield kept
    gone = sorted(stored - seen)
    changes.removed += len(gone)
    if digests is not None:
        digests.forget(gone)
        digests.prune()
    yield tombstones(gone, entity.primary_key)


def yearly(ctx: Context, entity: Entity) -> DltResource:
    """One request per year; a row belongs to the year of its range column."""
    column = entity.range_column or ""
    stored = StoredRows(entity.name, entity.primary_key, column)

    def fetch(year: int) -> list[Row]:
        rows: list[Row] = ctx.early.answer(entity, year)
        return rows

    def bounds(year: int) -> tuple[Any, Any]:
        return (year, year + 1) if entity.add_year else (date(year, 1, 1), date(year + 1, 1, 1))

    def rows() -> Iterator[list[Row]]:
        """A year whose answer equals the one it was last loaded from is not rewritten (a
        no-change run would otherwise reload two years of every per-year table)."""
        state = dlt.current.resource_state()
        first, last = ctx.options.year_range(state)
        digests = _digests()
        for year, page in prefetch(fetch, range(first, last + 1), ctx.concurrency):
            key, digest = f"{entity.name}/{year}", _digest(page)
            if not ctx.options.full and digests.get(key) == digest:
                continue
            lower, upper = bounds(year)
            with stored.connected():
                before = set(stored.select(lower, upper))
            yield from _reconciled(ctx, entity, before, [page], _within(column, lower, upper))
            if not ctx.options.stateless:
                digests[key] = digest
        ctx.options.record(state)

    return _resource(ctx, entity, rows)


def per_user_windows(ctx: Context, entity: Entity) -> DltResource:
    """Work times: one request per user and date window (the endpoint requires `users_id`)."""
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
        state = dlt.current.resource_state()
        since, until = ctx.options.work_time_range(state)
        with stored.connected():
            before = set(stored.select(since, until))
        # a short look-back reads every user at once
        days = min(max((until - since).days, 1), 366)
        ahead = min(ctx.concurrency, USER_YEARS_AHEAD * 366 // days)
        pages = (page for _, page in prefetch(fetch, tasks(since, until), ahead))
        yield from _reconciled(ctx, entity, before, pages, _within(column, since, until),
                               DayDigests(ctx, entity))
        ctx.options.record(state)

    # each day once per load, so the merge skips its de-duplication pass, which for the nested
    # intervals needs memory growing with them (630,000 intervals exceeded DuckDB's 64 MB)
    return _resource(ctx, entity, rows, deduplicated=True)


def build_resources(ctx: Context) -> list[DltResource]:
    """Every table of the catalog as a dlt resource; entries last.

    dlt extracts resources one after another. Entry pages are requested many at once, work
    times one user-year after another as their rows are written: read last, entries fill a
    binding rate budget's last window at once, where work times would leave it idle.
    """
    builders: dict[Partition, Callable[[Context, Entity], DltResource]] = {
        Partition.NONE: full_list,
        Partition.ENTRY_WINDOWS: entries,
        Partition.YEARS: yearly,
        Partition.USER_WINDOWS: per_user_windows,
    }
    built = {
        entity.name: builders[entity.partition](ctx, entity)
        for entity in ENTITIES.values() if entity.partition in builders
    }
    for entity in ENTITIES.values():
        if entity.partition is Partition.DERIVED and entity.derived_from:
            built[entity.name] = customer_projects(built[entity.derived_from], entity)
    order = sorted(ENTITIES.values(), key=lambda item: item.partition is Partition.ENTRY_WINDOWS)
    return [built[entity.name] for entity in order]
