"""Report filters: parsing the user's values and checking they fit the chosen report.

Every problem is a ``ValueError`` with one line that names the option and shows a valid
example, so a command line can print it as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

FILTER_NAMES = ("month", "quarter", "year", "customer", "project", "team")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_IDENTIFIER = re.compile(r"[0-9]+")
_YEAR = re.compile(r"[12][0-9]{3}")
_EXAMPLES = {"customer": "3001", "project": "40001", "team": "201"}


@dataclass(frozen=True)
class Filters:
    """Validated filters; ``since``/``until`` bound a month or quarter as ``[since, until)``."""

    month: str | None = None
    quarter: str | None = None
    year: int | None = None
    customer: int | None = None
    project: int | None = None
    team: int | None = None
    since: date | None = None
    until: date | None = None

    @property
    def given(self) -> tuple[str, ...]:
        """Names of the filters that were set, in the order of :data:`FILTER_NAMES`."""
        return tuple(name for name in FILTER_NAMES if getattr(self, name) is not None)

    def describe(self) -> str:
        return ", ".join(f"{name} {getattr(self, name)}" for name in self.given) or "none"


def parse_filters(
    *, month: Any = None, quarter: Any = None, year: Any = None, customer: Any = None,
    project: Any = None, team: Any = None,
) -> Filters:
    """Check each value's form; ``month`` and ``quarter`` exclude each other."""
    if month is not None and quarter is not None:
        raise ValueError("give either month (e.g. 2026-03) or quarter (e.g. 2026-Q1), not both")
    since = until = None
    if month is not None:
        since, until = _month_range(month)
    if quarter is not None:
        since, until = _quarter_range(quarter)
    return Filters(
        month=None if month is None else str(month),
        quarter=None if quarter is None else str(quarter).upper(),
        year=_year(year),
        customer=_identifier("customer", customer),
        project=_identifier("project", project),
        team=_identifier("team", team),
        since=since,
        until=until,
    )


def check_applicable(report: str, filters: Filters, allowed: tuple[str, ...]) -> None:
    """Refuse a filter the report cannot apply rather than silently ignoring it."""
    for name in filters.given:
        if name not in allowed:
            accepted = ", ".join(allowed) or "no filters"
            raise ValueError(
                f"the {report} report cannot be filtered by {name} (it accepts: {accepted})"
            )


def _month_range(value: Any) -> tuple[date, date]:
    match = _MONTH.fullmatch(str(value).strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"month must be YYYY-MM, for example 2026-03 (got {value!r})")
    since = date(int(match[1]), int(match[2]), 1)
    return since, _add_months(since, 1)


def _quarter_range(value: Any) -> tuple[date, date]:
    match = _QUARTER.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"quarter must be YYYY-Qn, for example 2026-Q1 (got {value!r})")
    since = date(int(match[1]), 3 * int(match[2]) - 2, 1)
    return since, _add_months(since, 3)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _year(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not _YEAR.fullmatch(str(value).strip()):
        raise ValueError(f"year must be YYYY, for example 2026 (got {value!r})")
    return int(str(value).strip())


def _identifier(name: str, value: Any) -> int | None:
    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not _IDENTIFIER.fullmatch(text) or int(text) <= 0:
        raise ValueError(
            f"{name} must be a Clockodo {name} id (a positive whole number), "
            f"for example {_EXAMPLES[name]} (got {value!r})"
        )
    return int(text)
