"""Marking the selected entries billed in Clockodo, with its two-phase write and an audit.

``PUT /v2/entrygroups`` first answers how many entries it would change and a ``confirm_key``;
only the same request with that key changes them. The flow:

1. the selection from the destination (what the user saw in the invoice);
2. the first call (changes nothing; retried like a read on 429 and 5xx);
3. a dry run stops here and reports; an apply refuses unless Clockodo's count equals the
   warehouse's (a stale warehouse would bill entries nobody saw), or ``force``;
4. the audit row is written as ``failed`` / "outcome unknown", then the confirming call is
   sent once, never retried: a lost answer could hide an applied change;
5. on success the audit row says ``applied`` and the selected range is loaded again from the
   API, so the destination shows ``billable = 2`` at once.

Every apply leaves one audit row (``applied``, ``refused`` or ``failed``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dlt

from clockodo_source import clockodo_client
from clockodo_source.analytics import build_models
from clockodo_source.app.messages import describe_failure
from clockodo_source.app.run import run_source
from clockodo_source.billing.audit import APPLIED, FAILED, REFUSED, Audit, AuditRow
from clockodo_source.billing.selection import Selected, parse_selection, read_selection
from clockodo_source.client import ENTRYGROUPS_PATH, ClockodoClient
from clockodo_source.errors import ClockodoApiError, ClockodoError, WriteOutcomeUnknown

logger = logging.getLogger("clockodo_source")

DRY_RUN = "dry_run"
UNKNOWN = ("outcome unknown: the confirming call was sent and its answer never arrived; run "
           "mark-billed without --apply to see whether Clockodo applied it")
BILLED = 2


@dataclass(frozen=True)
class MarkBilled:
    """What a mark-billed did: ``status`` is ``dry_run``, ``applied``, ``refused`` or
    ``failed``; ``affected`` is Clockodo's count of entries the request covers, ``edited``
    how many it changed (None: not asked, or unknown)."""

    status: str
    selected: Selected
    affected: int | None
    edited: int | None
    message: str

    @property
    def ok(self) -> bool:
        return self.status in (DRY_RUN, APPLIED)

    def summary(self) -> str:
        """The report a person reads after the command."""
        selected = self.selected
        lines = [
            f"mark-billed {'dry run' if self.status == DRY_RUN else self.status}: "
            f"{selected.customer_name}, {selected.selection.describe()}",
            f"selected in the warehouse: {len(selected.entries)} unbilled entries, "
            f"{selected.hours:,.2f} h, value {selected.value:,.2f}",
        ]
        if self.affected is not None:
            lines.append(f"Clockodo: {self.affected} entries to mark billed")
        lines.append(self.message)
        return "\n".join(lines)


def mark_billed(
    pipeline: dlt.Pipeline, *, customer: Any, project: Any = None, month: Any = None,
    since: Any = None, until: Any = None, apply: bool = False, force: bool = False,
) -> MarkBilled:
    """Mark a selection's unbilled entries billed in Clockodo (``apply``), or show what that
    would do (the default, a dry run that changes nothing).

    The selection is a customer id, an optional project id, and ``month`` ("YYYY-MM") or
    ``since``/``until`` days (until exclusive) of the ``timezone`` option. Credentials, API and
    budgets come from ``[sources.clockodo]`` as for ``clockodo_source()``; the destination is
    the pipeline's (DuckDB or PostgreSQL). Bad input raises ``ConfigurationError`` before any
    call; every outcome of an apply is returned and audited in table ``billing_audit``.
    """
    selection = parse_selection(customer=customer, project=project, month=month, since=since,
                                until=until)
    selected = read_selection(pipeline, selection)
    request = _request(selected)
    with clockodo_client() as client:
        if not apply:
            answer = client.put(ENTRYGROUPS_PATH, request, retry=True)
            return _dry_run(pipeline, selected, int(answer["affected_entries"]))
        return _apply(pipeline, client, selected, request, force)


def _request(selected: Selected) -> dict[str, Any]:
    """The entrygroups request: billable entries of the selection become billed."""
    selection = selected.selection
    chosen: dict[str, int] = {"customers_id": selection.customer, "billable": 1}
    if selection.project is not None:
        chosen["projects_id"] = selection.project
    return {"time_since": _wire(selected.since), "time_until": _wire(selected.until),
            "filter": chosen, "billable": BILLED}


def _wire(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dry_run(pipeline: dlt.Pipeline, selected: Selected, affected: int) -> MarkBilled:
    count = len(selected.entries)
    if affected == count == 0:
        message = "nothing to mark billed in this selection"
    elif affected == count:
        message = f"run again with --apply to mark these {count} entries billed"
    else:
        message = (f"the warehouse differs from Clockodo ({count} vs {affected} entries): "
                   f"{_reload_hint(selected)}; --apply would refuse without --force")
    note = _last_unknown(pipeline, selected)
    if note is not None:
        message += (f"\nthe --apply of {note.at:%Y-%m-%d %H:%M:%S} UTC had an unknown outcome: "
                    f"it meant to change {len(note.entry_ids)} entries, Clockodo now has "
                    f"{affected} unbilled ones in this selection")
    return MarkBilled(DRY_RUN, selected, affected, None, message)


def _apply(pipeline: dlt.Pipeline, client: ClockodoClient, selected: Selected,
           request: dict[str, Any], force: bool) -> MarkBilled:
    audit = Audit(pipeline)
    selection = selected.selection
    at = datetime.now(UTC)
    try:
        first = client.put(ENTRYGROUPS_PATH, request, retry=True)
    except ClockodoError as exc:
        failed = AuditRow(at, selection.customer, selection.project, selection.since,
                          selection.until, None, 0, FAILED,
                          f"not applied: {describe_failure(exc)}", selected.entry_ids)
        return _record(audit, failed, selected)
    affected = int(first["affected_entries"])
    row = AuditRow(at, selection.customer, selection.project, selection.since, selection.until,
                   affected, None, FAILED, UNKNOWN, selected.entry_ids)
    count = len(selected.entries)
    if affected != count and not force:
        message = (f"refused: Clockodo would change {affected} entries, the warehouse selected "
                   f"{count}; the warehouse is behind Clockodo: {_reload_hint(selected)}, or "
                   "add --force")
        return _record(audit, row.settled(REFUSED, message, 0), selected)
    if affected == 0:
        return _record(audit, row.settled(APPLIED, "nothing to change: no unbilled entries in "
                                                   "this selection", 0), selected)
    audit.append(row)
    try:
        answer = client.put(ENTRYGROUPS_PATH, {**request, "confirm_key": first["confirm_key"]},
                            retry=False)
    except WriteOutcomeUnknown:
        return _settle(audit, row, selected)
    except ClockodoError as exc:
        return _settle(audit, _confirm_failed(row, exc), selected)
    edited = int(answer.get("edited_entries", affected))
    forced = f" (forced: the warehouse selected {count})" if affected != count else ""
    result = _settle(audit, row.settled(APPLIED, f"marked {edited} entries billed{forced}",
                                        edited), selected)
    return _reloaded(pipeline, result)


def _confirm_failed(row: AuditRow, exc: ClockodoError) -> AuditRow:
    """An error answer to the confirming call: a 5xx may come after the change was applied
    (a gateway timing out), anything else means Clockodo did not apply it."""
    reason = describe_failure(exc)
    if isinstance(exc, ClockodoApiError) and exc.status >= 500:
        return row.settled(FAILED, f"outcome unknown: {reason}; not retried: run mark-billed "
                                   "without --apply to see whether Clockodo applied it", None)
    return row.settled(FAILED, f"not applied: {reason}; run mark-billed again", 0)


def _record(audit: Audit, row: AuditRow, selected: Selected) -> MarkBilled:
    audit.append(row)
    return _result(row, selected)


def _settle(audit: Audit, row: AuditRow, selected: Selected) -> MarkBilled:
    audit.settle(row)
    return _result(row, selected)


def _result(row: AuditRow, selected: Selected) -> MarkBilled:
    return MarkBilled(row.status, selected, row.affected_entries, row.edited_entries,
                      row.message)


def _utc_days(selected: Selected) -> tuple[date, date]:
    """The UTC days `[start, end)` that hold the selection's instants."""
    last = (selected.until - timedelta(microseconds=1)).date()
    return selected.since.date(), last + timedelta(days=1)


def _reload_hint(selected: Selected) -> str:
    start, end = _utc_days(selected)
    return f"load it again with `clockodo-pipeline reconcile --start-date {start} --end-date {end}`"


def _reloaded(pipeline: dlt.Pipeline, result: MarkBilled) -> MarkBilled:
    """Load the selection's days again from the API (entries only) and rebuild the models."""
    start, end = _utc_days(result.selected)
    logger.info("loading entries of %s to %s again", start, end)
    pipeline.sync_destination()
    run_source(pipeline, ["entries"], start_date=start.isoformat(), end_date=end.isoformat())
    build_models(pipeline)
    billed = _billed_in_warehouse(pipeline, result.selected.entry_ids)
    message = (f"{result.message}; the warehouse now shows {billed} of the "
               f"{len(result.selected.entries)} selected entries billed")
    return MarkBilled(result.status, result.selected, result.affected, result.edited, message)


def _billed_in_warehouse(pipeline: dlt.Pipeline, ids: list[int]) -> int:
    if not ids:
        return 0
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("entries")
        found = client.execute_sql(
            f"SELECT COUNT(*) FROM {table} WHERE billable = {BILLED} AND id IN "
            f"({', '.join(str(key) for key in ids)})")
    return int(found[0][0]) if found else 0


def _last_unknown(pipeline: dlt.Pipeline, selected: Selected) -> AuditRow | None:
    """The latest apply of this very selection, when its outcome is unknown."""
    selection = selected.selection
    mine = [row for row in Audit(pipeline).rows()
            if (row.customers_id, row.projects_id, row.since, row.until)
            == (selection.customer, selection.project, selection.since, selection.until)]
    if mine and mine[-1].status == FAILED and mine[-1].message.startswith("outcome unknown"):
        return mine[-1]
    return None
