"""The shared calendar: local days of the `timezone` option as UTC instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from clockodo_source.calendar import configured_timezone, local_range, timezone_option, zone_name
from clockodo_source.errors import ConfigurationError


def test_a_berlin_month_starts_before_the_utc_one() -> None:
    since, until = local_range(date(2026, 10, 1), date(2026, 11, 1),
                               timezone_option("Europe/Berlin"))
    assert since == datetime(2026, 9, 30, 22, tzinfo=UTC)  # summer time, UTC+2
    assert until == datetime(2026, 10, 31, 23, tzinfo=UTC)  # winter time, UTC+1


def test_utc_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert configured_timezone() is UTC
    monkeypatch.setenv("SOURCES__CLOCKODO__TIMEZONE", "America/New_York")
    since, _ = local_range(date(2026, 1, 1), date(2026, 2, 1), configured_timezone())
    assert since == datetime(2026, 1, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Europe/Berlln", "CEST+2", ""])
def test_unknown_time_zone_names_the_option(name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^sources\.clockodo\.timezone .* e\.g\. "
                                                 r"Europe/Berlin$"):
        timezone_option(name)


def test_zone_names_are_iana_names() -> None:
    assert zone_name(UTC) == "UTC"
    assert zone_name(timezone_option("Europe/Berlin")) == "Europe/Berlin"
    with pytest.raises(ValueError, match=r"IANA time zone such as ZoneInfo\('Europe/Berlin'\)"):
        zone_name(timezone(timedelta(hours=2)))
