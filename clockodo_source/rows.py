"""Turning API rows into typed rows: UTC timestamps and dates instead of strings.

Small tables go to dlt as dicts (nested objects become child tables or `a__b` columns);
entries go as arrow tables, one per page, because per-row Python work dominates at scale.
"""

from __future__ import annotations

import io
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from clockodo_source.settings import DELETED_COLUMN

Row = dict[str, Any]

#: an instant; a stored time that comes back naive is UTC
UTC_MOMENT = pa.timestamp("us", tz="UTC")
ARROW_TYPES: dict[str, pa.DataType] = {
    "bigint": pa.int64(),
    "double": pa.float64(),
    "text": pa.string(),
    "bool": pa.bool_(),
    "timestamp": UTC_MOMENT,
    "date": pa.date32(),
}


def as_utc(value: datetime) -> datetime:
    """Destinations hand timestamps back naive or zoned; compare them in UTC. The one UTC
    helper of the project."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_timestamp(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


def format_timestamp(value: datetime) -> str:
    """Clockodo's wire format: UTC, `Z`, no fractions."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _convert(value: Any, key: str, timestamps: frozenset[str], dates: frozenset[str]) -> Any:
    if isinstance(value, str) and value:
        if key in timestamps:
            return parse_timestamp(value)
        if key in dates:
            return date.fromisoformat(value[:10])
        return value
    if isinstance(value, dict):
        return convert_row(value, timestamps, dates)
    if isinstance(value, list):
        return [_convert(item, key, timestamps, dates) for item in value]
    return value


def convert_row(row: Mapping[str, Any], timestamps: frozenset[str], dates: frozenset[str]) -> Row:
    """Typed copy of `row`, recursing into nested objects; other values stay as the API sent
    them (an empty text stays an empty string)."""
    return {key: _convert(value, key, timestamps, dates) for key, value in row.items()}


def convert_top_row(
    row: Mapping[str, Any], timestamps: frozenset[str], dates: frozenset[str],
    declared: Container[str],
) -> Row:
    """`convert_row` for a table row; a null the catalog has no column for (an unset nested
    object such as a project without budget) is left out, since its columns are declared
    flattened and an untyped null column would only draw dlt warnings."""
    return {
        key: _convert(value, key, timestamps, dates)
        for key, value in row.items()
        if value is not None or key in declared
    }


def arrow_schema(column_types: Mapping[str, str], required: Container[str] = ()) -> pa.Schema:
    return pa.schema([
        pa.field(name, ARROW_TYPES[kind], nullable=name not in required)
        for name, kind in column_types.items()
    ])


#: Rows sampled when looking for fields the catalog does not declare: a field a newer API adds
#: appears on (nearly) every row of its kind, and scanning every row's keys would cost a fifth
#: of the conversion time.
UNKNOWN_FIELD_SAMPLE = 25


def _wire_fields(schema: pa.Schema) -> list[pa.Field]:
    """The schema as it arrives: date-times and dates are strings, cast in one step after."""
    return [
        pa.field(field.name, pa.string(), field.nullable)
        if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type) else field
        for field in schema
    ]


def _typed_table(wire: pa.StructArray, schema: pa.Schema) -> pa.Table:
    """Declared columns cast from their wire types; fields the catalog does not know yet keep
    the type arrow inferred (text where it saw only nulls), so a newer API loses nothing."""
    table = pa.Table.from_struct_array(wire)
    for index, field in enumerate(schema):
        if field.type != table.schema.field(index).type:
            table = table.set_column(index, field, table.column(index).cast(field.type))
    extra = [pa.field(field.name, pa.string()) if pa.types.is_null(field.type) else field
             for field in table.schema][len(schema):]
    return table.cast(pa.schema([*schema, *extra]))


def arrow_table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """Build a typed arrow table from API rows in C++ rather than per-row Python."""
    wire_fields = _wire_fields(schema)
    sample = rows[::UNKNOWN_FIELD_SAMPLE] + rows[-1:]
    present = set().union(*map(dict.keys, sample))
    for name in sorted(present - set(schema.names)):
        inferred = pa.array([row.get(name) for row in rows])
        wire_fields.append(pa.field(name, inferred.type))
    return _typed_table(pa.array(rows, type=pa.struct(wire_fields)), schema)


#: A list page's `paging` object as Clockodo sends it
PAGING = pa.field("paging", pa.struct([
    pa.field(name, pa.int64())
    for name in ("items_per_page", "current_page", "count_pages", "count_items")
]))


class ArrowPages:
    """Decodes a list page from its JSON body straight into a typed arrow table.

    Arrow's JSON reader parses in C++ without a Python object per row or value: about twice
    as fast as orjson plus `arrow_table`, and a page in flight costs its columns only.
    """

    def __init__(self, schema: pa.Schema, other_fields: bool = True) -> None:
        """`other_fields`: keep fields the schema does not declare (else they are skipped)."""
        self.schema = schema
        self._wire = pa.struct(_wire_fields(schema))
        self._unexpected = "infer" if other_fields else "ignore"

    def __call__(self, body: bytes, list_key: str) -> tuple[pa.Table, dict[str, Any]]:
        """The page's rows and its `paging` object; raises ValueError on a body that is not
        a JSON object."""
        parsed = pa_json.read_json(
            io.BytesIO(body),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(body) + 1),
            parse_options=pa_json.ParseOptions(
                explicit_schema=pa.schema([pa.field(list_key, pa.list_(self._wire)), PAGING]),
                unexpected_field_behavior=self._unexpected,
                newlines_in_values=True,
            ),
        )
        rows = parsed.column(list_key).combine_chunks().flatten()
        paging = parsed.column("paging").to_pylist()[0] or {}
        return _typed_table(rows, self.schema), {k: v for k, v in paging.items() if v is not None}


@dataclass(frozen=True)
class KeyedPage:
    """A page's body with only the columns a change check reads decoded."""

    body: bytes
    keys: pa.Table

    def __len__(self) -> int:
        return int(self.keys.num_rows)


class KeyedPages:
    """Decodes a list page into a `KeyedPage`, for re-reads where most rows are unchanged:
    decoding a few columns costs a third of decoding every one, and only pages holding a
    changed row are decoded whole (`rows`). A no-change run of a million-entry account went
    from 1.27 s to 1.15 s (medians of six)."""

    def __init__(self, full: ArrowPages, key_columns: Iterable[str]) -> None:
        self.full = full
        self._keys = ArrowPages(pa.schema([full.schema.field(name) for name in key_columns]),
                                other_fields=False)

    def __call__(self, body: bytes, list_key: str) -> tuple[KeyedPage, dict[str, Any]]:
        keys, paging = self._keys(body, list_key)
        return KeyedPage(body, keys), paging

    def rows(self, pages: Iterable[KeyedPage], ids: pa.ChunkedArray, list_key: str
             ) -> pa.Table:
        """Every row of `pages` whose id is among `ids`, fully decoded."""
        value_set = ids.combine_chunks()
        tables = [self.full(page.body, list_key)[0] for page in pages
                  if pc.any(pc.is_in(page.keys["id"], value_set=value_set)).as_py()]
        if not tables:
            return self.full.schema.empty_table()
        table = pa.concat_tables(tables, promote_options="default")
        return table.filter(pc.is_in(table["id"], value_set=value_set))


def tombstones(keys: Iterable[tuple[Any, ...]], key_columns: tuple[str, ...]) -> list[Row]:
    """Rows that tell dlt's merge to delete these keys (hard_delete column set)."""
    return [{**dict(zip(key_columns, key, strict=True)), DELETED_COLUMN: True} for key in keys]
