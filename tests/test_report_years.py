"""`report absences`, `report overtime --year` and the HTML page's time, as a user runs them:
real subprocesses over a DuckDB file loaded from the fake API by `clockodo-pipeline run`,
checked against the fake company's own absences, quotas, carries and user reports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clockodo_source.analytics.catalog import ABSENCE_TYPES, REPORTS
from clockodo_source.analytics.filters import check_applicable, parse_filters
from clockodo_source.fake.company import FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests import analytics_expected as expected
from tests.expected import first_entry_day
from tests.helpers import fake_api_env
from tests.test_cli import cli


@pytest.fixture(scope="module")
def loaded_dir(api: FakeClockodoServer, company: FakeCompany,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A working directory holding `run`'s DuckDB file, and the environment that loaded it."""
    base = tmp_path_factory.mktemp("report_years")
    env = fake_api_env(api.url, DLT_DATA_DIR=str(base / "dlt"))
    result = cli("run", "--start-date", first_entry_day(company).isoformat(), cwd=base, env=env)
    assert result.returncode == 0, result.stderr
    yield base, env


def _years(company: FakeCompany) -> range:
    return range(first_entry_day(company).year, company.now.year + 1)


def _report(loaded_dir: tuple[Path, dict[str, str]], *args: str) -> list[dict[str, Any]]:
    base, env = loaded_dir
    result = cli("report", *args, "--format", "json", cwd=base, env=env)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["rows"]
    return rows


def _close(row: dict[str, Any], wanted: dict[str, Any]) -> None:
    for column, value in wanted.items():
        if value is None:
            assert row[column] is None, column
        else:
            assert row[column] == pytest.approx(value, abs=0.006), column  # rounded to 0.01


def test_report_absences_per_user_type_and_year(loaded_dir: tuple[Path, dict[str, str]],
                                                company: FakeCompany) -> None:
    wanted = expected.absence_summary(company, _years(company))
    rows = _report(loaded_dir, "absences")
    assert {(r["users_id"], r["year"], r["type"]) for r in rows} == set(wanted)
    names = {user["id"]: user["name"] for user in company.users}
    for row in rows:
        _close(row, wanted[(row["users_id"], row["year"], row["type"])])
        assert row["user"] == names[row["users_id"]]
        assert row["absence_type"] == ABSENCE_TYPES[row["type"]]
    assert [r["year"] for r in rows] == sorted((r["year"] for r in rows), reverse=True)
    assert any(r["absence_type"] == "holiday" and r["holidays_left"] is not None for r in rows)

    year = company.now.year - 1
    base, env = loaded_dir
    table = cli("report", "absences", "--year", str(year), cwd=base, env=env)
    assert table.returncode == 0, table.stderr
    in_year = sum(1 for key in wanted if key[1] == year)
    assert table.stdout.startswith(f"Absences (filters: year {year}; {in_year} rows)")
    assert "holiday" in table.stdout


def test_report_overtime_of_one_year(loaded_dir: tuple[Path, dict[str, str]],
                                     company: FakeCompany) -> None:
    year = company.now.year - 1
    wanted = {key: row for key, row in expected.overtime_balance(company, _years(company)).items()
              if key[1] == year}
    rows = _report(loaded_dir, "overtime", "--year", str(year))
    assert {(r["users_id"], r["year"]) for r in rows} == set(wanted)
    for row in rows:
        _close(row, wanted[(row["users_id"], row["year"])])


def test_a_bad_year_is_one_line(loaded_dir: tuple[Path, dict[str, str]]) -> None:
    base, env = loaded_dir
    result = cli("report", "overtime", "--year", "26", cwd=base, env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == ("clockodo-pipeline: error: year must be YYYY, for example "
                                     "2026 (got '26')")


def test_only_yearly_reports_take_a_year() -> None:
    yearly = {name for name, report in REPORTS.items() if "year" in report.filters}
    assert yearly == {"overtime", "absences"}
    with pytest.raises(ValueError, match="the unbilled report cannot be filtered by year"):
        check_applicable("unbilled", parse_filters(year=2025), REPORTS["unbilled"].filters)


def test_html_page_says_when_it_was_generated(loaded_dir: tuple[Path, dict[str, str]]) -> None:
    base, env = loaded_dir
    before = datetime.now(ZoneInfo("Europe/Berlin")).replace(second=0, microsecond=0)
    result = cli("report", "overtime", "--format", "html", "--output", "page.html", cwd=base,
                 env={**env, "SOURCES__CLOCKODO__TIMEZONE": "Europe/Berlin"})
    assert result.returncode == 0, result.stderr
    (stamp,) = re.findall(r"generated (\d{4}-\d\d-\d\d \d\d:\d\d) Europe/Berlin",
                          (base / "page.html").read_text())
    generated = datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=before.tzinfo)
    assert before <= generated <= before + timedelta(minutes=5)
