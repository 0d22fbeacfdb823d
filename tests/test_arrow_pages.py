"""Entry pages decoded by Arrow's JSON reader, and the per-scan record of returned ids.

The decoder must give exactly the table the dict path (orjson + `arrow_table`) gives, keep
fields the catalog does not know, and read bodies however they are laid out; the keyed decoder
of re-reads must give the same rows for the ids asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
import pyarrow as pa
import pytest

from clockodo_source.client import ClockodoClient
from clockodo_source.errors import ClockodoApiError
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.options import ClientOptions
from clockodo_source.resources.entries import CHANGE_COLUMNS, ReturnedIds, StoredStarts
from clockodo_source.rows import ArrowPages, KeyedPages, arrow_schema, arrow_table
from clockodo_source.settings import DELETED_COLUMN, ENTITIES
from clockodo_source.windows import Window

ENTRIES = ENTITIES["entries"]
SCHEMA = arrow_schema({**ENTRIES.column_types, DELETED_COLUMN: "bool"}, ENTRIES.primary_key)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    """Entries as the fake API sends them: running entry, unicode, nulls included."""
    return FakeCompany(CompanyConfig(entries=300, seed=5)).all_entries()


def body(rows: list[dict[str, object]], **paging: int) -> bytes:
    return orjson.dumps({"paging": paging, "entries": rows})


def test_same_table_as_the_dict_path(rows: list[dict[str, object]]) -> None:
    table, paging = ArrowPages(SCHEMA)(body(rows, count_pages=4, count_items=3001), "entries")
    assert paging == {"count_pages": 4, "count_items": 3001}
    assert table.equals(arrow_table(rows, SCHEMA))
    assert table.schema.field("time_since").type == pa.timestamp("us", tz="UTC")
    assert None in table["time_until"].to_pylist()  # the running entry


def test_unknown_fields_are_kept(rows: list[dict[str, object]]) -> None:
    extended = [{**row, "new_score": 7, "new_note": None} for row in rows]
    table, _ = ArrowPages(SCHEMA)(body(extended), "entries")
    assert table.schema.names[:len(SCHEMA)] == SCHEMA.names
    assert table["new_score"].to_pylist() == [7] * len(rows)
    assert table.schema.field("new_note").type == pa.string()
    expected = arrow_table(extended, SCHEMA)
    assert table.select(expected.schema.names).equals(expected)


def test_keyed_pages_decode_key_columns_then_the_rows_asked_for(
        rows: list[dict[str, object]]) -> None:
    keyed = KeyedPages(ArrowPages(SCHEMA), CHANGE_COLUMNS)
    extended = [{**row, "new_score": 7} for row in rows]
    pages = [keyed(body(extended[:150], count_pages=2, count_items=300), "entries"),
             keyed(body(extended[150:], count_pages=2, count_items=300), "entries")]
    page, paging = pages[0]
    assert paging == {"count_pages": 2, "count_items": 300}
    assert page.keys.schema.names == list(CHANGE_COLUMNS) and len(page) == 150
    wanted = [rows[5]["id"], rows[200]["id"]]
    found = keyed.rows([page for page, _ in pages], pa.chunked_array([wanted]), "entries")
    full = ArrowPages(SCHEMA)(body(extended), "entries")[0]
    assert found.equals(full.filter(pa.array([row["id"] in wanted for row in rows])))


def test_pretty_printed_empty_and_unpaged_bodies(rows: list[dict[str, object]]) -> None:
    decode = ArrowPages(SCHEMA)
    pretty = orjson.dumps({"entries": rows[:3]}, option=orjson.OPT_INDENT_2)
    table, paging = decode(pretty, "entries")
    assert paging == {}
    assert table["id"].to_pylist() == [row["id"] for row in rows[:3]]
    empty, _ = decode(b'{"paging": {"count_pages": 0}, "entries": []}', "entries")
    assert empty.num_rows == 0
    assert empty.schema == SCHEMA


def test_client_pages_and_non_json_answer(rows: list[dict[str, object]]) -> None:
    rows = rows[:300]

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if request.url.params.get("broken"):
            return httpx.Response(200, content=b"<html>maintenance</html>",
                                  headers={"content-type": "text/html"})
        return httpx.Response(200, content=body(rows[(page - 1) * 100: page * 100],
                                                count_pages=3, count_items=len(rows)))

    options = ClientOptions("me@example.com", "key", "http://api.test/api", "app;me@x.com",
                            concurrency=2)
    client = ClockodoClient(options, transport=httpx.MockTransport(handler))
    with client:
        pages = list(client.iter_pages("/v2/entries", "entries", {}, 100, ArrowPages(SCHEMA)))
        assert [page.num_rows for page in pages] == [100, 100, 100]
        assert pa.concat_tables(pages)["id"].to_pylist() == [row["id"] for row in rows]
        with pytest.raises(ClockodoApiError, match="non-JSON answer"):
            list(client.iter_pages("/v2/entries", "entries", {"broken": 1}, 100,
                                   ArrowPages(SCHEMA)))


def test_returned_ids_write_each_id_once_and_find_the_missing() -> None:
    returned = ReturnedIds()
    first = pa.table({"id": pa.array([30, 10, 20], pa.int64()), "v": ["a", "b", "c"]})
    assert returned.first_seen(first).equals(first)
    # the entry 20 moved into the next window while the range was read: kept once
    second = pa.table({"id": pa.array([40, 20, 5], pa.int64()), "v": ["d", "e", "f"]})
    assert returned.first_seen(second).to_pydict() == {"id": [40, 5], "v": ["d", "f"]}
    stored = pa.array([5, 10, 15, 20, 25, 30, 40, 50], pa.int64())
    assert returned.missing(stored).to_pylist() == [15, 25, 50]


def test_stored_starts_tell_re_read_windows_from_new_ones() -> None:
    """A window holding a stored entry is a re-read (key columns first); one holding none is
    new; stored times come back naive or zoned."""
    def at(day: int) -> datetime:
        return datetime(2026, 3, day, tzinfo=UTC)

    zoned = pa.chunked_array([[at(9), at(2)]], pa.timestamp("us", tz="UTC"))
    naive = pa.chunked_array([[at(9).replace(tzinfo=None)]], pa.timestamp("us"))
    for starts in (zoned, naive):
        held = StoredStarts(starts)
        assert held.any_in(Window(at(9), at(10)))
        assert not held.any_in(Window(at(10), at(20)))
        assert not held.any_in(Window(at(3), at(9)))  # the end is exclusive
    assert StoredStarts(zoned).any_in(Window(at(1), at(3)))
    assert not StoredStarts(None).any_in(Window(at(1), at(30)))
