"""Window tiling: contiguous, half-open, calendar-aligned, no gaps or overlaps."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from clockodo_source.errors import ConfigurationError
from clockodo_source.windows import WINDOW_UNITS, tile, years


@pytest.mark.parametrize("unit", WINDOW_UNITS)
def test_tiles_cover_range_exactly(unit: str) -> None:
    rng = random.Random(unit)
    for _ in range(50):
        since = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8))
        until = since + timedelta(seconds=rng.randrange(1, 10**8 // 3))
        windows = list(tile(since, until, unit))
        assert windows[0].since == since
        assert windows[-1].until == until
        for left, right in itertools.pairwise(windows):
            assert left.until == right.since
        assert all(window.since < window.until for window in windows)


def test_month_windows_align_to_calendar_months() -> None:
    windows = list(tile(datetime(2024, 1, 15, 5, tzinfo=UTC), datetime(2024, 4, 2, tzinfo=UTC)))
    assert [(w.since.date(), w.until.date()) for w in windows] == [
        (date(2024, 1, 15), date(2024, 2, 1)),
        (date(2024, 2, 1), date(2024, 3, 1)),
        (date(2024, 3, 1), date(2024, 4, 1)),
        (date(2024, 4, 1), date(2024, 4, 2)),
    ]


def test_week_and_quarter_boundaries() -> None:
    weeks = list(tile(datetime(2024, 1, 17, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC), "week"))
    assert [w.until.date() for w in weeks] == [date(2024, 1, 22), date(2024, 1, 29),
                                              date(2024, 2, 1)]
    assert all(w.since.weekday() == 0 for w in weeks[1:])
    quarters = list(tile(datetime(2023, 11, 5, tzinfo=UTC), datetime(2024, 8, 1, tzinfo=UTC),
                         "quarter"))
    assert [w.since.date() for w in quarters] == [date(2023, 11, 5), date(2024, 1, 1),
                                                 date(2024, 4, 1), date(2024, 7, 1)]


def test_window_dates_are_inclusive() -> None:
    (window,) = tile(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    assert window.dates() == (date(2024, 3, 1), date(2024, 3, 31))


def test_empty_range_and_bad_unit() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    assert list(tile(moment, moment)) == []
    with pytest.raises(ConfigurationError, match="window must be one of"):
        list(tile(moment, moment + timedelta(days=1), "fortnight"))


def test_years_touched() -> None:
    assert years(date(2022, 12, 31), date(2024, 1, 1)) == [2022, 2023, 2024]

