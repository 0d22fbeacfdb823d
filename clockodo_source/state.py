"""Every key the source keeps in dlt state, behind typed accessors.

dlt stores the state with each load in the destination, so what a run records here is committed
together with its data. Resource states hold a table's scan history; the source state holds
what concerns several tables. Nothing else reads or writes these keys.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import date, datetime
from typing import Any

_LAST_SCAN = "last_scan_at"
_LAST_RECONCILE = "last_reconcile_at"
_BACKFILL = "backfill"
_CURSOR = "time_last_change_cursor"
_DAY_DIGESTS = "day_digests"
_DIGESTS = "content_digests"
_SKIPPED_TABLES = "skipped_tables"
_ACCOUNT = "account"
_FIRST_YEAR = "first_data_year"
#: the source's name, under which dlt keeps its state (`state["sources"][SOURCE_NAME]`)
SOURCE_NAME = "clockodo"


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class ResourceState:
    """The scan history of one table."""

    def __init__(self, data: MutableMapping[str, Any]) -> None:
        self.data = data

    @property
    def last_scan(self) -> datetime | None:
        return _moment(self.data.get(_LAST_SCAN))

    @property
    def last_reconcile(self) -> datetime | None:
        return _moment(self.data.get(_LAST_RECONCILE))

    def record_scan(self, moment: datetime, whole_history: bool) -> None:
        """A scan at `moment`; one of the whole history is a reconcile too."""
        if whole_history:
            self.data[_LAST_RECONCILE] = moment.isoformat()
        self.data[_LAST_SCAN] = moment.isoformat()

    @property
    def cursor(self) -> datetime | None:
        """The newest `time_last_change` written (entries; shown by `status`)."""
        return _moment(self.data.get(_CURSOR))

    def advance_cursor(self, moment: datetime) -> None:
        if self.cursor is None or moment > self.cursor:
            self.data[_CURSOR] = moment.isoformat()

    @property
    def backfill(self) -> tuple[str, date] | None:
        """The backfill this table took part in (its marker) and how far it got."""
        record = self.data.get(_BACKFILL)
        if not record:
            return None
        return record["plan"], date.fromisoformat(record["done_until"])

    def record_backfill(self, marker: str, done_until: date) -> None:
        self.data[_BACKFILL] = {"plan": marker, "done_until": done_until.isoformat()}

    @property
    def day_digests(self) -> dict[str, dict[str, str]]:
        """Per day the next incremental run re-reads, a hash of each row as last written."""
        digests: dict[str, dict[str, str]] = self.data.setdefault(_DAY_DIGESTS, {})
        return digests


class SourceState:
    """What concerns several tables of one source."""

    def __init__(self, data: MutableMapping[str, Any]) -> None:
        self.data = data

    @classmethod
    def of_pipeline(cls, state: Mapping[str, Any]) -> SourceState:
        """The source's state inside a pipeline's state (read only: a copy when absent)."""
        return cls(dict(state.get("sources", {}).get(SOURCE_NAME, {})))

    @property
    def digests(self) -> dict[str, str]:
        """Per table (and table/year), a hash of the answer it was last loaded from. In the
        source state: dlt resets the state of `replace` resources every run."""
        digests: dict[str, str] = self.data.setdefault(_DIGESTS, {})
        return digests

    @property
    def skipped_tables(self) -> dict[str, str]:
        """Per table the last run that read it could not (403): table -> endpoint."""
        skipped: dict[str, str] = self.data.setdefault(_SKIPPED_TABLES, {})
        return skipped

    @property
    def account(self) -> str | None:
        """The Clockodo account the destination's tables were loaded from."""
        value = self.data.get(_ACCOUNT)
        return str(value) if value else None

    @account.setter
    def account(self, value: str) -> None:
        self.data[_ACCOUNT] = value

    @property
    def first_year(self) -> int | None:
        """The account's first year with data, as the last run over the whole history found
        it: where the per-year tables begin."""
        value = self.data.get(_FIRST_YEAR)
        return int(value) if value is not None else None

    @first_year.setter
    def first_year(self, value: int) -> None:
        self.data[_FIRST_YEAR] = value

    def resources(self) -> dict[str, ResourceState]:
        return {name: ResourceState(data)
                for name, data in self.data.get("resources", {}).items()}
