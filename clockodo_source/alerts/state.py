"""The ``alert_state`` table: which alerts are active, since when, and what the webhooks were
last told.

One row per alert key that is active, or resolved but not yet reported as resolved. A
notification carries only the difference between what is found now and what was last
notified, so a run that finds nothing new sends nothing; a notification that could not be
delivered leaves the notified columns as they were, so the next run sends it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.destinations.sql_client import SqlClientBase

from clockodo_source.alerts.alert import Alert
from clockodo_source.analytics.dialect import Dialect
from clockodo_source.rows import as_utc

STATE_TABLE = "alert_state"
_ALERT_COLUMNS = ("key", "rule", "severity", "subject", "message", "value", "threshold",
                  "first_seen")
_COLUMNS = (*_ALERT_COLUMNS, "last_seen", "active", "notified_severity", "notified_at")


@dataclass(frozen=True)
class StoredAlert:
    """An alert as last evaluated, and what was last notified about its key."""

    alert: Alert
    last_seen: datetime
    #: False: resolved, and the resolution not yet notified
    active: bool
    #: the severity the webhooks were last told (None: never notified)
    notified_severity: str | None
    notified_at: datetime | None


@dataclass(frozen=True)
class Changes:
    """What a notification reports."""

    #: new, or of another severity than last notified
    raised: list[Alert]
    #: notified earlier, not found any more
    resolved: list[StoredAlert]

    def __bool__(self) -> bool:
        return bool(self.raised or self.resolved)


def read_state(client: SqlClientBase[Any]) -> dict[str, StoredAlert]:
    """The stored rows by key; none before the first evaluation."""
    columns = ", ".join(client.escape_column_name(name) for name in _COLUMNS)
    try:
        rows = client.execute_sql(
            f"SELECT {columns} FROM {client.make_qualified_table_name(STATE_TABLE)}") or []
    except DestinationUndefinedEntity:
        return {}
    stored = {}
    for row in rows:
        values = dict(zip(_COLUMNS, row, strict=True))
        alert = Alert(**{name: values[name] for name in _ALERT_COLUMNS})
        stored[alert.key] = StoredAlert(
            alert=replace(alert, first_seen=_utc(alert.first_seen)),
            last_seen=as_utc(values["last_seen"]), active=bool(values["active"]),
            notified_severity=values["notified_severity"],
            notified_at=_utc(values["notified_at"]),
        )
    return stored


def first_seen(alert: Alert, stored: Mapping[str, StoredAlert], now: datetime) -> Alert:
    """``alert`` with the moment its condition was first found: kept while it stays active."""
    previous = stored.get(alert.key)
    since = previous.alert.first_seen if previous is not None and previous.active else None
    return replace(alert, first_seen=since or now)


def changes(alerts: Sequence[Alert], stored: Mapping[str, StoredAlert]) -> Changes:
    found = {alert.key for alert in alerts}
    return Changes(
        raised=[alert for alert in alerts if alert.severity != _notified(stored, alert.key)],
        resolved=[row for key, row in stored.items()
                  if key not in found and row.notified_severity is not None],
    )


def next_state(alerts: Sequence[Alert], stored: Mapping[str, StoredAlert], now: datetime,
               notified: bool) -> list[StoredAlert]:
    """The rows after this evaluation; ``notified``: the changes were delivered."""
    rows = []
    for alert in alerts:
        previous = stored.get(alert.key)
        told = notified and alert.severity != _notified(stored, alert.key)
        rows.append(StoredAlert(
            alert=alert, last_seen=now, active=True,
            notified_severity=alert.severity if notified else _notified(stored, alert.key),
            notified_at=now if told else (previous.notified_at if previous else None),
        ))
    found = {alert.key for alert in alerts}
    if not notified:  # a resolution nobody was told about yet stays until it is told
        rows += [replace(row, active=False) for key, row in stored.items()
                 if key not in found and row.notified_severity is not None]
    return rows


def write_state(client: SqlClientBase[Any], dialect: Dialect, rows: Iterable[StoredAlert]
                ) -> None:
    """Replace the table's rows in one transaction (created on first use)."""
    table = client.make_qualified_table_name(STATE_TABLE)
    escape = client.escape_column_name
    stamp = "TIMESTAMP WITH TIME ZONE"
    types = {"value": dialect.float_type, "threshold": dialect.float_type, "first_seen": stamp,
             "last_seen": stamp, "notified_at": stamp, "active": "BOOLEAN"}
    definitions = ", ".join(f"{escape(name)} {types.get(name, 'TEXT')}" for name in _COLUMNS)
    client.execute_sql(f"CREATE TABLE IF NOT EXISTS {table} ({definitions})")
    values = [_values(row) for row in rows]
    with client.begin_transaction():
        client.execute_sql(f"DELETE FROM {table}")
        if values:
            one = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
            client.execute_sql(
                f"INSERT INTO {table} ({', '.join(escape(name) for name in _COLUMNS)}) "
                f"VALUES {', '.join([one] * len(values))}",
                *(value for row in values for value in row),
            )


def _values(row: StoredAlert) -> tuple[Any, ...]:
    alert = row.alert
    return (alert.key, alert.rule, alert.severity, alert.subject, alert.message, alert.value,
            alert.threshold, alert.first_seen, row.last_seen, row.active,
            row.notified_severity, row.notified_at)


def _notified(stored: Mapping[str, StoredAlert], key: str) -> str | None:
    previous = stored.get(key)
    return None if previous is None else previous.notified_severity


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)
