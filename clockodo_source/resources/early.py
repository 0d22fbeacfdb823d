"""The small answers of a run, all requested when its first table starts.

Every master-data list, the lists whose ids a per-year table asks for (the non-business
groups) and every year of the per-year tables are about one request each; read table after
table, every one would wait for the round trip of the one before, and under a binding rate
budget the last budget window would wait on them after the large tables instead of having them
served in an earlier one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import dlt

from clockodo_source.client import ClockodoClient
from clockodo_source.errors import ClockodoApiError
from clockodo_source.rows import Row
from clockodo_source.scan import ScanOptions
from clockodo_source.settings import ENTITIES, Entity, EveryIdOf, Partition
from clockodo_source.state import ResourceState


def read_list(client: ClockodoClient, entity: Entity) -> list[list[Row]]:
    """Every page of a master-data list (from its fallback route where the API has no
    current one yet)."""
    try:
        return list(client.iter_pages(entity.path, entity.list_key, dict(entity.params),
                                      entity.page_size))
    except ClockodoApiError as exc:
        if exc.status != 404 or not entity.fallback_path or not entity.fallback_list_key:
            raise
        return list(client.iter_pages(entity.fallback_path, entity.fallback_list_key))


def read_year(client: ClockodoClient, entity: Entity, year: int, ids: list[int]) -> list[Row]:
    """One year of a per-year table (a row gets its `year` where the API leaves it out); `ids`
    are those of the list `entity.every_id_of` names, all asked for in the one request."""
    params: dict[str, str | int] = {**dict(entity.params)}
    params[entity.year_param or "year"] = year
    if entity.every_id_of and ids:
        params[entity.every_id_of.param] = ",".join(map(str, ids))
    page = client.fetch_all(entity.path, entity.list_key, params, entity.page_size)
    return [{**row, "year": year} for row in page] if entity.add_year else page


def read_ids(client: ClockodoClient, listed: EveryIdOf) -> list[int]:
    """Every id of a small unpaged list (the non-business groups)."""
    return sorted(row["id"] for row in client.fetch_all(listed.path, listed.list_key))


class EarlyReads:
    """Requests every small answer of the run once, and hands each out when asked."""

    def __init__(self, client: ClockodoClient, options: ScanOptions, concurrency: int,
                 loaded: Callable[[Entity], list[str]]) -> None:
        """`loaded`: the tables the run loads from an entity's rows (none: not read)."""
        self._client = client
        self._options = options
        self._concurrency = concurrency
        self._loaded = loaded
        self._started = False
        self._reads: dict[tuple[str, int | None], Future[Any]] = {}
        self._ids: dict[EveryIdOf, Future[list[int]]] = {}

    def _read(self, entity: Entity, year: int | None) -> Any:
        if year is None:
            return read_list(self._client, entity)
        ids = self._listed_ids(entity.every_id_of) if entity.every_id_of else []
        return read_year(self._client, entity, year, ids)

    def _listed_ids(self, listed: EveryIdOf) -> list[int]:
        """The ids as requested early (the years wait for that one request), else now."""
        early = self._ids.get(listed)
        return early.result() if early is not None else read_ids(self._client, listed)

    def _wanted(self) -> list[tuple[Entity, int | None]]:
        """Each list the run loads (itself or through a derived table), each year of each
        per-year table it loads."""
        states = dlt.current.source_state().get("resources", {})
        wanted: list[tuple[Entity, int | None]] = []
        for entity in ENTITIES.values():
            if not self._loaded(entity):
                continue
            if entity.partition is Partition.NONE:
                wanted.append((entity, None))
            elif entity.partition is Partition.YEARS:
                state = ResourceState(states.get(entity.name, {}))
                first, last = self._options.year_range(state)
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
        self._ids = {listed: pool.submit(read_ids, self._client, listed)
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
