"""What every kind of resource shares: the run's context, the dlt resource around a reader,
skipping tables the API user may not read, and reconciling a re-read range with what is stored.

Partitioned tables are merged on their primary key, and every range a run reads is treated as
authoritative: keys stored for that range that the API no longer returns get a tombstone row
(the `_deleted` hard-delete column), so deletions reach every destination that supports merge.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import dlt
import orjson
from dlt.extract.resource import DltResource

from clockodo_source.client import ClockodoClient
from clockodo_source.errors import ClockodoApiError, ConfigurationError
from clockodo_source.options import Options
from clockodo_source.resources.early import EarlyReads
from clockodo_source.rows import Row, convert_top_row, tombstones
from clockodo_source.scan import ScanOptions
from clockodo_source.settings import ENTITIES, ROW_ID_COLUMN, Entity
from clockodo_source.state import SourceState
from clockodo_source.stats import Key, SourceStats

logger = logging.getLogger("clockodo_source")
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


class Context:
    """What every resource of one source shares: the client, the options and the counters."""

    def __init__(self, client: ClockodoClient, options: Options, stats: SourceStats) -> None:
        self.client = client
        self.options = options
        self.stats = stats
        self.early = EarlyReads(client, options.scan, options.client.concurrency,
                                loaded_tables)

    @property
    def scan(self) -> ScanOptions:
        return self.options.scan

    @property
    def concurrency(self) -> int:
        return self.options.client.concurrency

    def claim_account(self) -> None:
        """A pipeline holds one Clockodo account: the first load records it, and a load of
        another account into the same tables is refused before any request."""
        state = SourceState(dlt.current.source_state())
        account = self.options.client.account
        if state.account is None:
            state.account = account
        elif state.account != account:
            raise ConfigurationError(
                f"this pipeline holds the Clockodo account {state.account}, not {account}: "
                "give each account its own pipeline and dataset (--pipeline-name and --dataset, "
                "or pipeline_name and dataset_name in Python)"
            )


def typed(entity: Entity, rows: Iterable[Row]) -> list[Row]:
    declared = entity.column_types
    return [convert_top_row(row, entity.timestamps, entity.dates, declared) for row in rows]


def key_of(entity: Entity, row: Row) -> Key:
    return tuple(row[name] for name in entity.primary_key)


def digest(content: object) -> str:
    """A short hash of JSON-able content: kept in dlt state, per table, year and day."""
    return hashlib.blake2b(orjson.dumps(content), digest_size=16).hexdigest()


def stamp_version(row: Row) -> str:
    """Set a typed row's version as dlt's row id: a digest of its content, the same for an
    unchanged row whenever it is read again."""
    version = row[ROW_ID_COLUMN] = digest(row)
    return version


def derived_from(entity: Entity) -> list[str]:
    """Tables made from `entity`'s rows without a request of their own."""
    return [derived.name for derived in ENTITIES.values() if derived.derived_from == entity.name]


def loaded_tables(entity: Entity) -> list[str]:
    """Tables this run loads from `entity`'s rows: its own and derived ones, each only when
    selected (a parent read for a derived table loads nothing)."""
    selected = dlt.current.source().resources.selected
    return [name for name in (entity.name, *derived_from(entity)) if name in selected]


def skip(entity: Entity) -> None:
    """Leave a replaced table (and the tables derived from it) as stored this run: dlt would
    empty a replaced table whose resource yields nothing."""
    dlt.current.resource().apply_hints(write_disposition="skip")
    resources = dlt.current.source().resources
    for name in derived_from(entity):
        if name in resources:
            resources[name].apply_hints(write_disposition="skip")


def _forgiving(ctx: Context, entity: Entity, fn: Callable[[], Iterator[Any]]
               ) -> Callable[[], Iterator[Any]]:
    """Skip a table the API user may not read (403) instead of failing the whole run, unless
    `strict`. A skipped table keeps what it holds: no tombstones, no state, and a replaced
    table is switched to dlt's `skip` disposition so it is not emptied. The source state
    remembers which tables the last run that read them skipped."""

    def guarded() -> Iterator[Any]:
        produced = False
        ctx.claim_account()
        ctx.early.start()
        skipped = SourceState(dlt.current.source_state()).skipped_tables
        try:
            for item in fn():
                produced = True
                yield item
        except ClockodoApiError as exc:
            replace = entity.write_disposition == "replace"
            if exc.status != 403 or ctx.options.strict or (produced and replace):
                raise
            ctx.stats.skipped[entity.name] = skipped[entity.name] = exc.endpoint
            logger.warning("skipped %s: the API user may not read %s (403)", entity.name,
                           exc.endpoint)
            if replace:
                skip(entity)
        else:
            skipped.pop(entity.name, None)

    return guarded


def make_resource(ctx: Context, entity: Entity, fn: Callable[[], Iterator[Any]],
                  deduplicated: bool = False) -> DltResource:
    """The dlt resource of `entity` around its reader `fn`. `deduplicated`: the reader yields
    each key at most once per load, so the merge can skip its de-duplication pass over the
    staged rows (half the merge time of a large load)."""
    disposition: Any = entity.write_disposition
    if deduplicated:
        disposition = {"disposition": "merge", "deduplicated": True}
    resource: DltResource = dlt.resource(  # type: ignore[call-overload]
        _forgiving(ctx, entity, fn),
        name=entity.name,
        primary_key=list(entity.primary_key),
        write_disposition=disposition,
        columns=entity.column_hints(),
        nested_hints=entity.nested_hints(),  # type: ignore[arg-type]
    )
    resource.apply_hints(additional_table_hints=entity.table_hints())
    return resource


def within(column: str, lower: Any, upper: Any) -> Callable[[Row], bool]:
    """Whether a row's `column` lies in `[lower, upper)`: the range a re-read answers for."""
    return lambda row: bool(lower <= row[column] < upper)


class RowFilter:
    """Decides per row whether it must be written (see `work_times.DayDigests`)."""

    def changed(self, key: Key, version: str) -> bool:
        return True

    def forget(self, keys: Iterable[Key]) -> None:
        """Removed rows: a row that comes back must be written again."""


def reconciled(ctx: Context, entity: Entity, stored: Mapping[Key, str | None],
               pages: Iterable[list[Row]], keep: Callable[[Row], bool],
               written: RowFilter | None = None) -> Iterator[list[Row]]:
    """Typed rows of `pages`, each with its version, that belong to the scanned range (each
    key once) and, given `written`, changed since last written; then tombstones for keys
    stored for that range (`stored`: key -> stored version) the API no longer returned."""
    changes = ctx.stats.table(entity.name)
    written = written or RowFilter()
    seen: set[Key] = set()
    for page in pages:
        kept = []
        for row in typed(entity, page):
            key = key_of(entity, row)
            if keep(row) and key not in seen:
                seen.add(key)
                version = stamp_version(row)
                if written.changed(key, version):
                    kept.append((key, version, row))
        changes.count(((key, version) for key, version, _ in kept), stored)
        yield [row for _, _, row in kept]
    gone = sorted(set(stored) - seen)
    changes.removed += len(gone)
    written.forget(gone)
    yield tombstones(gone, entity.primary_key)
