"""The small answers of a run, all requested when its first table starts.

Every master-data list, the lists whose ids a per-year table asks for (the non-business
groups) and every year of the per-year tables are about one request each; read table after
table, every one would wait for the round trip of the one before, and under a binding rate
budget the last budget window would wait on them after the large tables instead of having them
served in an earlier one. The years begin at the account's first year with data
(`first_year`), found before any year is requested.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import dlt

from clockodo_source.client import ClockodoClient
from clockodo_source.errors import ClockodoApiError
from clockodo_source.resources.first_year import first_data_year
from clockodo_source.rows import Row
from clockodo_source.scan import ScanOptions
from clockodo_source.settings import ENTITIES, Entity, EveryIdOf, Partition
from clockodo_source.state import ResourceState, SourceState

USERS = "users"


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
        #: where the per-year tables begin (None: at start_date; a fixed window: its years)
        self.first_year: int | None = None
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

    def _wanted(self) -> tuple[list[Entity], list[Entity]]:
        """The lists the run loads (itself or through a derived table), and the per-year
        tables it loads."""
        lists: list[Entity] = []
        years: list[Entity] = []
        for entity in ENTITIES.values():
            if not self._loaded(entity):
                continue
            if entity.partition is Partition.NONE:
                lists.append(entity)
            elif entity.partition is Partition.YEARS:
                years.append(entity)
        return lists, years

    def _find_first_year(self, yearly: list[Entity]) -> int | None:
        """The account's first year with data, for the per-year tables: found anew by a run
        over the whole history (and by any run once, if no earlier run found it), remembered
        in the source state for the incremental runs after it. None for a fixed window."""
        if not yearly or self._options.stateless:
            return None
        source = SourceState(dlt.current.source_state())
        if self._options.full or source.first_year is None:
            source.first_year = first_data_year(self._client, self._options, self._users())
        return source.first_year

    def _users(self) -> list[Row]:
        """The users list (with their start dates), as requested early, else now; none when
        the API user may not read it."""
        early = self._reads.get((USERS, None))
        try:
            pages = early.result() if early is not None else read_list(self._client,
                                                                        ENTITIES[USERS])
        except ClockodoApiError as exc:
            if exc.status != 403:
                raise
            return []
        return [row for page in pages for row in page]

    def year_range(self, entity: Entity) -> range:
        """The years of per-year table `entity` this run reads (once `start` ran)."""
        states = dlt.current.source_state().get("resources", {})
        state = ResourceState(states.get(entity.name, {}))
        first, last = self._options.year_range(state, self.first_year)
        return range(first, last + 1)

    def start(self) -> None:
        """Request every small answer of the run; once. The years wait for the account's
        first year with data (the users list and a request or two)."""
        if self._started:
            return
        self._started = True
        lists, yearly = self._wanted()
        if not lists and not yearly:
            return
        pool = ThreadPoolExecutor(max_workers=self._concurrency,
                                  thread_name_prefix="clockodo-early")
        # submitted first, so a worker runs them before any year waits on them
        self._ids = {listed: pool.submit(read_ids, self._client, listed)
                     for listed in {entity.every_id_of for entity in yearly} if listed}
        self._reads = {(entity.name, None): pool.submit(self._read, entity, None)
                       for entity in lists}
        try:
            self.first_year = self._find_first_year(yearly)
            self._reads.update({(entity.name, year): pool.submit(self._read, entity, year)
                                for entity in yearly for year in self.year_range(entity)})
        finally:
            pool.shutdown(wait=False)

    def answer(self, entity: Entity, year: int | None = None) -> Any:
        """A list's pages (`year` None), or a year's rows: as requested early, else now.
        Answers stay for the run (they are small): the users list serves its table and the
        work-time requests."""
        early = self._reads.get((entity.name, year))
        return early.result() if early is not None else self._read(entity, year)
