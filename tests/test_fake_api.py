"""The fake Clockodo API behaves like the real one (as documented), over real HTTP on loopback."""

from __future__ import annotations

import base64
import http.client
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from clockodo_source.fake import (
    CompanyConfig,
    FakeClockodoServer,
    FakeCompany,
    Faults,
    RateLimits,
)
from clockodo_source.fake.entries import ENHANCED_ONLY

NOW = datetime(2026, 3, 15, 14, 30, 5, tzinfo=UTC)
HEADERS = {
    "X-ClockodoApiUser": "demo@example.com",
    "X-ClockodoApiKey": "demo-key",
    "X-Clockodo-External-Application": "clockodo-dlt tests;dev@example.com",
}
COMMON = {"id", "type", "customers_id", "projects_id", "subprojects_id", "users_id", "billable",
          "texts_id", "time_since", "time_until", "time_insert", "time_last_change", "test_data",
          "text", "customers_name", "projects_name", "subprojects_name", "users_name", "revenue"}
TYPE_FIELDS = {
    1: {"services_id", "services_name", "duration", "time_last_change_work_time",
        "time_clocked_since", "clocked", "clocked_offline", "hourly_rate"},
    2: {"services_id", "services_name", "lumpsum"},
    3: {"lumpsum_services_id", "lumpsum_services_amount", "lumpsum_services_price"},
}


def wire_dt(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dt(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def company() -> FakeCompany:
    return FakeCompany(CompanyConfig(), now=NOW)


@pytest.fixture(scope="module")
def server(company: FakeCompany) -> Iterator[FakeClockodoServer]:
    with FakeClockodoServer(company) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_server(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults and budgets changed by one test must not leak into the next."""
    yield
    if "server" in request.fixturenames:
        shared: FakeClockodoServer = request.getfixturevalue("server")
        shared.faults = Faults()
        shared.limits = RateLimits()


@pytest.fixture
def client(server: FakeClockodoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
        yield http


@pytest.fixture
def mutable() -> Iterator[tuple[FakeCompany, httpx.Client]]:
    """A small company of its own, for tests that change data."""
    small = FakeCompany(CompanyConfig(entries=400), now=NOW)
    with FakeClockodoServer(small) as running, httpx.Client(
        base_url=running.url, headers=HEADERS, timeout=10
    ) as http:
        yield small, http


def entries_window(http: httpx.Client, since: datetime, until: datetime, per_page: int = 1000,
                   **params: Any) -> list[dict[str, Any]]:
    """All pages of one entries window."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = http.get("/v2/entries", params={
            "time_since": wire_dt(since), "time_until": wire_dt(until), "page": page,
            "items_per_page": per_page, **params,
        }).json()
        rows.extend(body["entries"])
        if page >= body["paging"]["count_pages"]:
            return rows
        page += 1


# ------------------------------------------------------------ auth & headers

@pytest.mark.parametrize("headers", [
    {},
    {"X-ClockodoApiUser": "demo@example.com", "X-ClockodoApiKey": "wrong"},
    {"Authorization": "Basic " + base64.b64encode(b"demo@example.com:wrong").decode()},
    {"Authorization": "Basic not-base64!"},
])
def test_bad_credentials_get_401_in_each_family_shape(server: FakeClockodoServer,
                                                       headers: dict[str, str]) -> None:
    app = {"X-Clockodo-External-Application": "x;y@example.com"}
    with httpx.Client(base_url=server.url, headers={**headers, **app}) as http:
        entries = http.get("/v2/entries", params={"time_since": "2025-01-01T00:00:00Z",
                                                  "time_until": "2025-02-01T00:00:00Z"})
        projects = http.get("/v4/projects")
    assert entries.status_code == projects.status_code == 401
    assert entries.json()["error"]["code"] == 401
    assert set(entries.json()["error"]) == {"code", "message", "fields"}
    [error] = projects.json()["errors"]
    assert set(error) == {"type", "message", "details", "path"}


def test_basic_auth_is_accepted(server: FakeClockodoServer) -> None:
    token = base64.b64encode(b"demo@example.com:demo-key").decode()
    headers = {"Authorization": f"Basic {token}", "X-Clockodo-External-Application": "a;b@c.de"}
    with httpx.Client(base_url=server.url, headers=headers) as http:
        assert http.get("/v3/teams").status_code == 200


@pytest.mark.parametrize("value", [None, "", "x" * 51])
def test_external_application_header_is_required_and_short(server: FakeClockodoServer,
                                                            value: str | None) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != "X-Clockodo-External-Application"}
    if value is not None:
        headers["X-Clockodo-External-Application"] = value
    with httpx.Client(base_url=server.url, headers=headers) as http:
        response = http.get("/v3/users")
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "X-Clockodo-External-Application"


def test_external_application_of_50_chars_is_fine(server: FakeClockodoServer) -> None:
    headers = {**HEADERS, "X-Clockodo-External-Application": "x" * 50}
    with httpx.Client(base_url=server.url, headers=headers) as http:
        assert http.get("/v3/users").status_code == 200


# ------------------------------------------------------------------ routing

@pytest.mark.parametrize("path", ["/v2/projects", "/absences", "/v3/absences", "/v2/customers/3001",
                                  "/users/me", "/v2/lumpsumservices", "/entries", "/holidayscarry"])
def test_legacy_routes_are_gone(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 410
    assert response.json()["errors"][0]["message"] == "deprecated"


@pytest.mark.parametrize("path", ["/v4/customers", "/v2/targethours", "/v9/entries",
                                  "/v4/projects/"])
def test_unknown_routes_are_route_not_found(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["errors"][0]["type"] == "RouteNotFound"


def test_writes_are_not_allowed(client: httpx.Client) -> None:
    assert client.post("/v3/customers", json={"name": "x"}).status_code == 405


def test_unknown_single_item_is_resource_not_found(client: httpx.Client) -> None:
    assert client.get("/v4/projects/1").json()["errors"][0]["type"] == "ResourceNotFound"
    assert client.get("/v2/entries/1").json()["error"]["code"] == 404


@pytest.mark.parametrize(("path", "key"), [
    ("/v4/projects", "data"), ("/v3/customers", "data"), ("/v3/users", "data"),
    ("/v3/teams", "data"), ("/v4/services", "data"), ("/v4/lumpSumServices", "data"),
    ("/v4/absences", "data"), ("/targethours", "targethours"), ("/v3/overtimeCarry", "data"),
    ("/v2/holidaysQuota", "data"), ("/v3/holidaysCarry", "data"),
    ("/v2/nonbusinessDays?year=2025", "data"), ("/v2/surchargeModels", "data"),
    ("/v2/surcharges", "surcharges"), ("/userreports?year=2025", "userreports"),
])
def test_list_keys(client: httpx.Client, path: str, key: str) -> None:
    body = client.get(path).json()
    assert body[key]
    paged = path in {"/v4/projects", "/v3/customers", "/v3/users", "/v3/teams", "/v4/services",
                     "/v4/lumpSumServices"}
    assert ("paging" in body) == paged


def test_single_item_routes(client: httpx.Client, company: FakeCompany) -> None:
    assert client.get("/v4/projects/40001").json()["data"]["id"] == 40001
    assert client.get("/targethours/8001").json()["targethoursRow"]["id"] == 8001
    assert client.get("/v2/surcharges/71").json()["surcharge"]["id"] == 71
    assert client.get("/v4/users/me").json()["data"]["email"] == "demo@example.com"
    first = company.all_entries()[0]
    assert client.get(f"/v2/entries/{first['id']}").json()["entry"] == first


def test_surcharge_models_route_can_be_switched_off(company: FakeCompany) -> None:
    with FakeClockodoServer(company, surcharge_models_route=False) as running, httpx.Client(
        base_url=running.url, headers=HEADERS
    ) as http:
        missing = http.get("/v2/surchargeModels")
        legacy = http.get("/v2/surcharges")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["type"] == "RouteNotFound"
    assert len(legacy.json()["surcharges"]) == 2


def test_surcharge_models_keep_unconfigured_kinds_out(client: httpx.Client) -> None:
    full, minimal = client.get("/v2/surchargeModels").json()["data"]
    assert full["saturday"] is None
    assert "night" not in minimal and minimal["sunday"]["percent"] == 25


# ------------------------------------------------------------------- paging

def test_paging_defaults_and_maxima(client: httpx.Client) -> None:
    window = {"time_since": "2025-01-01T00:00:00Z", "time_until": "2025-02-01T00:00:00Z"}
    assert client.get("/v4/projects").json()["paging"]["items_per_page"] == 1000
    assert client.get("/v2/entries", params=window).json()["paging"]["items_per_page"] == 2500
    assert client.get("/v4/projects", params={"items_per_page": 5000}).status_code == 200
    too_big = client.get("/v4/projects", params={"items_per_page": 5001})
    assert too_big.status_code == 400
    assert too_big.json()["errors"][0]["path"] == "items_per_page"
    assert client.get("/v3/users", params={"items_per_page": 1001}).status_code == 400
    entries = client.get("/v2/entries", params={**window, "items_per_page": 1001})
    assert entries.status_code == 400
    assert entries.json()["error"]["fields"] == ["items_per_page"]


def test_pages_split_a_list(client: httpx.Client) -> None:
    pages = [client.get("/v4/projects", params={"items_per_page": 7, "page": page}).json()
             for page in (1, 2, 3, 4)]
    assert pages[0]["paging"] == {"items_per_page": 7, "current_page": 1, "count_pages": 3,
                                  "count_items": 20}
    assert [len(page["data"]) for page in pages] == [7, 7, 6, 0]
    assert pages[3]["paging"]["current_page"] == 4
    ids = [row["id"] for page in pages for row in page["data"]]
    assert ids == sorted(set(ids))


def test_empty_window_has_zero_pages(client: httpx.Client) -> None:
    body = client.get("/v2/entries", params={"time_since": "2001-01-01T00:00:00Z",
                                             "time_until": "2001-02-01T00:00:00Z"}).json()
    assert body["paging"]["count_pages"] == 0 and body["paging"]["count_items"] == 0
    assert body["entries"] == [] and body["filter"] is None


def test_unknown_params_are_ignored(client: httpx.Client) -> None:
    plain = client.get("/v4/projects").json()
    assert client.get("/v4/projects", params={"limit": 3, "updated_since": "x"}).json() == plain


def test_array_and_csv_params(client: httpx.Client) -> None:
    csv = client.get("/v4/absences", params={"filter[year]": "2024,2025"}).json()["data"]
    brackets = client.get("/v4/absences?filter[year][]=2024&filter[year][]=2025").json()["data"]
    assert csv == brackets and csv
    active = client.get("/v4/projects", params={"filter[active]": "true"}).json()["data"]
    assert active == client.get("/v4/projects", params={"filter[active]": "1"}).json()["data"]
    assert all(row["active"] for row in active)


# ------------------------------------------------------------------ entries

@pytest.mark.parametrize(("params", "message", "fields"), [
    ({}, "Missing data", ["time_since", "time_until"]),
    ({"time_since": "2025-01-01T00:00:00Z"}, "Missing data", ["time_until"]),
    ({"time_since": "2025-01-01", "time_until": "2025-02-01T00:00:00Z"}, "Wrong format",
     ["time_since"]),
    ({"time_since": "2025-01-01T00:00:00Z", "time_until": "2025-02-01T00:00:00+00:00"},
     "Wrong format", ["time_until"]),
])
def test_entries_window_is_validated(client: httpx.Client, params: dict[str, str], message: str,
                                     fields: list[str]) -> None:
    response = client.get("/v2/entries", params=params)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": 400, "message": message, "fields": fields}}


def test_entry_crossing_a_month_end_is_in_both_windows(client: httpx.Client,
                                                        company: FakeCompany) -> None:
    crossing = [e for e in company.all_entries()
                if e["time_until"] and e["time_since"][5:7] != e["time_until"][5:7]]
    assert crossing
    entry = crossing[0]
    month_start = parse_dt(entry["time_until"]).replace(day=1, hour=0, minute=0, second=0)
    before = entries_window(client, month_start - timedelta(days=28), month_start)
    after = entries_window(client, month_start, month_start + timedelta(days=28))
    assert entry["id"] in {e["id"] for e in before}
    assert entry["id"] in {e["id"] for e in after}


def test_window_boundaries(client: httpx.Client, company: FakeCompany) -> None:
    lumpsum = next(e for e in company.all_entries() if e["type"] == 2)
    at = parse_dt(lumpsum["time_since"])
    starting = entries_window(client, at, at + timedelta(hours=1))
    ending = entries_window(client, at - timedelta(hours=1), at)
    assert lumpsum["id"] in {e["id"] for e in starting}
    assert lumpsum["id"] not in {e["id"] for e in ending}
    timed = next(e for e in company.all_entries() if e["type"] == 1 and e["time_until"])
    end = parse_dt(timed["time_until"])
    assert timed["id"] not in {e["id"] for e in entries_window(client, end, end + timedelta(1))}


def test_paged_window_equals_company_view(client: httpx.Client, company: FakeCompany) -> None:
    since, until = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    expected = company.entries_in(since, until)
    got = entries_window(client, since, until, per_page=100, enhanced_list="true")
    assert got == expected and len(expected) > 300
    keys = [(e["time_since"], e["id"]) for e in got]
    assert keys == sorted(keys)


@pytest.mark.parametrize("flag", ["1", "true"])
def test_enhanced_list_adds_texts_names_and_money(client: httpx.Client, flag: str) -> None:
    window = {"time_since": "2025-03-01T00:00:00Z", "time_until": "2025-04-01T00:00:00Z"}
    plain = client.get("/v2/entries", params=window).json()["entries"]
    rich = client.get("/v2/entries", params={**window, "enhanced_list": flag}).json()["entries"]
    assert all(not ENHANCED_ONLY & set(e) for e in plain)
    assert all("text" in e and "users_name" in e for e in rich)
    assert [{k: v for k, v in e.items() if k not in ENHANCED_ONLY} for e in rich] == plain
    falsy = client.get("/v2/entries", params={**window, "enhanced_list": "0"}).json()
    assert falsy["entries"] == plain


def test_entry_filters(client: httpx.Client) -> None:
    window = {"time_since": "2025-01-01T00:00:00Z", "time_until": "2025-04-01T00:00:00Z"}
    mine = client.get("/v2/entries", params={**window, "filter[users_id]": 1002}).json()
    assert mine["entries"] and {e["users_id"] for e in mine["entries"]} == {1002}
    billed = client.get("/v2/entries", params={**window, "filter[billable]": 12}).json()
    assert {e["billable"] for e in billed["entries"]} == {1, 2}
    free = client.get("/v2/entries", params={**window, "filter[billable]": 0}).json()
    assert free["entries"] and {e["billable"] for e in free["entries"]} == {0}
    total = client.get("/v2/entries", params=window).json()["paging"]["count_items"]
    assert total == billed["paging"]["count_items"] + free["paging"]["count_items"]


def test_exactly_one_running_entry(client: httpx.Client, company: FakeCompany) -> None:
    running = [e for e in company.all_entries() if e["time_until"] is None]
    assert len(running) == 1
    [entry] = running
    assert entry["type"] == 1 and entry["duration"] is None and entry["clocked"] is True
    assert timedelta(hours=1) < NOW - parse_dt(entry["time_since"]) < timedelta(hours=4)
    around_now = entries_window(client, NOW - timedelta(minutes=5), NOW + timedelta(minutes=5))
    assert entry["id"] in {e["id"] for e in around_now}


def test_entry_types_carry_only_their_fields(company: FakeCompany) -> None:
    entries = company.all_entries()
    assert {e["type"] for e in entries} == {1, 2, 3}
    for entry in entries:
        assert set(entry) - {"revenue"} == (COMMON | TYPE_FIELDS[entry["type"]]) - {"revenue"}
        if entry["type"] != 1:
            assert entry["billable"] in (1, 2) and entry["time_until"] == entry["time_since"]
    assert {e["billable"] for e in entries if e["type"] == 1} == {0, 1, 2}


def test_generated_entries_are_realistic(company: FakeCompany) -> None:
    entries = company.all_entries()
    assert len(entries) == 3001
    by_insert = sorted(entries, key=lambda e: (e["time_insert"], e["id"]))
    assert [e["id"] for e in by_insert] == sorted(e["id"] for e in entries)
    now = wire_dt(NOW)
    assert all(e["time_insert"] <= e["time_last_change"] <= now for e in entries)
    missing_revenue = sum("revenue" not in e for e in entries) / len(entries)
    assert 0.05 < missing_revenue < 0.15
    texts = {e["text"] for e in entries if e["text"]}
    assert any("\n" in t for t in texts) and any('"' in t for t in texts)
    assert any("ü" in t for t in texts) and any("é" in t for t in texts)
    assert any(ord(c) > 0xFFFF for t in texts for c in t)
    assert any(e["time_until"] and e["time_since"][:10] != e["time_until"][:10] for e in entries)
    assert max(e["time_since"] for e in entries) > wire_dt(NOW + timedelta(days=30))


def test_generation_is_deterministic() -> None:
    first = FakeCompany(CompanyConfig(entries=200), now=NOW)
    second = FakeCompany(CompanyConfig(entries=200), now=NOW)
    assert first.all_entries() == second.all_entries()
    assert first.absences == second.absences
    other = FakeCompany(CompanyConfig(entries=200, seed=8), now=NOW)
    assert other.all_entries() != first.all_entries()


def test_large_company_builds() -> None:
    large = FakeCompany(CompanyConfig(entries=200_000), now=NOW)
    count, page = large.entries_page(0, 2**40, 3, 1000, enhanced=False)
    assert count == 200_001 and len(page) == 1000


# ------------------------------------------------------------- master data

def test_master_data_shape(company: FakeCompany) -> None:
    assert len(company.users) == 8 and sum(not u["active"] for u in company.users) == 1
    assert {u["role"] for u in company.users} == {"owner", "worker"}
    assert len(company.teams) == 3
    budgets = [p["budget"] for p in company.projects]
    assert None in budgets
    assert {b["monetary"] for b in budgets if b} == {True, False}
    assert any(b and b["interval"] is not None for b in budgets)
    assert any(p["completed"] for p in company.projects)
    assert any(not p["active"] for p in company.projects)
    assert {t["type"] for t in company.target_hours} == {"weekly", "monthly"}


def test_absences_cover_the_awkward_cases(client: httpx.Client, company: FakeCompany) -> None:
    absences = company.absences
    assert len({a["type"] for a in absences}) >= 5 and len({a["status"] for a in absences}) >= 3
    assert any(a["count_days"] == 0.5 for a in absences)
    assert any(a["type"] == 3 and a["count_hours"] for a in absences)
    assert all(("count_hours" in a) == (a["type"] == 3) for a in absences)
    spanning = next(a for a in absences if a["date_since"][:4] != a["date_until"][:4])
    first_year = int(spanning["date_since"][:4])
    for year in (first_year, first_year + 1):
        listed = client.get("/v4/absences", params={"filter[year]": year}).json()["data"]
        assert spanning in listed
    assert client.get("/v4/absences", params={"filter[year]": 2038}).status_code == 400
    assert len(client.get("/v4/absences").json()["data"]) == len(absences)


def test_nonbusiness_days_recur_with_the_same_id(client: httpx.Client) -> None:
    def days(year: int) -> dict[int, dict[str, Any]]:
        params = {"year": year, "nonbusiness_group_id": "1,2"}
        body = client.get("/v2/nonbusinessDays", params=params).json()
        return {day["id"]: day for day in body["data"]}

    first, second = days(2024), days(2025)
    recurring = set(first) & set(second)
    assert recurring
    assert all(first[i]["evaluated_date"] != second[i]["evaluated_date"] for i in recurring)
    assert {d["nonbusiness_group_id"] for d in first.values()} == {1, 2}
    assert {d["type"] for d in first.values()} == {"SPECIAL", "DISTINCT_ONCE",
                                                   "DISTINCT_RECURRING"}
    assert all(d["evaluated_date"].startswith("2025") for d in second.values())
    assert client.get("/v2/nonbusinessDays").json()["data"][0]["evaluated_date"][:4] == "2026"
    assert client.get("/v2/nonbusinessDays", params={"year": 1999}).status_code == 400


def test_nonbusiness_groups_route(client: httpx.Client, company: FakeCompany) -> None:
    groups = client.get("/v2/nonbusinessGroups").json()
    assert set(groups) == {"data"}
    assert groups["data"] == company.nonbusiness_groups
    assert [(g["id"], g["company_default"]) for g in groups["data"]] == [(1, True), (2, False)]
    assert all(isinstance(g["name"], str) and g["name"] for g in groups["data"])
    assert client.get("/v2/nonbusinessGroups/2").json()["data"] == groups["data"][1]
    assert client.get("/nonbusinessgroups").status_code == 410
    in_other = [u for u in company.users if u["nonbusiness_groups_id"] == 2]
    assert in_other and all(u["nonbusinessgroups_id"] == 2 for u in in_other)


def test_nonbusiness_days_unasked_are_the_default_groups_only(client: httpx.Client,
                                                               company: FakeCompany) -> None:
    def groups(params: dict[str, Any] | list[tuple[str, Any]]) -> list[int]:
        body = client.get("/v2/nonbusinessDays", params=params).json()
        return sorted({day["nonbusiness_group_id"] for day in body["data"]})

    every = company.nonbusiness_days(2025)
    assert {day["nonbusiness_group_id"] for day in every} == {1, 2}
    assert groups({"year": 2025}) == [1]
    assert groups({"year": 2025, "nonbusiness_group_id": 2}) == [2]
    assert groups({"year": 2025, "nonbusiness_group_id": "1,2"}) == [1, 2]
    assert groups([("year", 2025), ("nonbusiness_group_id[]", 1),
                   ("nonbusiness_group_id[]", 2)]) == [1, 2]
    both = client.get("/v2/nonbusinessDays",
                      params={"year": 2025, "nonbusiness_group_id": "1,2"}).json()["data"]
    assert both == every


# --------------------------------------------------------------- work times

@pytest.mark.parametrize("missing", ["date_since", "date_until", "users_id"])
def test_work_times_require_their_params(client: httpx.Client, missing: str) -> None:
    params = {"date_since": "2025-01-01", "date_until": "2025-01-31", "users_id": "1002"}
    del params[missing]
    response = client.get("/v2/workTimes", params=params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == missing


def test_work_times_start_2023_08_21_and_follow_entries(client: httpx.Client,
                                                        company: FakeCompany) -> None:
    user = 1002
    body = client.get("/v2/workTimes", params={"date_since": "2023-08-01",
                                               "date_until": "2023-09-30", "users_id": user}).json()
    days = body["work_time_days"]
    assert days and min(d["date"] for d in days) >= "2023-08-21"
    assert body["paging"]["count_items"] == len(days)
    since, until = datetime(2023, 8, 21, tzinfo=UTC), datetime(2023, 10, 1, tzinfo=UTC)
    starts = {e["time_since"][:10] for e in company.entries_in(since, until)
              if e["users_id"] == user and e["type"] == 1 and e["time_since"] >= wire_dt(since)}
    assert {d["date"] for d in days} == starts
    assert all(i["time_since"] < i["time_until"] for d in days for i in d["intervals"])


# ------------------------------------------------------------- user reports

def test_user_reports_require_a_sane_year(client: httpx.Client) -> None:
    assert client.get("/userreports").status_code == 400
    assert client.get("/userreports", params={"year": 1909}).status_code == 400
    assert client.get("/userreports", params={"year": 2028}).status_code == 400
    assert client.get("/userreports", params={"year": 2027}).status_code == 200


def test_user_report_levels(client: httpx.Client) -> None:
    def first(type_: int) -> dict[str, Any]:
        body = client.get("/userreports", params={"year": 2025, "type": type_}).json()
        return body["userreports"][0]

    assert "month_details" not in first(0)
    assert "week_details" not in first(1)["month_details"][0]
    assert "day_details" not in first(2)["month_details"][0]["week_details"][0]
    day = first(3)["month_details"][0]["week_details"][0]["day_details"][0]
    assert "breaks" not in day and "hours" in day
    day4 = first(4)["month_details"][0]["week_details"][0]["day_details"][0]
    assert {"breaks", "work_start", "work_end"} <= set(day4)


def test_user_report_sums_are_consistent(company: FakeCompany) -> None:
    for report in company.user_reports(2025, 3):
        months = report["month_details"]
        assert report["sum_target"] == sum(m["sum_target"] for m in months)
        assert report["sum_hours"] == sum(m["sum_hours"] for m in months) > 0
        for month in months:
            weeks = month["week_details"]
            assert month["sum_hours"] == sum(w["sum_hours"] for w in weeks)
            assert month["diff"] == sum(w["diff"] for w in weeks)
            for week in weeks:
                assert week["sum_target"] == sum(d["target"] for d in week["day_details"])
    january, february = company.user_reports(2025, 2)[0]["month_details"][:2]
    assert january["week_details"][-1]["nr"] == february["week_details"][0]["nr"] == 5


def test_user_report_hours_match_entries(company: FakeCompany) -> None:
    report = company.user_report(1003, 2025, 0)
    entries = company.entries_in(datetime(2025, 1, 1, tzinfo=UTC),
                                 datetime(2026, 1, 1, tzinfo=UTC))
    own = [e for e in entries if e["users_id"] == 1003 and e["type"] == 1
           and e["time_since"].startswith("2025")]
    assert report["sum_hours"] <= sum(e["duration"] for e in own)
    assert report["sum_hours"] > 0.9 * sum(e["duration"] for e in own)


# ---------------------------------------------------------------- mutations

def test_edit_entry_is_visible(mutable: tuple[FakeCompany, httpx.Client]) -> None:
    company, http = mutable
    old = company.all_entries()[10]
    edited = company.edit_entry(old["id"], text="Geändert ✨")
    fresh = http.get(f"/v2/entries/{old['id']}").json()["entry"]
    assert fresh == edited and fresh["text"] == "Geändert ✨"
    assert fresh["texts_id"] != old["texts_id"]
    assert fresh["time_last_change"] > old["time_last_change"]
    assert fresh["time_last_change"] == wire_dt(company.now)
    again = company.edit_entry(old["id"], billable=0)
    assert again["time_last_change"] > fresh["time_last_change"]


def test_edit_entry_times_moves_it(mutable: tuple[FakeCompany, httpx.Client]) -> None:
    company, http = mutable
    entry = next(e for e in company.all_entries() if e["type"] == 1 and e["time_until"])
    since = datetime(2020, 6, 1, 8, tzinfo=UTC)
    company.edit_entry(entry["id"], time_since=since, time_until=since + timedelta(hours=3))
    moved = entries_window(http, since, since + timedelta(days=1), enhanced_list=1)
    assert [e["id"] for e in moved] == [entry["id"]]
    assert moved[0]["duration"] == 3 * 3600
    assert moved[0]["revenue"] == round(3 * moved[0]["hourly_rate"], 2) or not moved[0]["billable"]


def test_delete_entry_is_visible(mutable: tuple[FakeCompany, httpx.Client]) -> None:
    company, http = mutable
    victim = company.all_entries()[5]
    company.delete_entry(victim["id"])
    assert http.get(f"/v2/entries/{victim['id']}").status_code == 404
    since = parse_dt(victim["time_since"])
    ids = {e["id"] for e in entries_window(http, since - timedelta(days=1), since + timedelta(1))}
    assert victim["id"] not in ids
    with pytest.raises(KeyError):
        company.edit_entry(victim["id"], text="x")


def test_add_entry_is_visible(mutable: tuple[FakeCompany, httpx.Client]) -> None:
    company, http = mutable
    before = max(e["id"] for e in company.all_entries())
    added = company.add_entry(text="Neu")
    assert added["id"] > before and added["type"] == 1 and added["duration"] == 7200
    since = parse_dt(added["time_since"])
    assert NOW - timedelta(days=7) < since < NOW
    window = entries_window(http, since, since + timedelta(hours=1), enhanced_list=1)
    assert added in window
    lumpsum = company.add_entry(type=3, lumpsum_services_amount=2.0)
    assert "duration" not in lumpsum and lumpsum["lumpsum_services_amount"] == 2.0
    moved = company.edit_entry(lumpsum["id"], time_since=datetime(2025, 1, 1, 12, tzinfo=UTC))
    assert moved["time_until"] == moved["time_since"] == "2025-01-01T12:00:00Z"


def test_stop_running_entry_is_visible(mutable: tuple[FakeCompany, httpx.Client]) -> None:
    company, http = mutable
    stopped = company.stop_running_entry()
    assert stopped["time_until"] == wire_dt(company.now) == stopped["time_last_change"]
    assert stopped["duration"] == (company.now - parse_dt(stopped["time_since"])).total_seconds()
    assert http.get(f"/v2/entries/{stopped['id']}").json()["entry"]["time_until"] is not None
    assert all(e["time_until"] for e in company.all_entries())
    with pytest.raises(LookupError):
        company.stop_running_entry()


def test_master_data_mutations_are_visible(mutable: tuple[FakeCompany, httpx.Client]) -> None:
    company, http = mutable
    customer = company.add_customer(name="Neu & Co. KG")
    listed = http.get("/v3/customers").json()["data"]
    assert customer in listed and customer["id"] > 3008
    project = company.deactivate_project(40001)
    assert http.get("/v4/projects/40001").json()["data"] == project
    assert project["active"] is False
    absence = company.absences[0]
    changed = company.edit_absence(absence["id"], status=2, date_until=date(2023, 12, 31))
    assert http.get(f"/v4/absences/{absence['id']}").json()["data"] == changed
    company.delete_absence(absence["id"])
    assert http.get(f"/v4/absences/{absence['id']}").status_code == 404


def test_work_times_follow_mutations(mutable: tuple[FakeCompany, httpx.Client]) -> None:
    company, http = mutable
    added = company.add_entry(users_id=1003, time_since=datetime(2025, 5, 5, 6, tzinfo=UTC),
                              time_until=datetime(2025, 5, 5, 6, 30, tzinfo=UTC))
    assert added["users_name"] == "Zoë Dubois"
    body = http.get("/v2/workTimes", params={"users_id": 1003, "date_since": "2025-05-05",
                                             "date_until": "2025-05-05"}).json()
    [day] = body["work_time_days"]
    assert day["intervals"][0]["time_since"] == "2025-05-05T06:00:00Z"


def test_reads_during_mutations(mutable: tuple[FakeCompany, httpx.Client]) -> None:
    company, http = mutable
    window = {"time_since": wire_dt(NOW - timedelta(days=10)), "time_until": wire_dt(NOW),
              "enhanced_list": "1"}

    def read(_: int) -> int:
        return http.get("/v2/entries", params=window).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = pool.map(read, range(40))
        for _ in range(20):
            added = company.add_entry()
            company.edit_entry(added["id"], text="parallel")
    assert set(statuses) == {200}
    assert sum(e["text"] == "parallel" for e in company.entries_in(NOW - timedelta(9), NOW)) == 20


# ------------------------------------------------------------ rate limiting

def test_budget_exceeded_answers_429_with_retry_after(server: FakeClockodoServer,
                                                      client: httpx.Client) -> None:
    server.limits = RateLimits(budgets=[(5, 0.5)], entries_enhanced=None)
    before = server.request_count("/v3/teams")
    statuses = [client.get("/v3/teams").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = client.get("/v3/teams")
    assert limited.headers["Retry-After"] == "1"
    assert server.budget_violations >= 2
    assert server.request_count("/v3/teams") == before + 7
    assert server.requests[-1].status == 429
    time.sleep(0.5)
    assert client.get("/v3/teams").status_code == 200


def test_enhanced_entries_have_their_own_budget(server: FakeClockodoServer,
                                                client: httpx.Client) -> None:
    server.limits = RateLimits(budgets=[], entries_enhanced=(2, 60.0))
    window = {"time_since": "2025-01-01T00:00:00Z", "time_until": "2025-01-02T00:00:00Z"}
    enhanced = [client.get("/v2/entries", params={**window, "enhanced_list": 1}).status_code
                for _ in range(3)]
    assert enhanced == [200, 200, 429]
    assert client.get("/v2/entries", params=window).status_code == 200
    limited = client.get("/v2/entries", params={**window, "enhanced_list": "true"})
    assert set(limited.json()["error"]) == {"code", "message", "fields"}
    assert int(limited.headers["Retry-After"]) > 50


# ------------------------------------------------------------------- faults

@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (0, "0"), (1, "1")])
def test_injected_429(server: FakeClockodoServer, client: httpx.Client, retry_after: int | None,
                      header: str | None) -> None:
    server.faults = Faults(rate_429=1.0, retry_after=(retry_after,))
    violations = server.budget_violations
    response = client.get("/v3/teams")
    assert response.status_code == 429
    assert response.headers.get("Retry-After") == header
    assert server.budget_violations == violations
    assert server.requests[-1].status == 429


@pytest.mark.parametrize(("faults", "status"), [(Faults(rate_500=1.0), 500),
                                               (Faults(rate_502=1.0), 502)])
def test_injected_html_errors(server: FakeClockodoServer, client: httpx.Client, faults: Faults,
                              status: int) -> None:
    server.faults = faults
    response = client.get("/v3/teams")
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html"
    assert response.text.startswith("<html><body><h1>")


def test_injected_drop(server: FakeClockodoServer, client: httpx.Client) -> None:
    server.faults = Faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/v3/teams")
    assert server.requests[-1].status == 0
    server.faults = Faults()
    assert client.get("/v3/teams").status_code == 200


def test_injected_latency(server: FakeClockodoServer, client: httpx.Client) -> None:
    server.faults = Faults(latency=0.2)
    started = time.monotonic()
    assert client.get("/v3/teams").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_faults_only_on_some_paths(server: FakeClockodoServer, client: httpx.Client) -> None:
    server.faults = Faults(rate_502=1.0, only_paths="/v2/entries")
    assert client.get("/v3/teams").status_code == 200
    window = {"time_since": "2025-01-01T00:00:00Z", "time_until": "2025-01-02T00:00:00Z"}
    assert client.get("/v2/entries", params=window).status_code == 502


def test_fault_fractions_are_seeded(server: FakeClockodoServer, client: httpx.Client) -> None:
    def run() -> list[int]:
        server.faults = Faults(rate_500=0.3, rate_502=0.3, seed=3)
        return [client.get("/v3/teams").status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert {200, 500, 502} <= set(first)


# -------------------------------------------------------------- transport

def test_keep_alive(server: FakeClockodoServer) -> None:
    host, port = server.url.removeprefix("http://").removesuffix("/api").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        for _ in range(3):
            connection.request("GET", "/api/v3/teams", headers=HEADERS)
            response = connection.getresponse()
            response.read()
            assert response.status == 200 and not response.will_close
        assert connection.sock is not None
    finally:
        connection.close()


def test_command_line_server() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "clockodo_source.fake", "--entries", "50", "--port", "0",
         "--seed", "3"], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1],
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api")
        response = httpx.get(f"{url}/v3/users", headers=HEADERS)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
