"""The calendar of months, weeks and days that models, reports, invoices and alerts share.

Clockodo stores instants in UTC, but an agency in Berlin invoices by its local month: an entry
at 00:30 on the 1st belongs to that month. The `timezone` option (an IANA name, default UTC)
says which calendar; this module turns local days into the UTC instants to select by.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dlt

from clockodo_source.errors import ConfigurationError

TIMEZONE_KEY = "sources.clockodo.timezone (env SOURCES__CLOCKODO__TIMEZONE)"


def timezone_option(name: str | None) -> tzinfo:
    """An IANA time zone name (None: UTC), validated."""
    if name is None or name in ("UTC", "utc", "Z"):
        return UTC
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{TIMEZONE_KEY} must be an IANA time zone name (got {name!r}); e.g. Europe/Berlin"
        ) from None


def configured_timezone() -> tzinfo:
    """The calendar the user configured for `[sources.clockodo]`."""
    return timezone_option(dlt.config.get("sources.clockodo.timezone", str))


def zone_name(zone: tzinfo) -> str:
    """The IANA name of `zone`, as SQL spells a time zone ("UTC" for UTC). A fixed offset has
    none and is refused: it would ignore daylight saving time, and PostgreSQL reads a POSIX
    offset such as "UTC+02" with the opposite sign."""
    if zone == UTC:
        return "UTC"
    key = getattr(zone, "key", None)
    if not isinstance(key, str):
        raise ValueError(f"the calendar needs an IANA time zone such as "
                         f"ZoneInfo('Europe/Berlin'), not {zone!r}")
    return key


def day_start(day: date, zone: tzinfo) -> datetime:
    """The UTC instant at which `day` starts in `zone`."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def local_range(since: date, until: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The local days `[since, until)` of `zone` as a half-open range of UTC instants."""
    return day_start(since, zone), day_start(until, zone)
