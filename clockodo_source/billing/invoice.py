"""Invoice lines from unbilled time: one line per invoice item of Billomat, lexoffice or sevDesk.

Time entries (type 1) make one line per project, service and hourly rate (hours x rate);
lump-sum services (type 3) one per project, lump-sum service and price (amount x price);
lump-sum values (type 2) one per entry (1 flat). A line's ``amount`` is the sum of its
entries' values as the analytics models count them (Clockodo's ``revenue`` where given), so
the invoice total equals the unbilled value of the same selection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from clockodo_source.analytics.catalog import Column, Kind
from clockodo_source.analytics.formats import csv_table, plain_value, text_table
from clockodo_source.billing.selection import Entry, Selected

TIME, LUMPSUM_VALUE, LUMPSUM_SERVICE = 1, 2, 3
#: time first, then lump-sum services, then lump-sum values, within each project
_ORDER = {TIME: 0, LUMPSUM_SERVICE: 1, LUMPSUM_VALUE: 2}
FORMATS = ("table", "csv", "json")

COLUMNS = (
    Column("title", "title", Kind.TEXT),
    Column("description", "description", Kind.TEXT, in_table=False),
    Column("entries", "entries", Kind.COUNT),
    Column("quantity", "quantity", Kind.HOURS),
    Column("unit", "unit", Kind.TEXT),
    Column("unit_price", "unit price", Kind.AMOUNT),
    Column("amount", "amount", Kind.AMOUNT),
    Column("customers_id", "customer id", Kind.ID, in_table=False),
    Column("projects_id", "project id", Kind.ID, in_table=False),
    Column("services_id", "service id", Kind.ID, in_table=False),
    Column("lumpsum_services_id", "lump-sum service id", Kind.ID, in_table=False),
    Column("first_date", "first", Kind.DATE, in_table=False),
    Column("last_date", "last", Kind.DATE, in_table=False),
)
#: the order of a line's fields in CSV and JSON (the contract's)
FIELDS = ("title", "description", "quantity", "unit", "unit_price", "amount", "customers_id",
          "projects_id", "services_id", "lumpsum_services_id", "entries", "first_date",
          "last_date")
_BY_KEY = {column.key: column for column in COLUMNS}


@dataclass(frozen=True)
class Line:
    """One invoice item and the entries behind it."""

    title: str
    description: str
    quantity: float
    unit: str
    unit_price: float | None
    amount: float
    customers_id: int
    projects_id: int | None
    services_id: int | None
    lumpsum_services_id: int | None
    entries: int
    first_date: date
    last_date: date
    sort_key: tuple[Any, ...]

    def values(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in FIELDS}

    def plain(self) -> dict[str, Any]:
        """The line as CSV and JSON carry it (amounts and quantities to two decimals)."""
        return {key: plain_value(_BY_KEY[key], value) for key, value in self.values().items()}


@dataclass(frozen=True)
class Invoice:
    """An invoice draft for one selection."""

    selected: Selected
    lines: list[Line]

    @property
    def total(self) -> float:
        """The sum of the lines' amounts as shown (each rounded to cents)."""
        return round(sum(line.plain()["amount"] for line in self.lines), 2)

    def document(self) -> dict[str, Any]:
        """The JSON document: customer, period (``until`` exclusive), lines, total, entry ids."""
        selection = self.selected.selection
        return {
            "customer": {"id": selection.customer, "name": self.selected.customer_name},
            "since": selection.since.isoformat(),
            "until": selection.until.isoformat(),
            "lines": [line.plain() for line in self.lines],
            "total": self.total,
            "entry_ids": self.selected.entry_ids,
        }

    def render(self, fmt: str) -> str:
        """The invoice as ``table`` (for people), ``csv`` or ``json``."""
        if fmt == "json":
            return json.dumps(self.document(), ensure_ascii=False, indent=2) + "\n"
        rows = [line.values() for line in self.lines]
        if fmt == "csv":
            return csv_table([_BY_KEY[key] for key in FIELDS], rows)
        selection = self.selected.selection
        title = (f"Invoice draft for {self.selected.customer_name}, "
                 f"{selection.describe()}")
        if not self.lines:
            return f"{title}: no unbilled entries\n"
        table = text_table(f"{title}; {len(self.lines)} lines", COLUMNS, rows)
        return f"{table}total {self.total:,.2f} ({len(self.selected.entries)} entries)\n"


def invoice_lines(selected: Selected) -> Invoice:
    """Group the selected entries into invoice lines."""
    groups: dict[tuple[Any, ...], list[Entry]] = {}
    for entry in selected.entries:
        groups.setdefault(_group(entry), []).append(entry)
    lines = [_line(selected, entries) for entries in groups.values()]
    return Invoice(selected, sorted(lines, key=lambda line: line.sort_key))


def _group(entry: Entry) -> tuple[Any, ...]:
    if entry.type == TIME:
        return TIME, entry.projects_id, entry.services_id, entry.hourly_rate
    if entry.type == LUMPSUM_SERVICE:
        return LUMPSUM_SERVICE, entry.projects_id, entry.lumpsum_services_id, entry.price
    return entry.type, entry.id


def _line(selected: Selected, entries: list[Entry]) -> Line:
    first = entries[0]
    place = (selected.name("projects", first.projects_id) if first.projects_id is not None
             else selected.customer_name)
    if first.type == TIME:
        what = selected.name("services", first.services_id)
        quantity, unit, price = _sum(entry.hours for entry in entries), "h", first.hourly_rate
    elif first.type == LUMPSUM_SERVICE:
        what = selected.name("lumpsum_services", first.lumpsum_services_id)
        quantity, unit, price = _sum(entry.amount for entry in entries), "pcs", first.price
    else:
        what = first.text or selected.name("services", first.services_id)
        quantity, unit, price = 1.0, "flat", first.lumpsum
    selection = selected.selection
    count = len(entries)
    days = [entry.day for entry in entries]
    return Line(
        title=f"{place}: {what}",
        description=(f"{selection.since} to {selection.last_day}, "
                     f"{count} {'entry' if count == 1 else 'entries'}"),
        quantity=quantity, unit=unit, unit_price=price,
        amount=_sum(entry.value for entry in entries),
        customers_id=selection.customer, projects_id=first.projects_id,
        services_id=first.services_id if first.type != LUMPSUM_SERVICE else None,
        lumpsum_services_id=first.lumpsum_services_id if first.type == LUMPSUM_SERVICE else None,
        entries=count, first_date=min(days), last_date=max(days),
        sort_key=(place, _ORDER.get(first.type, 3), what, price or 0.0, min(days), first.id),
    )


def _sum(values: Iterable[float | None]) -> float:
    return sum(value or 0.0 for value in values)
