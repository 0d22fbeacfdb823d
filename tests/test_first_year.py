"""Per-year tables begin at the account's first year with data, not at `start_date` (issue 20,
item 2): real loads from the fake API into DuckDB, the years checked against the fake's data
and against the requests the source made."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dlt
import pytest

from clockodo_source import clockodo_source
from clockodo_source.analytics import build_models
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer, RequestRecord
from tests.helpers import API_KEY, API_USER, configure_source, duckdb_pipeline, query

FIRST = 2021
YEAR_TABLES = ("absences", "non_business_days", "user_reports")


@pytest.fixture
def company() -> FakeCompany:
    """A company whose users, entries and absences all begin in 2021 (few users: the fake
    computes every user report it serves)."""
    return FakeCompany(CompanyConfig(entries=300, users=3, start=date(FIRST, 1, 1), seed=31))


@pytest.fixture
def api(company: FakeCompany) -> Iterator[FakeClockodoServer]:
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        yield server


def _load(api: FakeClockodoServer, pipeline: dlt.Pipeline) -> list[RequestRecord]:
    before = len(api.requests)
    pipeline.run(clockodo_source().with_resources(*YEAR_TABLES, "entries"))
    return api.requests[before:]


def _report_years(requests: list[RequestRecord]) -> list[int]:
    return sorted(int(r.query["year"][0]) for r in requests if r.path == "/userreports")


def _stored_report_keys(pipeline: dlt.Pipeline) -> set[tuple[int, int]]:
    rows = query(pipeline, "SELECT users_id, year FROM {ds}.user_reports")
    return {(int(users_id), int(year)) for users_id, year in rows}


def _expected_report_keys(company: FakeCompany, first: int) -> set[tuple[int, int]]:
    return {(row["users_id"], year) for year in range(first, company.now.year + 2)
            for row in company.user_reports(year)}


def test_year_tables_begin_at_the_first_year_with_data(
        api: FakeClockodoServer, company: FakeCompany, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    configure_source(monkeypatch, api, "2000-01-01")  # the default start_date
    pipeline = duckdb_pipeline(tmp_path)
    requests = _load(api, pipeline)
    assert _report_years(requests) == list(range(FIRST, company.now.year + 2))
    assert _stored_report_keys(pipeline) == _expected_report_keys(company, FIRST)
    holidays = query(pipeline, "SELECT MIN(evaluated_date) FROM {ds}.non_business_days")
    assert holidays[0][0].year == FIRST
    assert build_models(pipeline)["overtime_balance"] == len(_expected_report_keys(company,
                                                                                   FIRST))
    assert query(pipeline, "SELECT MIN(year) FROM {ds}.overtime_balance") == [(FIRST,)]
    # nothing before the users' start: one request for entries, one for absences confirms it
    probes = [r for r in requests if r.query.get("items_per_page") == ["1"]]
    assert len(probes) == 1 and probes[0].path == "/v2/entries"
    assert [r.query["filter[year]"] for r in requests if r.path == "/v4/absences"
            and "," in r.query["filter[year]"][0]] == [[",".join(map(str, range(2000, FIRST)))]]

    # later runs read the current and the previous year, never before the first year
    later = _load(api, pipeline)
    assert _report_years(later) == [company.now.year - 1, company.now.year]


def test_earlier_entries_and_absences_move_the_first_year(
        api: FakeClockodoServer, company: FakeCompany, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Users without a start date, an entry booked in 2018 and an absence in 2017: the years
    begin at 2017 (the entry found by a binary search over the years, the absence by one
    request); a later `start_date` wins over them."""
    for user in company.users:
        company.edit("users", user["id"], start_date=None)
    company.add_entry(time_since="2018-03-01T09:00:00Z")
    absence = company.absences[0]
    company.edit_absence(absence["id"], date_since="2017-06-02", date_until="2017-06-03")
    configure_source(monkeypatch, api, "2000-01-01")
    pipeline = duckdb_pipeline(tmp_path)
    _load(api, pipeline)
    assert _stored_report_keys(pipeline) == _expected_report_keys(company, 2017)
    assert (absence["id"],) in query(pipeline, "SELECT id FROM {ds}.absences")

    # a run of user reports alone looks for the first entry, now the earliest data
    reports_only = duckdb_pipeline(tmp_path, "reports_only")
    company.delete_absence(absence["id"])
    before = len(api.requests)
    reports_only.run(clockodo_source().with_resources("user_reports"))
    assert _stored_report_keys(reports_only) == _expected_report_keys(company, 2018)
    assert len([r for r in api.requests[before:] if r.path == "/v2/entries"]) <= 6

    configure_source(monkeypatch, api, "2023-05-01")
    later_start = duckdb_pipeline(tmp_path, "later_start")
    _load(api, later_start)
    assert _stored_report_keys(later_start) == _expected_report_keys(company, 2023)
