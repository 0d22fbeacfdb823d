"""`invoice` and `mark-billed`: the command-line front of clockodo_source.billing.

Both take the same selection options; `invoice` only reads the destination, `mark-billed`
asks Clockodo (a dry run unless --apply) and, applied, loads the changed entries again.
A refused or failed apply is audited by the billing package and ends here as one line on
stderr with exit status 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clockodo_source import billing
from clockodo_source.app.destinations import held_open
from clockodo_source.app.run import make_pipeline
from clockodo_source.errors import BillingError

FORMATS = billing.FORMATS


def selection_options() -> argparse.ArgumentParser:
    """The options both commands select entries by (a parent parser)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--customer", help="customer id (required)")
    options.add_argument("--project", help="project id (default: all of the customer's)")
    options.add_argument("--month", help="YYYY-MM, in the calendar of the timezone option")
    options.add_argument("--since", help="first day, YYYY-MM-DD (with --until)")
    options.add_argument("--until", help="day after the last, YYYY-MM-DD (exclusive)")
    return options


def _selection(args: argparse.Namespace) -> dict[str, str | None]:
    return {name: getattr(args, name) for name in ("customer", "project", "month", "since",
                                                     "until")}


def invoice(args: argparse.Namespace) -> str:
    """Invoice lines of the selection as a table, CSV or JSON, printed or written to a file."""
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    with held_open(pipeline):
        text = billing.invoice(pipeline, **_selection(args)).render(args.format)
    if not args.output:
        return text.rstrip("\n")
    target = Path(args.output)
    target.write_text(text, encoding="utf-8")
    return f"Invoice written to {target.resolve()}"


def mark_billed(args: argparse.Namespace) -> str:
    """A dry run, or with --apply the audited two-phase write and the reload."""
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    with held_open(pipeline):
        result = billing.mark_billed(pipeline, apply=args.apply, force=args.force,
                                     **_selection(args))
    if not result.ok:
        raise BillingError(f"mark-billed {result.message}")
    return result.summary()
