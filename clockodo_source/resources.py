"""dlt resources generated from the entity catalog, one builder per kind of partitioning.

Partitioned tables are merged on their primary key, and every range a run reads is treated as
authoritative: keys stored for that range that the API no longer returns get a tombstone row
(the `_deleted` hard-delete column), so deletions reach every destination that supports merge.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any, TypeVar

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.extract.resource import DltResource

from clockodo_source.client import ClockodoClient, Row
from clockodo_source.destination import StoredRows
from clockodo_source.errors import ClockodoApiError
from clockodo_source.rows import (
    arrow_schema,
    arrow_table,
    as_utc,
    convert_top_row,
    format_timestamp,
    tombstones,
)
from clockodo_source.scan import ScanOptions
from clockodo_source.settings import DELETED_COLUMN, ENTITIES, Entity, Partition
from clockodo_source.windows import Window, tile, utc_midnight

T = TypeVar("T")
R = TypeVar("R")


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


def _typed(entity: Entity, rows: Iterable[Row]) -> list[Row]:
    declared = entity.column_types
    return [convert_top_row(row, entity.timestamps, entity.dates, declared) for row in rows]


def _key(entity: Entity, row: Row) -> tuple[Any, ...]:
    return tuple(row[name] for name in entity.primary_key)


def _resource(entity: Entity, fn: Callable[[], Iterator[Any]]) -> DltResource:
    return dlt.resource(  # type: ignore[call-overload, no-any-return]
        fn,
        name=entity.name,
        primary_key=list(entity.primary_key),
        write_disposition=entity.write_disposition,
        columns=entity.column_hints(),
    )


def full_list(client: ClockodoClient, entity: Entity) -> DltResource:
    """Master data: the whole list every run, replacing the table (removed rows go too)."""

    def rows() -> Iterator[list[Row]]:
        try:
            pages = client.iter_pages(entity.path, entity.list_key, dict(entity.params),
                                      entity.page_size)
            first = next(pages)
        except ClockodoApiError as exc:
            if exc.status != 404 or not entity.fallback_path or not entity.fallback_list_key:
                raise
            pages = client.iter_pages(entity.fallback_path, entity.fallback_list_key)
            first = next(pages)
        yield _typed(entity, first)
        for page in pages:
            yield _typed(entity, page)

    return _resource(entity, rows)


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


def _deleted(stored: StoredRows, lower: Any, upper: Any, seen: set[tuple[Any, ...]],
             entity: Entity) -> list[Row]:
    gone = {key for key in stored.select(lower, upper) if key not in seen}
    return tombstones(sorted(gone), entity.primary_key)


def entries(client: ClockodoClient, entity: Entity, options: ScanOptions,
            enhanced_list: bool, concurrency: int) -> DltResource:
    """Entries in entry-time windows. An entry belongs to the window holding its `time_since`
    (the API also returns it from a neighbouring window it overlaps); rows whose
    `time_last_change` equals the stored one are not rewritten."""
    schema = arrow_schema({**entity.column_types, DELETED_COLUMN: "bool"}, entity.primary_key)
    params = dict(entity.params) if enhanced_list else {}
    stored = StoredRows(entity.name, entity.primary_key, "time_since")

    def fetch(window: Window) -> list[Row]:
        window_params = {
            **params,
            "time_since": format_timestamp(window.since),
            "time_until": format_timestamp(window.until),
        }
        return client.fetch_all(entity.path, entity.list_key, window_params, entity.page_size)

    def changed(table: pa.Table, window: Window) -> pa.Table:
        known = dict(stored.select(window.since, window.until, extra=("time_last_change",)))
        if not known:
            return table
        cursor = pc.coalesce(table["time_last_change"], table["time_insert"]).to_pylist()
        keep = [
            known.get(row_id) is None or as_utc(known[row_id]) != moment
            for row_id, moment in zip(table["id"].to_pylist(), cursor, strict=True)
        ]
        return table.filter(pa.array(keep, pa.bool_()))

    def rows() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        since, until = options.entry_range(state)
        seen: set[tuple[Any, ...]] = set()
        for window, page in prefetch(fetch, tile(since, until, options.window), concurrency):
            if not page:
                continue
            table = arrow_table(page, schema)
            starts = table["time_since"]
            inside = pc.and_(
                pc.greater_equal(starts, pa.scalar(window.since, starts.type)),
                pc.less(starts, pa.scalar(window.until, starts.type)),
            )
            table = table.filter(inside)
            ids = table["id"].to_pylist()
            if len(set(ids)) != len(ids):
                first = {row_id: index for index, row_id in reversed(list(enumerate(ids)))}
                table = table.take(sorted(first.values()))
            seen.update((row_id,) for row_id in ids)
            table = changed(table, window)
            if table.num_rows:
                yield table
        gone = _deleted(stored, since, until, seen, entity)
        if gone:
            yield arrow_table(gone, schema)
        options.record(state)

    return _resource(entity, rows)


def yearly(client: ClockodoClient, entity: Entity, options: ScanOptions) -> DltResource:
    """One request per year; a row belongs to the year of its range column."""
    column = entity.range_column or ""
    stored = StoredRows(entity.name, entity.primary_key, column)

    def bounds(first: int, last: int) -> tuple[Any, Any]:
        if entity.add_year:
            return first, last + 1
        return date(first, 1, 1), date(last + 1, 1, 1)

    def rows() -> Iterator[list[Row]]:
        state = dlt.current.resource_state()
        first, last = options.year_range(state)
        lower, upper = bounds(first, last)
        seen: set[tuple[Any, ...]] = set()
        for year in range(first, last + 1):
            params: dict[str, str | int] = {**dict(entity.params)}
            params[entity.year_param or "year"] = year
            page = client.fetch_all(entity.path, entity.list_key, params, entity.page_size)
            if entity.add_year:
                page = [{**row, "year": year} for row in page]
            kept = []
            for row in _typed(entity, page):
                key = _key(entity, row)
                if lower <= row[column] < upper and key not in seen:
                    seen.add(key)
                    kept.append(row)
            yield kept
        yield _deleted(stored, lower, upper, seen, entity)
        options.record(state)

    return _resource(entity, rows)


def per_user_windows(client: ClockodoClient, entity: Entity, options: ScanOptions,
                     concurrency: int) -> DltResource:
    """Work times: one request per user and date window (the endpoint requires `users_id`)."""
    users = ENTITIES["users"]
    stored = StoredRows(entity.name, entity.primary_key, entity.range_column or "date")

    def fetch(task: tuple[Window, int]) -> list[Row]:
        window, users_id = task
        first_day, last_day = window.dates()
        params: dict[str, str | int] = {
            "users_id": users_id,
            "date_since": first_day.isoformat(),
            "date_until": last_day.isoformat(),
        }
        return client.fetch_all(entity.path, entity.list_key, params, entity.page_size)

    def rows() -> Iterator[list[Row]]:
        state = dlt.current.resource_state()
        since, until = options.work_time_range(state)
        seen: set[tuple[Any, ...]] = set()
        if since < until:
            user_ids = [
                row["id"]
                for row in client.fetch_all(users.path, users.list_key, None, users.page_size)
            ]
            windows = list(tile(utc_midnight(since), utc_midnight(until), "year"))
            tasks = [(window, users_id) for window in windows for users_id in user_ids]
            for _, page in prefetch(fetch, tasks, concurrency):
                kept = []
                for row in _typed(entity, page):
                    key = _key(entity, row)
                    if since <= row["date"] < until and key not in seen:
                        seen.add(key)
                        kept.append(row)
                yield kept
        yield _deleted(stored, since, until, seen, entity)
        options.record(state)

    return _resource(entity, rows)


def build_resources(
    client: ClockodoClient, options: ScanOptions, enhanced_list: bool, concurrency: int
) -> list[DltResource]:
    """Every table of the catalog as a dlt resource."""
    built: dict[str, DltResource] = {}
    for entity in ENTITIES.values():
        if entity.partition is Partition.NONE:
            built[entity.name] = full_list(client, entity)
        elif entity.partition is Partition.ENTRY_WINDOWS:
            built[entity.name] = entries(client, entity, options, enhanced_list, concurrency)
        elif entity.partition is Partition.YEARS:
            built[entity.name] = yearly(client, entity, options)
        elif entity.partition is Partition.USER_WINDOWS:
            built[entity.name] = per_user_windows(client, entity, options, concurrency)
    for entity in ENTITIES.values():
        if entity.partition is Partition.DERIVED and entity.derived_from:
            built[entity.name] = customer_projects(built[entity.derived_from], entity)
    return [built[entity.name] for entity in ENTITIES.values()]
