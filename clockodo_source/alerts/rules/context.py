"""What a rule is evaluated with: a connection to the dataset, the moment, the calendar and
the thresholds, plus the names people know ids by."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from dlt.destinations.sql_client import SqlClientBase

from clockodo_source.alerts.alert import Alert
from clockodo_source.alerts.thresholds import Thresholds
from clockodo_source.analytics.data import label
from clockodo_source.analytics.dialect import Dialect


@dataclass(frozen=True)
class RuleContext:
    client: SqlClientBase[Any]
    dialect: Dialect
    #: the moment of the evaluation (UTC)
    now: datetime
    #: the calendar of the ``timezone`` option: what "today" and a "day" are
    zone: tzinfo
    thresholds: Thresholds
    #: master table -> id -> name (customers, projects, users, teams where loaded)
    names: Mapping[str, Mapping[int, str]]
    pipeline_name: str
    #: when the last successful load of the source finished (UTC)
    last_load: datetime
    #: tables the last run that read them skipped (403): table -> endpoint
    skipped: Mapping[str, str]

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def table(self, name: str) -> str:
        return self.client.make_qualified_table_name(name)

    def rows(self, sql: str) -> Sequence[Sequence[Any]]:
        return self.client.execute_sql(sql) or []

    def name(self, table: str, key: Any, column: str) -> str:
        """``column`` names the kind of thing in ``(no customer)`` for a missing id."""
        return label(self.names.get(table, {}), key, column)

    def project(self, projects_id: Any, customers_id: Any) -> str:
        """A project as people say it: project and customer (a customer-only booking: the
        customer)."""
        customer = self.name("customers", customers_id, "customer")
        if projects_id is None:
            return customer
        return f"{self.name('projects', projects_id, 'project')} · {customer}"


@dataclass(frozen=True)
class Rule:
    """One rule: the tables and columns it reads, and how it finds its alerts."""

    name: str
    inputs: Mapping[str, tuple[str, ...]]
    find: Callable[[RuleContext], list[Alert]]
