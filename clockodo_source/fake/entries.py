"""Columnar store of time and lump-sum entries.

A million entries as dicts would cost gigabytes, so the generated rows live in typed arrays
(one column per field) and are turned into wire dicts only when a page is served. Rows changed
through the mutation API keep their full wire dict in ``overrides``; the filterable columns are
written back so window queries and filters stay correct. ``keys`` holds one int per live entry,
``time_since << 24 | (id - ENTRY_ID_BASE)``, sorted, so a time window is found by bisection.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from .wire import Wire, fmt_ts, parse_wire_dt

ENTRY_ID_BASE = 20_000_001
TEXT_ID_BASE = 5_000_001
ID_BITS = 24
ID_MASK = (1 << ID_BITS) - 1

FLAG_CLOCKED = 1
FLAG_OFFLINE = 2
FLAG_REVENUE = 4
FLAG_DELETED = 8

TIME = 1
LUMPSUM_VALUE = 2
LUMPSUM_SERVICE = 3

ENHANCED_ONLY = frozenset({
    "text", "customers_name", "projects_name", "subprojects_name", "users_name",
    "services_name", "revenue", "hourly_rate", "lumpsum_services_price",
})
"""Keys the list endpoint drops unless ``enhanced_list`` is truthy."""

_SERVICE_KEY = {TIME: "services_id", LUMPSUM_VALUE: "services_id",
                LUMPSUM_SERVICE: "lumpsum_services_id"}


@dataclass
class Names:
    """Lookups the wire format needs: id -> name per master entity, and the texts pool."""

    customers: dict[int, str] = field(default_factory=dict)
    projects: dict[int, str] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)
    services: dict[int, str] = field(default_factory=dict)
    lumpsum_services: dict[int, str] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    text_index: dict[str, int] = field(default_factory=dict)

    def text_id(self, text: str) -> int:
        """``texts_id`` of a text, registering new texts like the web app's text table does."""
        if text not in self.text_index:
            self.text_index[text] = len(self.texts)
            self.texts.append(text)
        return TEXT_ID_BASE + self.text_index[text]


@dataclass
class EntryRow:
    """Everything the generator decides about one entry (before it gets an id)."""

    type: int
    users_id: int
    customers_id: int
    projects_id: int
    service: int
    billable: int
    text: int
    since: int
    until: int
    insert: int
    change: int
    change_work_time: int
    amount: float = 0.0
    rate: float = 0.0
    revenue: float = 0.0
    flags: int = 0


class EntryStore:
    """All entries of the company; not thread-safe on its own (the company holds the lock)."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.type = array("b")
        self.users = array("i")
        self.customers = array("i")
        self.projects = array("i")
        self.services = array("i")
        self.billable = array("b")
        self.text = array("i")
        self.since = array("q")
        self.until = array("q")
        self.insert = array("q")
        self.change = array("q")
        self.change_work_time = array("q")
        self.amount = array("d")
        self.rate = array("d")
        self.revenue = array("d")
        self.flags = array("b")
        self.ids = array("q")
        self.row_of_id = array("q")
        self.keys = array("q")
        self.overrides: dict[int, Wire] = {}
        self.running: set[int] = set()
        self.longest = 0

    def append(self, entry: EntryRow) -> int:
        """Add a row (without id yet); returns its row number."""
        self.type.append(entry.type)
        self.users.append(entry.users_id)
        self.customers.append(entry.customers_id)
        self.projects.append(entry.projects_id)
        self.services.append(entry.service)
        self.billable.append(entry.billable)
        self.text.append(entry.text)
        self.since.append(entry.since)
        self.until.append(entry.until)
        self.insert.append(entry.insert)
        self.change.append(entry.change)
        self.change_work_time.append(entry.change_work_time)
        self.amount.append(entry.amount)
        self.rate.append(entry.rate)
        self.revenue.append(entry.revenue)
        self.flags.append(entry.flags)
        return len(self.type) - 1

    def assign_ids(self) -> None:
        """Give ids in ``time_insert`` order (as a real database would) and build the index."""
        count = len(self.type)
        if count > ID_MASK:
            raise ValueError(f"at most {ID_MASK} entries are supported")
        order = [(ins << ID_BITS) | row for row, ins in enumerate(self.insert)]
        order.sort()
        self.row_of_id = array("q", [key & ID_MASK for key in order])
        ids = [0] * count
        for offset, row in enumerate(self.row_of_id):
            ids[row] = ENTRY_ID_BASE + offset
        self.ids = array("q", ids)
        keys = [(since << ID_BITS) | (ids[row] - ENTRY_ID_BASE)
                for row, since in enumerate(self.since)]
        keys.sort()
        self.keys = array("q", keys)
        self.running = {row for row, until in enumerate(self.until) if until < 0}
        self.longest = max((until - since for since, until in zip(self.since, self.until,
                                                                  strict=True) if until >= 0),
                           default=0)

    def next_id(self) -> int:
        """Id the next added entry gets (ids keep ascending with ``time_insert``)."""
        return ENTRY_ID_BASE + len(self.row_of_id)

    def add_wire(self, wire: Wire) -> None:
        """Add an entry given as a full wire dict whose id is :meth:`next_id`."""
        row = self.append(EntryRow(TIME, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0))
        self.ids.append(int(wire["id"]))
        self.row_of_id.append(row)
        self._write(row, wire)

    def _key(self, row: int) -> int:
        return (self.since[row] << ID_BITS) | (self.ids[row] - ENTRY_ID_BASE)

    def _track_span(self, row: int) -> None:
        if self.until[row] < 0:
            self.running.add(row)
        else:
            self.running.discard(row)
            self.longest = max(self.longest, self.until[row] - self.since[row])

    def row(self, entry_id: int) -> int:
        """Row of a live entry; ``KeyError`` for unknown or deleted ids."""
        offset = entry_id - ENTRY_ID_BASE
        if not 0 <= offset < len(self.row_of_id):
            raise KeyError(entry_id)
        row = self.row_of_id[offset]
        if self.flags[row] & FLAG_DELETED:
            raise KeyError(entry_id)
        return row

    def delete(self, row: int) -> None:
        """Remove a row from every lookup; the row number itself is never reused."""
        del self.keys[bisect_left(self.keys, self._key(row))]
        self.flags[row] |= FLAG_DELETED
        self.overrides.pop(row, None)
        self.running.discard(row)

    def replace(self, row: int, wire: Wire) -> None:
        """Store an edited wire dict in place of the row's previous state."""
        del self.keys[bisect_left(self.keys, self._key(row))]
        self._write(row, wire)

    def _write(self, row: int, wire: Wire) -> None:
        """Keep the wire dict and copy its filterable fields into the columns, then index it."""
        type_ = int(wire["type"])
        self.type[row] = type_
        self.users[row] = int(wire["users_id"])
        self.customers[row] = int(wire["customers_id"])
        self.projects[row] = int(wire.get("projects_id") or 0)
        self.services[row] = int(wire.get(_SERVICE_KEY[type_]) or 0)
        self.billable[row] = int(wire["billable"])
        texts_id = wire.get("texts_id")
        self.text[row] = -1 if texts_id is None else int(texts_id) - TEXT_ID_BASE
        self.since[row] = parse_wire_dt(wire["time_since"])
        until = wire.get("time_until")
        self.until[row] = -1 if until is None else parse_wire_dt(until)
        self.overrides[row] = wire
        insort(self.keys, self._key(row))
        self._track_span(row)

    def time_spans(self, since: int, until: int) -> Iterator[tuple[int, int, int | None]]:
        """``(users_id, time_since, time_until or None)`` of time entries starting in the range."""
        for row in self.starting_in(since, until):
            if self.type[row] == TIME:
                end = self.until[row]
                yield self.users[row], self.since[row], None if end < 0 else end

    def window(
        self, since: int, until: int, now: int, filters: Mapping[str, set[int]]
    ) -> list[int]:
        """Rows overlapping ``[since, until)``, ordered by (time_since, id).

        An entry matches when ``time_since < until`` and its end (now for the running one) is
        after ``since``; zero-length entries (lump sums) match when ``time_since >= since``.
        """
        reach = max([self.longest, *(now - self.since[row] for row in self.running)])
        low = bisect_left(self.keys, (since - reach) << ID_BITS)
        high = bisect_left(self.keys, until << ID_BITS)
        rows = []
        row_of_id, ends = self.row_of_id, self.until
        for key in self.keys[low:high]:
            row = row_of_id[key & ID_MASK]
            end = ends[row]
            if (end < 0 and now > since) or end > since or (key >> ID_BITS) >= since:
                rows.append(row)
        if filters:
            rows = [row for row in rows if self._matches(row, filters)]
        return rows

    def starting_in(self, since: int, until: int) -> Iterator[int]:
        """Rows whose ``time_since`` lies in ``[since, until)``."""
        low = bisect_left(self.keys, since << ID_BITS)
        high = bisect_left(self.keys, until << ID_BITS)
        row_of_id = self.row_of_id
        for key in self.keys[low:high]:
            yield row_of_id[key & ID_MASK]

    def _matches(self, row: int, filters: Mapping[str, set[int]]) -> bool:
        return all(self._column_value(row, name) in wanted for name, wanted in filters.items())

    def _column_value(self, row: int, name: str) -> int | None:
        """Value of a filterable field from the columns (``None`` where the type lacks it)."""
        if name in ("services_id", "lumpsum_services_id"):
            own = _SERVICE_KEY[self.type[row]] == name
            return (self.services[row] or None) if own else None
        if name == "texts_id":
            return None if self.text[row] < 0 else self.text[row] + TEXT_ID_BASE
        column: array[int] = getattr(self, _FILTER_COLUMNS[name])
        return column[row] if name == "billable" else (column[row] or None)

    def wire(self, row: int, enhanced: bool) -> Wire:
        """The entry as the API returns it (list form drops the enhanced-only keys)."""
        if row in self.overrides:
            stored = self.overrides[row]
            if enhanced:
                return dict(stored)
            return {key: value for key, value in stored.items() if key not in ENHANCED_ONLY}
        return _RowView(self, row).build(enhanced)


_FILTER_COLUMNS = {"users_id": "users", "customers_id": "customers", "projects_id": "projects",
                   "billable": "billable"}
"""Filterable fields read straight from a column (0 stands for null except in ``billable``)."""


class _RowView:
    """Builds the wire dict of one generated (never edited) row from the columns."""

    def __init__(self, store: EntryStore, row: int) -> None:
        self.store, self.row = store, row

    def build(self, enhanced: bool) -> Wire:
        store, row = self.store, self.row
        type_ = store.type[row]
        since = store.since[row]
        until = store.until[row]
        text = store.text[row]
        project = store.projects[row] or None
        wire: Wire = {
            "id": store.ids[row], "type": type_, "customers_id": store.customers[row],
            "projects_id": project, "subprojects_id": None, "users_id": store.users[row],
            "billable": store.billable[row],
            "texts_id": None if text < 0 else TEXT_ID_BASE + text,
            "time_since": fmt_ts(since), "time_until": None if until < 0 else fmt_ts(until),
            "time_insert": fmt_ts(store.insert[row]),
            "time_last_change": fmt_ts(store.change[row]), "test_data": False,
        }
        if enhanced:
            names = store.names
            wire["text"] = None if text < 0 else names.texts[text]
            wire["customers_name"] = names.customers[store.customers[row]]
            wire["projects_name"] = None if project is None else names.projects[project]
            wire["subprojects_name"] = None
            wire["users_name"] = names.users[store.users[row]]
        wire.update(_TYPE_FIELDS[type_](self, enhanced))
        if enhanced and store.flags[row] & FLAG_REVENUE:
            wire["revenue"] = store.revenue[row]
        return wire

    def time_fields(self, enhanced: bool) -> Wire:
        store, row = self.store, self.row
        until = store.until[row]
        flags = store.flags[row]
        fields: Wire = {
            "services_id": store.services[row],
            "duration": None if until < 0 else until - store.since[row],
            "time_last_change_work_time": fmt_ts(store.change_work_time[row]),
            "time_clocked_since": fmt_ts(store.since[row]) if flags & FLAG_CLOCKED else None,
            "clocked": bool(flags & FLAG_CLOCKED), "clocked_offline": bool(flags & FLAG_OFFLINE),
        }
        if enhanced:
            fields["services_name"] = store.names.services[store.services[row]]
            fields["hourly_rate"] = store.rate[row]
        return fields

    def lumpsum_value_fields(self, enhanced: bool) -> Wire:
        store, row = self.store, self.row
        fields: Wire = {"services_id": store.services[row], "lumpsum": store.amount[row]}
        if enhanced:
            fields["services_name"] = store.names.services[store.services[row]]
        return fields

    def lumpsum_service_fields(self, enhanced: bool) -> Wire:
        store, row = self.store, self.row
        fields: Wire = {"lumpsum_services_id": store.services[row],
                        "lumpsum_services_amount": store.amount[row]}
        if enhanced:
            fields["lumpsum_services_price"] = store.rate[row]
        return fields


_TYPE_FIELDS: dict[int, Callable[[_RowView, bool], Wire]] = {
    TIME: _RowView.time_fields,
    LUMPSUM_VALUE: _RowView.lumpsum_value_fields,
    LUMPSUM_SERVICE: _RowView.lumpsum_service_fields,
}
