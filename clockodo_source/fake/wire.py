"""Wire-format helpers shared by the fake company and the fake server.

The Clockodo API speaks UTC date-times as ``YYYY-MM-DDTHH:MM:SSZ`` and dates as ``YYYY-MM-DD``;
internally the fake keeps epoch seconds (ints) because they are compact and cheap to compare.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

Wire = dict[str, Any]
"""One JSON object exactly as the API would put it on the wire."""

DAY = 86_400
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@lru_cache(maxsize=8192)
def _day_prefix(day_number: int) -> str:
    """``YYYY-MM-DDT`` for a day since the epoch; cached because pages repeat the same days."""
    return time.strftime("%Y-%m-%dT", time.gmtime(day_number * DAY))


def fmt_ts(ts: int) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (the hot path of page serialisation)."""
    day_number, rest = divmod(ts, DAY)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{_day_prefix(day_number)}{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def fmt_ts_opt(ts: int | None) -> str | None:
    """Like :func:`fmt_ts` but passes ``None`` through (running entries, open intervals)."""
    return None if ts is None else fmt_ts(ts)


def fmt_dt(value: datetime) -> str:
    """Aware datetime -> wire date-time."""
    return fmt_ts(to_ts(value))


def fmt_date(value: date) -> str:
    """Date -> wire date."""
    return value.isoformat()


def to_ts(value: datetime) -> int:
    """Aware datetime -> epoch seconds."""
    return int(value.timestamp())


def ts_to_dt(ts: int) -> datetime:
    """Epoch seconds -> aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def day_of(ts: int) -> date:
    """UTC calendar day an instant falls on."""
    return date.fromordinal(EPOCH_ORDINAL + ts // DAY)


def day_start(value: date) -> int:
    """Epoch seconds of 00:00:00 UTC on ``value``."""
    return (value.toordinal() - EPOCH_ORDINAL) * DAY


def parse_wire_dt(text: str) -> int:
    """Strict parse of a wire date-time; the real API rejects anything but the ``Z`` form."""
    if not _DATETIME_RE.fullmatch(text):
        raise ValueError(text)
    return to_ts(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))


def parse_wire_date(text: str) -> date:
    """Strict parse of a wire date."""
    if not _DATE_RE.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)


def days_between(first: date, last: date) -> list[date]:
    """All days from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
