"""Evaluating the rules on the destination, and the check a schedule runs: evaluate, remember
in ``alert_state``, notify webhooks of what changed.

Rules read the loaded tables and the analytics models through dlt's SQL client; a rule whose
tables or columns are not loaded (a run restricted with ``--entities``, a table the API user
may not read) is left out and named, rather than failing the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

import dlt
from dlt.common.destination.client import WithStateSync
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.schema.typing import LOADS_TABLE_NAME
from dlt.pipeline.state_sync import load_pipeline_state_from_destination

from clockodo_source import clockodo_source
from clockodo_source.alerts.alert import Alert, exit_status, ordered
from clockodo_source.alerts.notify import deliver
from clockodo_source.alerts.payload import payload
from clockodo_source.alerts.rules import RULES, Rule, RuleContext
from clockodo_source.alerts.state import (
    Changes,
    StoredAlert,
    changes,
    first_seen,
    next_state,
    read_state,
    write_state,
)
from clockodo_source.alerts.thresholds import Thresholds, check_url
from clockodo_source.analytics.catalog import NAME_COLUMNS
from clockodo_source.analytics.data import master_names
from clockodo_source.analytics.dialect import dialect_for
from clockodo_source.analytics.storage import stored_columns
from clockodo_source.calendar import configured_timezone
from clockodo_source.errors import ClockodoError
from clockodo_source.rows import as_utc
from clockodo_source.state import SourceState

#: the dlt source (and schema) whose loads count as syncs
SOURCE = clockodo_source.name
_MASTER_TABLES = tuple(table for _, table in NAME_COLUMNS.values())


class CannotEvaluate(ClockodoError):
    """Nothing to evaluate: no data loaded yet, or a destination alerts cannot read."""


@dataclass(frozen=True)
class Evaluation:
    """The alerts found at ``at``, most severe first."""

    alerts: list[Alert]
    at: datetime
    #: the calendar the rules used (the ``timezone`` option)
    zone: tzinfo
    #: rule -> why it was not evaluated
    unevaluated: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> int:
        """0 no alert, 1 warnings only, 2 a critical alert."""
        return exit_status(self.alerts)


@dataclass(frozen=True)
class Outcome:
    """A check: the evaluation, what was notified, and webhooks that failed (one line each)."""

    evaluation: Evaluation
    notified: Changes | None
    failures: list[str]

    @property
    def status(self) -> int:
        """The evaluation's status: a failing webhook does not change it."""
        return self.evaluation.status


def evaluate(pipeline: dlt.Pipeline, *, thresholds: Thresholds | None = None,
             now: datetime | None = None) -> Evaluation:
    """The alerts of ``pipeline``'s dataset now (or at ``now``), changing nothing.

    Thresholds default to dlt config ``[alerts]`` (:meth:`Thresholds.from_config`). Reads the
    analytics models as last built, the loaded tables, dlt's load records and the source
    state the last load stored; ``first_seen`` comes from the ``alert_state`` table.
    Raises :class:`CannotEvaluate` when no load of the source has succeeded yet.
    """
    return _evaluate(pipeline, thresholds, now)[0]


def check(pipeline: dlt.Pipeline, *, notify: Sequence[str] = (),
          thresholds: Thresholds | None = None, now: datetime | None = None) -> Outcome:
    """Evaluate, POST what changed since the last notification to each ``notify`` URL, and
    record the alerts in the ``alert_state`` table. This is what ``clockodo-pipeline alerts``
    does.

    A URL that is not http(s) is refused before anything is read or sent. Only alerts that
    are new or changed severity since the last delivered notification are sent, with those
    resolved since; a run that finds nothing new sends nothing. A notification that fails on
    any URL is retried, then reported in ``Outcome.failures``, and sent again next time.
    """
    urls = [check_url(url, "notify") for url in notify]
    evaluation, stored = _evaluate(pipeline, thresholds, now)
    found = changes(evaluation.alerts, stored)
    failures: list[str] = []
    if urls and found:  # sent with no connection open: a slow webhook holds no database
        body = payload(found, f"{pipeline.pipeline_name} (dataset {pipeline.dataset_name})")
        failures = [failure for url in urls if (failure := deliver(url, body))]
    delivered = bool(urls) and not failures
    rows = next_state(evaluation.alerts, stored, evaluation.at, delivered)
    with pipeline.sql_client() as client:
        write_state(client, dialect_for(pipeline), rows)
    return Outcome(evaluation, found if urls and found else None, failures)


def _evaluate(pipeline: dlt.Pipeline, thresholds: Thresholds | None, now: datetime | None
              ) -> tuple[Evaluation, dict[str, StoredAlert]]:
    limits = thresholds or Thresholds.from_config()
    zone = configured_timezone()
    moment = as_utc(now or datetime.now(UTC))
    try:
        dialect = dialect_for(pipeline)
    except ValueError as unsupported:
        raise CannotEvaluate(f"alerts read SQL models: {unsupported}") from None
    wanted = {table for rule in RULES for table in rule.inputs}
    present = stored_columns(pipeline, {*wanted, *_MASTER_TABLES, LOADS_TABLE_NAME})
    if LOADS_TABLE_NAME not in present:
        raise _nothing_loaded(pipeline)
    skipped = _skipped_tables(pipeline)
    with pipeline.sql_client() as client:
        last_load = _last_load(client.execute_sql(
            f"SELECT MAX(inserted_at) FROM {client.make_qualified_table_name(LOADS_TABLE_NAME)} "
            "WHERE status = 0 AND schema_name = %s", SOURCE))
        if last_load is None:
            raise _nothing_loaded(pipeline)
        ctx = RuleContext(client, dialect, moment, zone, limits, master_names(client, present),
                          pipeline.pipeline_name, last_load, skipped)
        found: list[Alert] = []
        unevaluated = {}
        for rule in RULES:
            missing = _missing_inputs(rule, present)
            if missing:
                unevaluated[rule.name] = missing
            else:
                found += rule.find(ctx)
        stored = read_state(client)
    alerts = ordered(first_seen(alert, stored, moment) for alert in found)
    return Evaluation(alerts, moment, zone, unevaluated), stored


def _nothing_loaded(pipeline: dlt.Pipeline) -> CannotEvaluate:
    return CannotEvaluate(
        f"no Clockodo data loaded into dataset {pipeline.dataset_name} yet: run the pipeline "
        "first (clockodo-pipeline run)"
    )


def _last_load(rows: Sequence[Sequence[Any]] | None) -> datetime | None:
    value = rows[0][0] if rows else None
    return None if value is None else as_utc(value)


def _skipped_tables(pipeline: dlt.Pipeline) -> Mapping[str, str]:
    """Tables the last run that read them skipped, from the state stored with the last load."""
    with pipeline.destination_client() as job_client:
        if not isinstance(job_client, WithStateSync):
            return {}
        try:
            state = load_pipeline_state_from_destination(pipeline.pipeline_name, job_client)
        except DestinationUndefinedEntity:
            return {}
    return dict(SourceState.of_pipeline(state or {}).skipped_tables)


def _missing_inputs(rule: Rule, present: Mapping[str, frozenset[str]]) -> str:
    """Why ``rule`` cannot be evaluated ('' when it can)."""
    for table, columns in rule.inputs.items():
        if table not in present:
            return f"table {table} is not loaded"
        lacking = [column for column in columns if column not in present[table]]
        if lacking:
            return f"table {table} has no column {', '.join(lacking)}"
    return ""
