"""Waits are announced, and back-to-back runs share the API user's budget (the ledger).

Real `clockodo-pipeline` processes against the fake API's own rate limiter.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.limits import RateLimits
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.ledger import RequestLedger
from clockodo_source.ratelimit import RateLimiter
from tests.helpers import API_KEY, API_USER
from tests.test_reliability import cli

SUMMARY = re.compile(r"^requests: (\d+) \(retries (\d+), 429s (\d+), waited ([\d.]+)s\)",
                     re.MULTILINE)


@pytest.fixture
def small() -> Iterator[FakeClockodoServer]:
    company = FakeCompany(CompanyConfig(entries=200, seed=41, users=2,
                                        start=date.today() - timedelta(days=120)))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as running:
        yield running


def _figures(output: str) -> tuple[int, int, int, float]:
    match = SUMMARY.search(output)
    assert match, output
    return int(match[1]), int(match[2]), int(match[3]), float(match[4])


def test_waits_on_429s_are_announced(small: FakeClockodoServer, tmp_path: Path) -> None:
    """The API's own budget binds while the client's is lifted: every wait on a 429 of a
    second or more says so on stderr as it starts, not only in the summary."""
    small.limits = RateLimits(budgets=[(10, 2.0)], entries_enhanced=None)
    result = cli(["run"], tmp_path, small, SOURCES__CLOCKODO__RATE_BUDGETS="[[100000, 60]]",
                 SOURCES__CLOCKODO__RETRY_AFTER_FLOOR_SECONDS="1",
                 SOURCES__CLOCKODO__MAX_ATTEMPTS="20")
    assert result.returncode == 0, result.stderr
    _, retries, throttled, waited = _figures(result.stdout)
    assert throttled > 0 and waited >= 1.0
    announced = re.findall(r"^clockodo-pipeline: Clockodo gave 429 \(rate limit\) on /\S+: "
                           r"retrying in \d+\.\ds \(attempt \d+ of 20\)$", result.stderr,
                           re.MULTILINE)
    assert announced and len(announced) <= retries


def test_back_to_back_runs_start_inside_the_budget(small: FakeClockodoServer,
                                                   tmp_path: Path) -> None:
    """A run right after another of the same API user counts the requests the first spent:
    it waits (and says so) instead of running into the 429s the first one caused."""
    budget = (30, 20.0)
    small.limits = RateLimits(budgets=[budget], entries_enhanced=None)
    env = {"SOURCES__CLOCKODO__RATE_BUDGETS": f"[[{budget[0]}, {budget[1]}]]"}
    first = cli(["run"], tmp_path, small, **env)
    assert first.returncode == 0, first.stderr
    spent = _figures(first.stdout)[0]
    assert budget[0] // 2 < spent <= budget[0]  # a second run cannot fit into one window

    began = time.monotonic()
    second = cli(["reconcile"], tmp_path, small, **env)
    assert second.returncode == 0, second.stderr
    requests, _, throttled, _ = _figures(second.stdout)
    assert throttled == 0 and small.budget_violations == 0
    assert requests + spent > budget[0]
    assert time.monotonic() - began >= 1.0


def test_a_limiter_starts_from_the_ledger_and_announces_its_wait(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Three requests answered half a second ago by another process fill a budget of three per
    two seconds: the next request waits about a second and a half, and says so."""
    ledger = RequestLedger(tmp_path / "requests", horizon=2.0)
    for _ in range(3):
        ledger.record(time.time() - 0.5)
    caplog.set_level(logging.INFO, logger="clockodo_source")
    limiter = RateLimiter([(3, 2.0)], ledger=ledger)
    waited = limiter.acquire()
    limiter.release()
    assert 1.2 <= waited <= 2.0
    assert [record.message for record in caplog.records] == [
        "rate budget of 3 requests per 2s spent (this run's and recent runs' requests): "
        "waiting 1.5s"]
    # the three expire at the instant the wait ends, to the millisecond the ledger keeps (CI once
    # read them a fraction of a millisecond before): look a little later
    time.sleep(0.05)
    assert len(ledger.recent()) == 1  # the three expired, the new answer is in


def test_the_ledger_keeps_only_its_horizon(tmp_path: Path) -> None:
    ledger = RequestLedger(tmp_path / "requests", horizon=60.0)
    now = time.time()
    for moment in (now - 120, now - 30, now - 1):
        ledger.record(moment)
    with open(ledger.path, "a") as cut:  # a line a killed process left half-written
        cut.write("17000")
    assert [round(moment) for moment in ledger.recent()] == [round(now - 30), round(now - 1)]
    assert len(ledger.path.read_text().splitlines()) == 2
