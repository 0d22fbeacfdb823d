"""What the analytics models must hold, computed in plain Python from the fake company itself.

Nothing here reads the destination or reuses the model SQL: entries come from
``company.all_entries()``, targets and worked hours from the user reports' *day* details (so
the month and ISO-week grouping is checked, not copied), absences, quotas and carries from the
company's own lists.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from clockodo_source.fake.company import FakeCompany

Key = tuple[Any, ...]
Rows = dict[Key, dict[str, Any]]
FORECAST_DAYS = 28


def parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _month(day: date) -> date:
    return day.replace(day=1)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class RunEntry:
    """One entry as the models see it at ``now``."""

    id: int
    type: int
    customers_id: int
    projects_id: int | None
    users_id: int
    billable: int
    day: date
    hours: float | None
    value: float | None


def run_entries(company: FakeCompany, zone: tzinfo = UTC) -> list[RunEntry]:
    """Entries started by ``now``; the running one measured up to ``now``; each on its day in
    the calendar of ``zone``."""
    now = company.now
    result = []
    for wire in company.all_entries():
        since = parse_dt(wire["time_since"])
        if since > now:
            continue
        hours = None
        if wire["type"] == 1:
            seconds = ((now - since).total_seconds() if wire["time_until"] is None
                       else wire["duration"])
            hours = seconds / 3600
        result.append(RunEntry(
            id=wire["id"], type=wire["type"], customers_id=wire["customers_id"],
            projects_id=wire["projects_id"], users_id=wire["users_id"],
            billable=wire["billable"], day=since.astimezone(zone).date(), hours=hours,
            value=entry_value(wire, hours),
        ))
    return result


def entry_value(wire: dict[str, Any], hours: float | None) -> float | None:
    if wire.get("revenue") is not None:
        return float(wire["revenue"])
    if wire["type"] == 1:
        rate = wire.get("hourly_rate")
        return None if rate is None or hours is None else rate * hours
    if wire["type"] == 2:
        return float(wire["lumpsum"])
    price = wire.get("lumpsum_services_price")
    return None if price is None else wire["lumpsum_services_amount"] * price


def unbilled_time(entries: Iterable[RunEntry]) -> Rows:
    rows: Rows = {}
    for entry in entries:
        if entry.billable != 1:
            continue
        key = (entry.customers_id, entry.projects_id, entry.users_id, _month(entry.day))
        row = rows.setdefault(key, {"unbilled_hours": 0.0, "unbilled_value": 0.0, "entries": 0,
                                    "oldest_unbilled_date": entry.day})
        row["unbilled_hours"] += entry.hours or 0.0
        row["unbilled_value"] += entry.value or 0.0
        row["entries"] += 1
        row["oldest_unbilled_date"] = min(row["oldest_unbilled_date"], entry.day)
    return rows


def report_days(company: FakeCompany, years: Iterable[int]) -> list[dict[str, Any]]:
    """Every day of every loaded user report, with its user: ``users_id, date, target, hours``."""
    days = []
    for year in years:
        for report in company.user_reports(year, 3):
            for month in report["month_details"]:
                for week in month["week_details"]:
                    for day in week["day_details"]:
                        days.append({"users_id": report["users_id"],
                                     "date": date.fromisoformat(day["date"]),
                                     "target": day["target"], "hours": day.get("hours", 0)})
    return days


def utilization(company: FakeCompany, entries: Iterable[RunEntry], years: Iterable[int]) -> Rows:
    sums: dict[Key, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for entry in entries:
        if entry.type != 1 or entry.hours is None:
            continue
        for period, start in (("month", _month(entry.day)), ("week", _monday(entry.day))):
            total = sums[(entry.users_id, period, start)]
            total[0] += entry.hours
            total[1] += entry.hours if entry.billable in (1, 2) else 0.0
    for day in report_days(company, years):
        for period, start in (("month", _month(day["date"])), ("week", _monday(day["date"]))):
            sums[(day["users_id"], period, start)][2] += day["target"] / 3600
    teams = {user["id"]: user["teams_id"] for user in company.users}
    rows: Rows = {}
    for key, (worked, billable, target) in sums.items():
        if worked > 0 or target > 0:
            rows[key] = {
                "teams_id": teams.get(key[0]), "worked_hours": worked,
                "billable_hours": billable, "target_hours": target,
                "utilization_pct": 100 * billable / target if target else None,
            }
    return rows


def interval_start(interval: int | None, today: date) -> date | None:
    """Clockodo budget intervals: 0 weekly, 1 monthly, 2 quarterly, 3 yearly, None whole project."""
    if interval is None:
        return None
    return {
        0: _monday(today),
        1: today.replace(day=1),
        2: date(today.year, (today.month - 1) // 3 * 3 + 1, 1),
        3: date(today.year, 1, 1),
    }[interval]


def project_budgets(company: FakeCompany, entries: list[RunEntry]) -> Rows:
    today = company.now.date()
    window = today - timedelta(days=FORECAST_DAYS - 1)
    rows: Rows = {}
    for project in company.projects:
        budget = project["budget"]
        if not budget or budget.get("amount") is None:
            continue
        start = interval_start(budget["interval"], today)
        used = recent = 0.0
        for entry in entries:
            if entry.projects_id != project["id"]:
                continue
            amount = (entry.value if budget["monetary"] else entry.hours) or 0.0
            if start is None or entry.day >= start:
                used += amount
            if entry.day >= window:
                recent += amount
        remaining = budget["amount"] - used
        daily = recent / FORECAST_DAYS
        rows[(project["id"],)] = {
            "customers_id": project["customers_id"],
            "budget_kind": "money" if budget["monetary"] else "hours",
            "budget": budget["amount"], "used": used, "remaining": remaining,
            "used_pct": 100 * used / budget["amount"] if budget["amount"] else None,
            "days_left": remaining / daily if daily > 0 and remaining > 0 else None,
        }
    return rows


def runout(today: date, days_left: float | None) -> set[date | None]:
    """Acceptable run-out dates: ``today + floor(days_left)``; both neighbours of an exact
    whole number, where float sums in another order may land either side."""
    if days_left is None:
        return {None}
    dates: set[date | None] = {today + timedelta(days=math.floor(days_left))}
    if abs(days_left - round(days_left)) < 1e-6:
        dates |= {today + timedelta(days=round(days_left) - 1),
                  today + timedelta(days=round(days_left))}
    return dates


def overtime_balance(company: FakeCompany, years: Iterable[int]) -> Rows:
    """Target and worked hours from the day details; carry from the carries list; reduction
    from approved hour absences up to today; balance = past (worked - target) + carry - used."""
    today = company.now.date()
    rows: Rows = {}
    days_by_key: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    years = list(years)
    for day in report_days(company, years):
        days_by_key[(day["users_id"], day["date"].year)].append(day)
    for user in company.users:
        for year in years:
            days = days_by_key[(user["id"], year)]
            carry = sum(c["hours"] for c in company.overtime_carries
                        if c["users_id"] == user["id"] and c["year"] == year)
            reduced = sum(a["count_hours"] for a in company.absences
                          if a["users_id"] == user["id"] and a["type"] == 3 and a["status"] == 1
                          and date.fromisoformat(a["date_since"]).year == year
                          and date.fromisoformat(a["date_since"]) <= today)
            past = sum(d["hours"] - d["target"] for d in days if d["date"] <= today) / 3600
            rows[(user["id"], year)] = {
                "target_hours": sum(d["target"] for d in days) / 3600,
                "worked_hours": sum(d["hours"] for d in days) / 3600,
                "overtime_carryover_hours": carry, "overtime_reduced_hours": reduced,
                "balance_hours": past + carry - reduced,
            }
    return rows


def absence_summary(company: FakeCompany, years: Iterable[int]) -> Rows:
    loaded = set(years)
    rows: Rows = {}
    for absence in company.absences:
        year = date.fromisoformat(absence["date_since"]).year
        if year not in loaded:
            continue
        key = (absence["users_id"], year, absence["type"])
        row = rows.setdefault(key, {"days": 0.0, "approved_days": 0.0})
        if absence["status"] in (0, 1):
            row["days"] += absence["count_days"]
        if absence["status"] == 1:
            row["approved_days"] += absence["count_days"]
    for (users_id, year, type_), row in rows.items():
        holiday = type_ == 1
        quota = sum(q["count"] for q in company.holidays_quotas
                    if q["users_id"] == users_id and q["year_since"] <= year
                    and (q["year_until"] is None or q["year_until"] >= year))
        carry = sum(c["count"] for c in company.holidays_carries
                    if c["users_id"] == users_id and c["year"] == year)
        row["holidays_quota"] = quota if holiday else None
        row["holidays_carry"] = carry if holiday else None
        row["holidays_left"] = quota + carry - row["approved_days"] if holiday else None
    return rows
