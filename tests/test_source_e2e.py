"""The source against the fake Clockodo API over HTTP, loaded into a real DuckDB file."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from clockodo_source import clockodo_source
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import CATALOG, ENTITIES
from tests.expected import expected_keys, first_entry_day
from tests.helpers import (
    API_KEY,
    API_USER,
    DESTINATIONS,
    configure_source,
    drop_dataset,
    duckdb_pipeline,
    pipeline_for,
    query,
    stored_keys,
)


@pytest.fixture(scope="module", params=DESTINATIONS)
def loaded(request: pytest.FixtureRequest, api: FakeClockodoServer, company: FakeCompany,
           tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One full load per destination, shared by the read-only checks of this module."""
    pipeline = pipeline_for(request.param, tmp_path_factory.mktemp("full_load"))
    before = len(api.requests)
    source = clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=api.url,
                             start_date=first_entry_day(company).isoformat())
    pipeline.run(source)
    yield pipeline, api.requests[before:]
    drop_dataset(pipeline)


def test_every_table_holds_exactly_the_api_keys(loaded, company: FakeCompany) -> None:  # type: ignore[no-untyped-def]
    pipeline, _ = loaded
    expected = expected_keys(company, first_entry_day(company))
    for entity in CATALOG:
        keys = stored_keys(pipeline, entity.name)
        assert len(keys) == len(set(keys)), f"duplicate keys in {entity.name}"
        assert set(keys) == expected[entity.name], entity.name
        assert keys, f"{entity.name} is empty"


def test_only_current_routes_and_maximum_page_sizes(loaded) -> None:  # type: ignore[no-untyped-def]
    _, requests = loaded
    listed = {entity.every_id_of.path for entity in CATALOG if entity.every_id_of}
    assert listed == {"/v2/nonbusinessGroups"}
    current = {entity.path for entity in CATALOG} | listed
    assert {record.path for record in requests} == current
    assert all(record.status == 200 for record in requests)
    for record in requests:
        entity = next((e for e in CATALOG if e.path == record.path), None)
        if entity is None:
            assert record.query == {}
        elif entity.page_size:
            assert record.query["items_per_page"] == [str(entity.page_size)]
        if record.path == "/v2/entries":
            assert record.query["enhanced_list"] == ["1"]


def test_entry_fields_types_and_running_entry(loaded, company: FakeCompany) -> None:  # type: ignore[no-untyped-def]
    pipeline, _ = loaded
    wire = {row["id"]: row for row in company.all_entries()}
    rows = query(pipeline, "SELECT id, type, text, time_since, time_until, duration, lumpsum, "
                           "lumpsum_services_amount, revenue, billable FROM {ds}.entries")
    by_id = {row[0]: row for row in rows}
    running = [row for row in rows if row[4] is None and row[1] == 1]
    assert len(running) == 1 and running[0][5] is None
    assert {row[1] for row in rows} == {1, 2, 3}
    assert {row[9] for row in rows} >= {0, 1, 2}
    for entry_id, source in wire.items():
        row = by_id[entry_id]
        assert row[2] == source.get("text")
        assert row[3] == datetime.fromisoformat(source["time_since"]).astimezone(UTC)
        assert row[6] == source.get("lumpsum")
        assert row[7] == source.get("lumpsum_services_amount")
        assert row[8] == source.get("revenue")
    texts = [row[2] for row in rows if row[2]]
    assert any("\n" in text for text in texts) and any('"' in text for text in texts)
    assert any(not text.isascii() for text in texts)


def test_column_types(loaded) -> None:  # type: ignore[no-untyped-def]
    pipeline, _ = loaded
    types = {name: kind.upper() for name, kind in query(
        pipeline,
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s", pipeline.dataset_name,
    )}
    double = "DOUBLE PRECISION" if pipeline.destination.destination_name == "postgres" else "DOUBLE"
    assert types["entries.time_since"] == "TIMESTAMP WITH TIME ZONE"
    assert types["entries.revenue"] == double
    assert types["entries.id"] == "BIGINT"
    assert types["absences.date_since"] == "DATE"
    assert types["work_times.date"] == "DATE"
    assert types["work_times__intervals.time_since"] == "TIMESTAMP WITH TIME ZONE"
    assert types["projects.budget__amount"] == double
    assert types["users.created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["non_business_days.evaluated_date"] == "DATE"
    assert "user_reports__month_details__week_details.sum_hours" in types


def test_recurring_non_business_days_and_work_time_cutoff(loaded) -> None:  # type: ignore[no-untyped-def]
    pipeline, _ = loaded
    recurring = query(pipeline, "SELECT id, COUNT(*) FROM {ds}.non_business_days GROUP BY id "
                                "HAVING COUNT(*) > 1")
    assert recurring
    (first_day,) = query(pipeline, "SELECT MIN(date) FROM {ds}.work_times")[0]
    assert first_day >= date(2023, 8, 21)


def test_non_business_days_of_every_group(loaded, company: FakeCompany) -> None:  # type: ignore[no-untyped-def]
    """The groups are listed once; each year asks for all of them in one request, so a user
    outside the company-default group has that group's holidays in the table."""
    pipeline, requests = loaded
    groups = [group["id"] for group in company.nonbusiness_groups]
    assert len(groups) == 2 and sum(group["company_default"] for group in
                                    company.nonbusiness_groups) == 1
    assert [r.path for r in requests].count("/v2/nonbusinessGroups") == 1
    years = [r.query for r in requests if r.path == "/v2/nonbusinessDays"]
    first = first_entry_day(company).year
    assert sorted(int(query["year"][0]) for query in years) == list(
        range(first, company.now.year + 2))
    assert all(query["nonbusiness_group_id"] == [",".join(map(str, groups))] for query in years)
    stored = query(pipeline, "SELECT nonbusiness_group_id, evaluated_date, name "
                             "FROM {ds}.non_business_days")
    other = next(u for u in company.users if u["nonbusiness_groups_id"] != groups[0])
    own = {(day["evaluated_date"], day["name"]) for day in
           company.nonbusiness_days(company.now.year, {other["nonbusiness_groups_id"]})}
    assert own <= {(day.isoformat(), name) for group, day, name in stored
                   if group == other["nonbusiness_groups_id"]}
    assert {row[0] for row in stored} == set(groups)


def test_surcharges_fall_back_to_legacy_route(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    company = FakeCompany(CompanyConfig(entries=50, seed=3))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY,
                            surcharge_models_route=False) as server:
        configure_source(monkeypatch, server, first_entry_day(company).isoformat())
        pipeline = duckdb_pipeline(tmp_path)
        pipeline.run(clockodo_source().with_resources("surcharges"))
        paths = [record.path for record in server.requests]
    assert paths == ["/v2/surchargeModels", "/v2/surcharges"]
    assert set(stored_keys(pipeline, "surcharges")) == {(r["id"],) for r in
                                                        company.surcharge_models}


def test_selected_entities_leave_others_untouched(api: FakeClockodoServer, company: FakeCompany,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    configure_source(monkeypatch, api, first_entry_day(company).isoformat())
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(clockodo_source().with_resources("customers_projects", "teams"))
    tables = {row[0] for row in query(
        pipeline, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        pipeline.dataset_name) if not row[0].startswith("_dlt")}
    assert tables == {"customers_projects", "teams", "teams__user_ids"}
    assert len(stored_keys(pipeline, "customers_projects")) == len(company.projects)
    assert set(ENTITIES) >= {"customers_projects", "teams"}


@pytest.mark.parametrize(("entries", "years"), [(60, 10), (20_000, 2)])
def test_entry_requests_follow_density(entries: int, years: int, tmp_path: Path) -> None:
    """A sparse account costs no request per empty month; a dense one about one per page."""
    company = FakeCompany(CompanyConfig(entries=entries, seed=4,
                                        start=date.today() - timedelta(days=365 * years)))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        pipeline = duckdb_pipeline(tmp_path)
        source = clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=server.url,
                                 start_date=first_entry_day(company).isoformat())
        pipeline.run(source.with_resources("entries"))
        requests = server.request_count("/v2/entries")
    rows = len(company.all_entries())
    assert len(stored_keys(pipeline, "entries")) == rows
    if entries < 1000:
        assert requests == 1
    else:
        assert requests <= 1.1 * math.ceil(rows / 1000) + 20
