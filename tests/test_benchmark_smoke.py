"""Smoke test of the benchmark's parts, so `python benchmarks/run.py` does not rot unnoticed.

The benchmark itself is not a timed test: this only checks, on a tiny company, that the fake
API process replays what it answered before, enforces budgets, hands its pages over, and that
both ceilings load every entry of them.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import httpx
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/run.py as a module (its siblings import as top-level modules, as when run)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("run")


def test_fake_replays_enforces_budgets_and_feeds_both_ceilings(
    bench: ModuleType, tmp_path: Path
) -> None:
    ceiling = importlib.import_module("ceiling")
    headers = {"X-ClockodoApiUser": bench.API_USER, "X-ClockodoApiKey": bench.API_KEY,
               "X-Clockodo-External-Application": "benchmark-smoke;test@example.com"}
    window: dict[str, str | int] = {
        "time_since": "2000-01-01T00:00:00Z", "time_until": "2100-01-01T00:00:00Z",
        "items_per_page": 1000,
    }
    with bench.FakeApi(1500) as fake, httpx.Client(base_url=fake.url, headers=headers) as http:
        for page in (1, 2, 1, 2):
            assert http.get("/v2/entries", params={**window, "page": page}).status_code == 200
        stats = fake.stats()
        assert (stats.requests, stats.entries_requests, stats.misses) == (4, 4, 2)
        bodies = fake.dump_entry_pages(tmp_path / "pages")
        assert len(bodies) == 2

        fake.configure(budgets=[(2, 60.0)])
        assert [http.get("/v3/teams").status_code for _ in range(3)] == [200, 200, 429]
        assert fake.stats().violations == 1

    assert ceiling.dlt_ceiling(bodies, tmp_path / "dlt").rows == fake.entries
    assert ceiling.read_json_ceiling(tmp_path / "pages", tmp_path).rows == fake.entries


def test_table_and_request_bound(bench: ModuleType) -> None:
    assert bench.request_limit(1_000_000) == 1120
    rendered = bench.table([bench.Line("1", "a", "1 rows/s", "t", True),
                            bench.Line("1", "b", "2 rows/s")]).splitlines()
    assert rendered[2].startswith("| 1 | a ") and rendered[2].endswith("| PASS   |")
    assert rendered[3].startswith("|   | b ")
