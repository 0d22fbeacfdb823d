"""Per-year tables (absences, non-business days, user reports): one request per year."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from clockodo_source.resources.common import (
    Context,
    digest,
    make_resource,
    prefetch,
    reconciled,
    within,
)
from clockodo_source.rows import Row
from clockodo_source.settings import Entity
from clockodo_source.state import ResourceState, SourceState
from clockodo_source.stored import StoredRows


def yearly(ctx: Context, entity: Entity) -> DltResource:
    """A row belongs to the year of its range column; each year read is authoritative for
    it. A year whose answer equals the one it was last loaded from is not rewritten (a
    no-change run would otherwise reload two years of every per-year table)."""
    column = entity.range_column or ""
    stored = StoredRows(entity.name, entity.primary_key, column)

    def fetch(year: int) -> list[Row]:
        rows: list[Row] = ctx.early.answer(entity, year)
        return rows

    def bounds(year: int) -> tuple[Any, Any]:
        return (year, year + 1) if entity.add_year else (date(year, 1, 1), date(year + 1, 1, 1))

    def rows() -> Iterator[list[Row]]:
        state = ResourceState(dlt.current.resource_state())
        digests = SourceState(dlt.current.source_state()).digests
        for year, page in prefetch(fetch, ctx.early.year_range(entity), ctx.concurrency):
            key, answer = f"{entity.name}/{year}", digest(page)
            if not ctx.scan.full and digests.get(key) == answer:
                continue
            lower, upper = bounds(year)
            with stored.connected():
                before = stored.versions(lower, upper)
            yield from reconciled(ctx, entity, before, [page], within(column, lower, upper))
            if not ctx.scan.stateless:
                digests[key] = answer
        ctx.scan.record(state)

    return make_resource(ctx, entity, rows)
