"""Smoke test of the benchmark's parts, so `python benchmarks/run.py` does not rot unnoticed.

The benchmark itself is not a timed test: this only checks, on a tiny company, that the fake
API process replays prepared pages, enforces budgets, and that both ceilings load every entry.
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


def test_prepared_pages_replay_and_feed_both_ceilings(bench: ModuleType, tmp_path: Path) -> None:
    ceiling = importlib.import_module("ceiling")
    with bench.FakeApi(1500) as fake:
        bodies = bench.fetch_entry_pages(fake)
        first = fake.stats()
        assert first.requests == len(bodies) and first.misses == first.requests
        assert bench.fetch_entry_pages(fake) == bodies
        assert fake.stats().misses == 0

        fake.configure(budgets=[(2, 60.0)])
        headers = {"X-ClockodoApiUser": bench.API_USER, "X-ClockodoApiKey": bench.API_KEY,
                   "X-Clockodo-External-Application": bench.EXTERNAL_APPLICATION}
        statuses = [httpx.get(f"{fake.url}/v3/teams", headers=headers).status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert fake.stats().violations == 1

    assert ceiling.dlt_ceiling(bodies, tmp_path / "dlt").rows == fake.entries
    assert ceiling.read_json_ceiling(bodies, tmp_path / "json").rows >= fake.entries


def test_table_and_request_bound(bench: ModuleType) -> None:
    assert bench.request_limit(1_000_000) == 1120
    rendered = bench.table([bench.Line("1", "a", "1 rows/s", "t", True),
                            bench.Line("1", "b", "2 rows/s")]).splitlines()
    assert rendered[2].startswith("| 1 | a ") and rendered[2].endswith("| PASS   |")
    assert rendered[3].startswith("|   | b ")
