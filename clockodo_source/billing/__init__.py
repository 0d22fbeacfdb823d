"""Billing: invoice drafts from unbilled time, and marking that time billed in Clockodo.

``invoice(pipeline, customer=..., month=...)`` reads the destination only and returns invoice
lines that map one to one onto invoice items of Billomat, lexoffice or sevDesk;
``mark_billed(pipeline, customer=..., month=..., apply=True)`` marks the same selection billed
through Clockodo's two-phase ``/v2/entrygroups`` write, audited in table ``billing_audit``.
The command line and the MCP server call these two functions.
"""

from __future__ import annotations

from typing import Any

import dlt

from clockodo_source.billing.audit import AUDIT_TABLE, AuditRow
from clockodo_source.billing.invoice import FORMATS, Invoice, Line, invoice_lines
from clockodo_source.billing.mark import MarkBilled, mark_billed
from clockodo_source.billing.selection import parse_selection, read_selection


def invoice(
    pipeline: dlt.Pipeline, *, customer: Any, project: Any = None, month: Any = None,
    since: Any = None, until: Any = None,
) -> Invoice:
    """The invoice draft of a customer's unbilled entries (``billable = 1``) in ``month``
    ("YYYY-MM") or the days ``[since, until)`` of the ``timezone`` option, optionally of one
    project, from the pipeline's destination (no API call). ``render(fmt)`` formats it,
    ``document()`` is its JSON; bad input raises ``ConfigurationError``."""
    selection = parse_selection(customer=customer, project=project, month=month, since=since,
                                until=until)
    return invoice_lines(read_selection(pipeline, selection))


__all__ = [
    "AUDIT_TABLE",
    "FORMATS",
    "AuditRow",
    "Invoice",
    "Line",
    "MarkBilled",
    "invoice",
    "mark_billed",
]
