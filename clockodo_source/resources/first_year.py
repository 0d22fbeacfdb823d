"""The account's first year with data: where the per-year tables begin.

Read from `start_date` (2000 by default), per-year tables would hold a user report for every
user and year since then, all zero, and cost a request per table and year. They begin instead
at the earliest of the users' start dates, the earliest entry and the earliest absence (never
before `start_date`). The users list is read by every run anyway; entries and absences before
the users' start are usually none, which one request each confirms (a binary search over the
years finds the first one otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from clockodo_source.client import ClockodoClient
from clockodo_source.errors import ClockodoApiError
from clockodo_source.rows import Row, format_timestamp
from clockodo_source.scan import ScanOptions
from clockodo_source.settings import ENTITIES
from clockodo_source.windows import utc_midnight

#: the first year `/v4/absences` accepts in `filter[year]`
_ABSENCE_YEARS_FROM = 2000


def first_data_year(client: ClockodoClient, scan: ScanOptions, users: Iterable[Row]) -> int:
    """The first year the account has data in, from `start_date`'s year on; the current year
    for an account without any."""
    low = scan.start_date.year
    starts = [date.fromisoformat(str(user["start_date"])[:10]).year
              for user in users if user.get("start_date")]
    bound = max(low, min([scan.now.year, *starts]))
    bound = _first_entry_year(client, utc_midnight(scan.start_date), low, bound)
    return _first_absence_year(client, low, bound)


def _has_entries(client: ClockodoClient, since: datetime, until: datetime) -> bool:
    """Whether any entry starts in `[since, until)`: one row of one page (without texts, so
    outside the entry-text budget) and its item count."""
    entries = ENTITIES["entries"]
    params = {"time_since": format_timestamp(since), "time_until": format_timestamp(until)}
    _, paging = client.first_page(entries.path, entries.list_key, params, page_size=1)
    return int(paging.get("count_items") or 0) > 0


def _first_entry_year(client: ClockodoClient, since: datetime, low: int, bound: int) -> int:
    """The first year from `low` with an entry after `since`, or `bound` if none is earlier."""
    if bound <= low or not _has_entries(client, since, utc_midnight(date(bound, 1, 1))):
        return bound
    first, last = low, bound - 1  # entries start in one of these years
    while first < last:
        middle = (first + last) // 2
        if _has_entries(client, since, utc_midnight(date(middle + 1, 1, 1))):
            last = middle
        else:
            first = middle + 1
    return first


def _first_absence_year(client: ClockodoClient, low: int, bound: int) -> int:
    """The first year from `low` with an absence, or `bound` if none is earlier: the years
    before `bound` in one request. An API user who may not read absences has none to load."""
    years = range(max(low, _ABSENCE_YEARS_FROM), bound)
    if not years:
        return bound
    absences = ENTITIES["absences"]
    params = {absences.year_param or "year": ",".join(map(str, years))}
    try:
        rows = client.fetch_all(absences.path, absences.list_key, params, absences.page_size)
    except ClockodoApiError as exc:
        if exc.status != 403:
            raise
        return bound
    starts = [max(low, int(str(row["date_since"])[:4])) for row in rows]
    return min([bound, *starts])
