"""The tools an agent calls: thin wrappers over what ``report``, ``alerts``, ``invoice``,
``status`` and ``mark-billed`` already do, so the command line and the MCP server give the
same answers from one implementation.

Each call builds the pipeline afresh (a run between two calls changes its state), takes one
lock (one call at a time touches the database: DuckDB refuses a read-only and a read-write
connection to one file in one process), and turns every failure into a ``ToolError`` with
one line for the model to read; the server never crashes on a call. The docstrings are the
tool descriptions the model reads.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import dlt
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from clockodo_source import billing
from clockodo_source.alerts import CannotEvaluate, Thresholds, evaluate
from clockodo_source.alerts import render as render_alerts
from clockodo_source.analytics import render_report
from clockodo_source.app.destinations import held_open
from clockodo_source.app.messages import describe_failure
from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.app.status import pipeline_status
from clockodo_source.app.workspace import RunInProgress, run_lock
from clockodo_source.billing.mark import MarkBilled
from clockodo_source.billing.selection import parse_selection, read_selection
from clockodo_source.mcp import catalog
from clockodo_source.mcp.confirm import Confirmations
from clockodo_source.mcp.readonly import MAX_ROWS, ReadFailed, run_query

logger = logging.getLogger("clockodo_source")

#: failures whose own message is the one line to show
_SELF_EXPLAINED = (ValueError, LookupError, ReadFailed, CannotEvaluate, RunInProgress)

Month = Annotated[str | None, Field(description="a calendar month, YYYY-MM, e.g. 2026-03")]
Quarter = Annotated[str | None, Field(description="a calendar quarter, YYYY-Qn, e.g. 2026-Q1")]
Year = Annotated[int | None, Field(description="a year, YYYY, e.g. 2026 (overtime, absences)")]
Since = Annotated[str | None, Field(description="first day, YYYY-MM-DD (with until)")]
Until = Annotated[str | None, Field(
    description="the day AFTER the last day, YYYY-MM-DD (exclusive; with since)")]
Customer = Annotated[int, Field(description="customer id (customers.id)")]
OptionalCustomer = Annotated[int | None, Field(description="customer id (customers.id)")]
Project = Annotated[int | None, Field(description="project id (projects.id)")]
Team = Annotated[int | None, Field(description="team id (teams.id)")]


@dataclass(frozen=True)
class Warehouse:
    """Where the served dataset lives: the same options as every other command."""

    pipeline_name: str
    destination: str
    dataset: str

    def pipeline(self) -> dlt.Pipeline:
        return make_pipeline(self.pipeline_name, self.destination, self.dataset)


class Tools:
    """The tool functions, bound to one warehouse."""

    def __init__(self, warehouse: Warehouse, verbose: bool = False) -> None:
        self.warehouse = warehouse
        self.verbose = verbose
        self.confirmations = Confirmations()
        self._lock = threading.Lock()

    @contextmanager
    def _call(self) -> Iterator[dlt.Pipeline]:
        with self._lock:
            try:
                yield self.warehouse.pipeline()
            except ToolError:
                raise
            except Exception as exc:
                if self.verbose:
                    logger.exception("tool call failed")
                message = str(exc) if isinstance(exc, _SELF_EXPLAINED) else describe_failure(exc)
                raise ToolError((message.strip().splitlines() or ["failed"])[0]) from None

    def list_tables(self) -> dict[str, Any]:
        """List every table of the Clockodo dataset with its row count and what it holds.

        Loaded tables keep Clockodo's field names (entries, projects, customers, users, teams,
        services, absences, work_times, target_hours, user_reports, ...; child tables named
        parent__field hold lists). The models unbilled_time, utilization, project_budgets,
        overtime_balance and absence_summary are computed after every load: hours are decimal
        hours, money is in the account's currency. Start here, then describe_table, report
        or query.
        """
        with self._call() as pipeline:
            return {"dataset": pipeline.dataset_name, "tables": catalog.list_tables(pipeline)}

    def describe_table(self, name: Annotated[str, Field(description="a table name from "
                                                                     "list_tables")]
                       ) -> dict[str, Any]:
        """Describe one table: its columns with database types, the primary key, and what
        coded columns mean (entries.billable: 0 not billable, 1 unbilled, 2 billed; entries.type:
        1 time, 2 lump-sum value, 3 lump-sum service; absences.type and status; units).
        """
        with self._call() as pipeline:
            described = catalog.describe_table(pipeline, name)
            if described is None:
                raise ToolError(f"dataset {pipeline.dataset_name} has no table {name!r}; "
                                "list_tables names its tables")
            return described

    def query(self, sql: Annotated[str, Field(description="one SELECT or WITH statement")],
              limit: Annotated[int, Field(description=f"most rows returned, 1..{MAX_ROWS}")]
              = 200) -> dict[str, Any]:
        """Run one read-only SQL statement (SELECT or WITH) over the dataset and return
        {"columns", "rows", "truncated"}; truncated is true when more than `limit` rows exist.

        Name tables without a schema (FROM entries). The SQL dialect is the warehouse's
        (DuckDB or PostgreSQL, see the server instructions). Timestamps are UTC;
        entries.duration is seconds; unbilled means entries.billable = 1. Refused with a
        one-line reason: anything that writes (INSERT, UPDATE, DELETE, CREATE, DROP, ...),
        COPY, ATTACH, INSTALL/LOAD, PRAGMA, SET, CALL, functions that read files or URLs
        (read_csv, read_text, glob, ...), several statements, and tables outside the dataset.
        Prefer report for the standard figures: it applies the business rules.
        """
        with self._call() as pipeline:
            return run_query(pipeline, sql, limit).as_json()

    def report(
        self,
        name: Annotated[str, Field(
            description="unbilled, utilization, budgets, overtime or absences")],
        month: Month = None, quarter: Quarter = None, year: Year = None,
        customer: OptionalCustomer = None, project: Project = None, team: Team = None,
    ) -> dict[str, Any]:
        """One of the standard reports, as `clockodo-pipeline report NAME --format json`:
        {"report", "model", "filters", "rows"}, with names next to the ids.

        unbilled: unbilled hours and value (account currency) per month, customer, project and
        user, with the oldest unbilled day (filters: month or quarter, customer, project,
        team). utilization: worked, billable and target hours and billable/target percent per
        user and month (month or quarter, team). budgets: each project budget's use, remaining
        and run-out date (customer, project). overtime: per user and year, target, worked,
        carried and reduced hours and the balance (team, year). absences: per user, year and
        absence type the days requested or approved and approved, with the holiday quota, carry
        and days left (team, year). A filter a report cannot apply is refused, not ignored.
        """
        with self._call() as pipeline:
            text = render_report(pipeline, name, fmt="json", month=month, quarter=quarter,
                                 year=year, customer=customer, project=project, team=team)
            document: dict[str, Any] = json.loads(text)
            return document

    def alerts(self) -> dict[str, Any]:
        """The alerts on the loaded data now, as `clockodo-pipeline alerts --format json`:
        {"alerts": [{rule, severity, key, subject, message, value, threshold, first_seen}]}.

        Rules: budget (a project's budget used_pct at or over the warning / critical
        threshold), unbilled_age (a customer's oldest unbilled entry older than N days),
        running_clock (a clock running for more than N hours), missing_time (a user booked no
        time on a past workday with target hours), overtime (a user's balance hours), sync
        (the last successful load is old, or a table was skipped). Changes nothing and
        notifies no one; first_seen is kept by the `alerts` command's runs.
        """
        with self._call() as pipeline:
            evaluation = evaluate(pipeline, thresholds=Thresholds.from_config())
            document: dict[str, Any] = json.loads(render_alerts(evaluation, "json"))
            return document

    def status(self) -> dict[str, Any]:
        """What is loaded, as `clockodo-pipeline status` shows it: per table the rows stored,
        the last scan and the last reconcile (full re-scan) in UTC; the destination's last
        successful load and, apart from it, the last failed run with its one-line cause; a run
        in progress, if any.
        """
        with self._call() as pipeline:
            return pipeline_status(pipeline).as_json()

    def invoice(self, customer: Customer, project: Project = None, month: Month = None,
                since: Since = None, until: Until = None) -> dict[str, Any]:
        """An invoice draft of a customer's unbilled time (billable = 1), as
        `clockodo-pipeline invoice --format json`: {"customer", "since", "until" (exclusive),
        "lines", "total", "entry_ids"}.

        Give month, or since and until (days in the account's calendar). One line per
        project, service and hourly rate (quantity in hours, unit h), per lump-sum service
        and price (pcs), per lump-sum value (1 flat); amounts in the account's currency.
        Reads the warehouse only.
        """
        with self._call() as pipeline, held_open(pipeline):
            return billing.invoice(pipeline, customer=customer, project=project, month=month,
                                   since=since, until=until).document()

    def mark_billed(self, customer: Customer, project: Project = None, month: Month = None,
                    since: Since = None, until: Until = None,
                    confirm_token: Annotated[str | None, Field(
                        description="the token of the dry run, to apply it")] = None,
                    ) -> dict[str, Any]:
        """Mark a customer's unbilled entries (billable = 1) of a period as billed
        (billable = 2) in Clockodo, in two steps.

        Without confirm_token: a dry run that changes nothing; it returns what Clockodo would
        change, the warehouse's entries, hours and value, and a confirm_token when the two
        agree. Show it to the user. With that token and the same customer, project and
        period: the change is made (audited in table billing_audit), the period is loaded
        again, and the result says how many entries were marked. A token is valid once, for
        15 minutes.
        """
        selection: dict[str, Any] = {"customer": customer, "project": project, "month": month,
                                     "since": since, "until": until}
        with self._call() as pipeline:
            chosen = parse_selection(**selection)
            key = (chosen.customer, chosen.project, chosen.since, chosen.until)
            if confirm_token is None:
                with held_open(pipeline):
                    result = billing.mark_billed(pipeline, **selection)
                return self._dry_run(result, key)
            expected = self.confirmations.redeem(confirm_token, key)
            with run_lock(pipeline.pipelines_dir, pipeline.pipeline_name), held_open(pipeline):
                now = read_selection(pipeline, chosen).entry_ids
                if tuple(now) != expected:
                    raise ToolError(
                        f"the warehouse's selection changed since the dry run ({len(expected)} "
                        f"entries then, {len(now)} now): call mark_billed without "
                        "confirm_token again")
                result = billing.mark_billed(pipeline, apply=True, **selection)
            if not result.ok:
                raise ToolError(f"mark-billed {result.message}")
            return _marked(result)

    def _dry_run(self, result: MarkBilled, key: tuple[Any, ...]) -> dict[str, Any]:
        outcome = _marked(result)
        count = len(result.selected.entries)
        if count and result.affected == count:
            outcome["confirm_token"] = self.confirmations.issue(key, result.selected.entry_ids)
            outcome["next_step"] = (f"to mark these {count} entries billed, call mark_billed "
                                    "again with the same arguments and this confirm_token")
        return outcome


def _marked(result: MarkBilled) -> dict[str, Any]:
    """A mark-billed outcome as data, with ``summary``: the text the command prints."""
    selected = result.selected
    selection = selected.selection
    return {
        "status": result.status,
        "customer": {"id": selection.customer, "name": selected.customer_name},
        "project": selection.project,
        "since": selection.since.isoformat(),
        "until": selection.until.isoformat(),
        "warehouse_entries": len(selected.entries),
        "warehouse_hours": round(selected.hours, 2),
        "warehouse_value": round(selected.value, 2),
        "entry_ids": selected.entry_ids,
        "clockodo_affected": result.affected,
        "edited": result.edited,
        "message": result.message,
        "summary": result.summary(),
    }
