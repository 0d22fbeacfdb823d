"""Master data: the whole list every run, replacing the table, and the tables derived from it."""

from __future__ import annotations

from collections.abc import Iterator

import dlt
from dlt.extract.resource import DltResource

from clockodo_source.resources.common import (
    Context,
    Key,
    digest,
    key_of,
    loaded_tables,
    make_resource,
    skip,
    stamp_version,
    typed,
)
from clockodo_source.rows import Row
from clockodo_source.settings import Entity
from clockodo_source.state import SourceState
from clockodo_source.stored import StoredRows


def full_list(ctx: Context, entity: Entity) -> DltResource:
    """The whole list every run, replacing the table (removed rows go too); a list unchanged
    since each of its tables was last loaded is not rewritten."""
    stored = StoredRows(entity.name, entity.primary_key)

    def rows() -> Iterator[list[Row]]:
        listed: list[list[Row]] = ctx.early.answer(entity)
        digests = SourceState(dlt.current.source_state()).digests
        tables = loaded_tables(entity)
        answer = digest(listed)
        if not ctx.scan.full and all(digests.get(table) == answer for table in tables):
            skip(entity)
            return
        with stored.connected():
            before = stored.versions()
        returned: set[Key] = set()
        for page in listed:
            typed_rows = typed(entity, page)
            versions = [(key_of(entity, row), stamp_version(row)) for row in typed_rows]
            ctx.stats.table(entity.name).count(versions, before)
            returned.update(key for key, _ in versions)
            yield typed_rows
        ctx.stats.table(entity.name).removed += len(before.keys() - returned)
        if not ctx.scan.stateless:
            digests.update(dict.fromkeys(tables, answer))

    return make_resource(ctx, entity, rows)


def customer_projects(projects: DltResource, entity: Entity) -> DltResource:
    """The customer-to-project mapping, taken from the projects rows (no extra request)."""

    def mapping(page: list[Row]) -> Iterator[list[Row]]:
        yield [{"customers_id": row["customers_id"], "projects_id": row["id"]} for row in page]

    resource: DltResource = dlt.transformer(
        mapping,
        data_from=projects,
        name=entity.name,
        primary_key=list(entity.primary_key),
        write_disposition="replace",
        columns=entity.column_hints(),
    )
    resource.apply_hints(additional_table_hints=entity.table_hints())
    return resource
