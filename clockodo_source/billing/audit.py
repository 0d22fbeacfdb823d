"""The ``billing_audit`` table: one row per ``mark-billed --apply``, in the pipeline's dataset.

Written through dlt's SQL client, statement by statement (each committed at once), because a
row must be durable before the call it describes is sent: an apply writes its row as
``failed`` / "outcome unknown" first and updates it once Clockodo answered, so a process
killed in between leaves the truth (unknown) behind, never a silent gap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.sql_client import SqlClientBase

AUDIT_TABLE = "billing_audit"
ACTION = "mark_billed"
APPLIED, REFUSED, FAILED = "applied", "refused", "failed"

_COLUMNS = (
    ("at", "TIMESTAMP WITH TIME ZONE NOT NULL"),
    ("action", "VARCHAR NOT NULL"),
    ("customers_id", "BIGINT NOT NULL"),
    ("projects_id", "BIGINT"),
    ("since", "DATE NOT NULL"),
    ("until", "DATE NOT NULL"),
    ("affected_entries", "BIGINT"),
    ("edited_entries", "BIGINT"),
    ("status", "VARCHAR NOT NULL"),
    ("message", "VARCHAR"),
    ("entry_ids", "VARCHAR"),
)
NAMES = tuple(name for name, _ in _COLUMNS)


@dataclass(frozen=True)
class AuditRow:
    """One audited apply; ``until`` is exclusive, ``entry_ids`` the warehouse's selection."""

    at: datetime
    customers_id: int
    projects_id: int | None
    since: date
    until: date
    affected_entries: int | None
    edited_entries: int | None
    status: str
    message: str
    entry_ids: list[int]
    action: str = ACTION

    def settled(self, status: str, message: str, edited: int | None) -> AuditRow:
        return replace(self, status=status, message=message, edited_entries=edited)

    def values(self) -> tuple[Any, ...]:
        fields = {**self.__dict__, "entry_ids": json.dumps(self.entry_ids)}
        return tuple(fields[name] for name in NAMES)


class Audit:
    """Appends and settles rows of ``billing_audit``; creates the table on first use."""

    def __init__(self, pipeline: dlt.Pipeline) -> None:
        self.pipeline = pipeline

    def append(self, row: AuditRow) -> None:
        with self.pipeline.sql_client() as client:
            table = _ensure(client)
            columns = ", ".join(client.escape_column_name(name) for name in NAMES)
            marks = ", ".join(["%s"] * len(NAMES))
            client.execute_sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                               *row.values())

    def settle(self, row: AuditRow) -> None:
        """Write the outcome of the row appended with the same ``at`` and customer."""
        with self.pipeline.sql_client() as client:
            table = _ensure(client)
            escape = client.escape_column_name
            client.execute_sql(
                f"UPDATE {table} SET {escape('status')} = %s, {escape('message')} = %s, "
                f"{escape('edited_entries')} = %s "
                f"WHERE {escape('at')} = %s AND {escape('customers_id')} = %s",
                row.status, row.message, row.edited_entries, row.at, row.customers_id,
            )

    def rows(self) -> list[AuditRow]:
        """Every row, oldest first (none before the first apply)."""
        with self.pipeline.sql_client() as client:
            table = client.make_qualified_table_name(AUDIT_TABLE)
            columns = ", ".join(client.escape_column_name(name) for name in NAMES)
            try:
                found = client.execute_sql(f"SELECT {columns} FROM {table} ORDER BY 1") or []
            except DestinationUndefinedEntity:
                return []
        return [_row(dict(zip(NAMES, values, strict=True))) for values in found]


def _ensure(client: SqlClientBase[Any]) -> str:
    table = client.make_qualified_table_name(AUDIT_TABLE)
    columns = ", ".join(f"{client.escape_column_name(name)} {kind}" for name, kind in _COLUMNS)
    client.execute_sql(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    return table


def _row(values: dict[str, Any]) -> AuditRow:
    ids = json.loads(values.pop("entry_ids") or "[]")
    return AuditRow(**values, entry_ids=ids)
