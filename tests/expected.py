"""What the destination must hold after a full scan: computed from the fake company's own data
(never from our loader's output), keyed like the public interface's primary keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from clockodo_source.fake.company import FakeCompany

WORK_TIMES_START = date(2023, 8, 21)


def _day(value: str) -> date:
    return date.fromisoformat(value[:10])


def expected_keys(company: FakeCompany, start: date, future_days: int = 366) -> dict[str, set[Any]]:
    """Primary-key sets per table for a full scan from `start` at the company's `now`."""
    now = company.now
    until = now + timedelta(days=future_days)
    start_at = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    years = range(start.year, now.year + 2)
    entries = {
        (row["id"],) for row in company.all_entries()
        if start_at <= datetime.fromisoformat(row["time_since"]) < until
    }
    work_days = set()
    for user in company.users:
        for day in company.work_time_days(user["id"], max(start, WORK_TIMES_START), now.date()):
            work_days.add((user["id"], _day(day["date"])))
    absences = {
        (row["id"],) for row in company.absences if _day(row["date_since"]).year in years
    }
    # the days of every group, not only of the company default (what the API answers unasked)
    groups = {group["id"] for group in company.nonbusiness_groups}
    nonbusiness = {
        (row["id"], _day(row["evaluated_date"]))
        for year in years for row in company.nonbusiness_days(year, groups)
    }
    reports = {(row["users_id"], year) for year in years for row in company.user_reports(year)}
    projects = company.projects
    return {
        "entries": entries,
        "projects": {(row["id"],) for row in projects},
        "customers": {(row["id"],) for row in company.customers},
        "users": {(row["id"],) for row in company.users},
        "teams": {(row["id"],) for row in company.teams},
        "services": {(row["id"],) for row in company.services},
        "absences": absences,
        "work_times": work_days,
        "target_hours": {(row["id"],) for row in company.target_hours},
        "overtime_carries": {(row["id"],) for row in company.overtime_carries},
        "holidays_quota": {(row["id"],) for row in company.holidays_quotas},
        "holidays_carries": {(row["id"],) for row in company.holidays_carries},
        "non_business_days": nonbusiness,
        "lumpsum_services": {(row["id"],) for row in company.lumpsum_services},
        "surcharges": {(row["id"],) for row in company.surcharge_models},
        "user_reports": reports,
        "customers_projects": {(row["customers_id"], row["id"]) for row in projects},
    }


def first_entry_day(company: FakeCompany) -> date:
    return min(_day(row["time_since"]) for row in company.all_entries())
