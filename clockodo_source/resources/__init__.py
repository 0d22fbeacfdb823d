"""dlt resources generated from the entity catalog, one module per kind of partitioning:
`lists` (master data, replaced), `years` (per-year tables), `work_times` (per user and
window), `entries` (entry-time windows); `common` holds what they share, `early` the small
answers every run requests at once. A new entity of an existing kind needs only its catalog
entry in `settings.py`; a new kind gets a module here and a line in `BUILDERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from dlt.extract.resource import DltResource

from clockodo_source.resources.common import Context
from clockodo_source.resources.entries import entries as entry_windows
from clockodo_source.resources.lists import customer_projects, full_list
from clockodo_source.resources.work_times import per_user_windows
from clockodo_source.resources.years import yearly
from clockodo_source.settings import ENTITIES, Entity, Partition

__all__ = ["BUILDERS", "Context", "build_resources"]

BUILDERS: dict[Partition, Callable[[Context, Entity], DltResource]] = {
    Partition.NONE: full_list,
    Partition.ENTRY_WINDOWS: entry_windows,
    Partition.YEARS: yearly,
    Partition.USER_WINDOWS: per_user_windows,
}


def build_resources(ctx: Context) -> list[DltResource]:
    """Every table of the catalog as a dlt resource; entries last.

    dlt extracts resources one after another. Entry pages are requested many at once, work
    times one user-year after another as their rows are written: read last, entries fill a
    binding rate budget's last window at once, where work times would leave it idle.
    """
    built = {
        entity.name: BUILDERS[entity.partition](ctx, entity)
        for entity in ENTITIES.values() if entity.partition in BUILDERS
    }
    for entity in ENTITIES.values():
        if entity.partition is Partition.DERIVED and entity.derived_from:
            built[entity.name] = customer_projects(built[entity.derived_from], entity)
    order = sorted(ENTITIES.values(), key=lambda item: item.partition is Partition.ENTRY_WINDOWS)
    return [built[entity.name] for entity in order]
