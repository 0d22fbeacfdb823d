"""Work times and user reports, derived from the entries, target hours and absences.

An entry counts for the UTC day its ``time_since`` falls on. A day's worked time is the union of
its time entries (overlaps are not counted twice), so ``hours`` and the work-time intervals agree.
All report times are integer seconds, and every level is the exact sum of the level below it.
Counts of days are 0, 0.5 or 1 a day, sent without a fraction where they are whole (``2``, not
``2.0``): a year's sum turns fractional with its first half day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise

from .wire import DAY, Wire, day_of, days_between, fmt_date, fmt_ts, fmt_ts_opt, parse_wire_date

WORK_TIMES_START = date(2023, 8, 21)
"""Clockodo has work-time data only from this day on."""

ABSENCE_KEYS = {
    1: "regular_holidays", 2: "special_leaves", 4: "sick_self", 5: "sick_child", 6: "school",
    7: "maternity_protection", 8: "home_office", 9: "out_of_office", 10: "special_leaves",
    11: "sick_self", 12: "sick_child", 13: "quarantine", 14: "military_service", 15: "sick_self",
}
_ABSENCE_FIELDS = sorted(set(ABSENCE_KEYS.values()))
_WORKING_ABSENCES = {"home_office", "out_of_office"}
_SURCHARGE_FIELDS = ["saturday", "sunday", "nonbusiness", "nonbusiness_special", "night",
                     "night_increased"]
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@dataclass
class DayWork:
    """One user's worked time on one day."""

    intervals: list[tuple[int, int | None]] = field(default_factory=list)
    seconds: int = 0
    night: int = 0
    night_increased: int = 0


def daily_work(
    spans: Iterable[tuple[int, int, int | None]], now: int
) -> dict[tuple[int, date], DayWork]:
    """Group ``(users_id, since, until-or-None)`` time entries into merged per-day intervals."""
    grouped: dict[tuple[int, date], list[tuple[int, int | None]]] = {}
    for users_id, since, until in spans:
        grouped.setdefault((users_id, day_of(since)), []).append((since, until))
    return {key: _merge(sorted(parts, key=lambda part: part[0]), now)
            for key, parts in grouped.items()}


def _merge(parts: list[tuple[int, int | None]], now: int) -> DayWork:
    work = DayWork()
    for since, until in parts:
        last = work.intervals[-1] if work.intervals else None
        if last is not None and (last[1] is None or since <= last[1]):
            end = None if last[1] is None or until is None else max(last[1], until)
            work.intervals[-1] = (last[0], end)
        else:
            work.intervals.append((since, until))
    for since, until in work.intervals:
        end = now if until is None else until
        work.seconds += max(0, end - since)
        work.night += _night_overlap(since, end, 22 * 3600, 30 * 3600)
        work.night_increased += _night_overlap(since, end, 0, 4 * 3600)
    return work


def _night_overlap(since: int, end: int, window_start: int, window_end: int) -> int:
    """Seconds of ``[since, end)`` inside the daily window ``[window_start, window_end)``."""
    total = 0
    for day_number in range(since // DAY - 1, end // DAY + 1):
        low = max(since, day_number * DAY + window_start)
        high = min(end, day_number * DAY + window_end)
        total += max(0, high - low)
    return total


def work_time_days(
    days: dict[tuple[int, date], DayWork], users_id: int, first: date, last: date
) -> list[Wire]:
    """Rows of ``/v2/workTimes`` for one user; days without time entries are not listed."""
    rows = []
    for day in days_between(max(first, WORK_TIMES_START), last):
        work = days.get((users_id, day))
        if work is not None:
            rows.append({
                "date": fmt_date(day), "users_id": users_id,
                "intervals": [{"time_since": fmt_ts(since), "time_until": fmt_ts_opt(until)}
                              for since, until in work.intervals],
            })
    return rows


@dataclass
class ReportInput:
    """Everything one user's report for one year is computed from."""

    user: Wire
    year: int
    today: date
    target_rows: list[Wire]
    nonbusiness: dict[date, Wire]
    absences: list[Wire]
    work: dict[tuple[int, date], DayWork]
    holidays_quota: float
    holidays_carry: float
    overtime_carry_hours: float


def user_report(source: ReportInput, type_: int) -> Wire:
    """One ``/userreports`` row; ``type_`` 1..4 adds months, weeks, days, breaks."""
    days = _DayCalculator(source).all_days()
    months = [_month(number, [d for d in days if d.day.month == number], type_)
              for number in range(1, 13)]
    used = sum(month["sum_reduction_used"] for month in months)
    carry = round(source.overtime_carry_hours * 3600)
    user = source.user
    report: Wire = {
        "users_id": user["id"], "users_name": user["name"], "users_number": user["number"],
        "users_email": user["email"],
        "sum_target": sum(month["sum_target"] for month in months),
        "sum_hours": sum(month["sum_hours"] for month in months),
        "sum_reduction_used": used,
        "sum_reduction_planned": sum(d.reduction for d in days if d.day > source.today),
        "overtime_carryover": carry, "overtime_reduced": used,
        "diff": sum(month["diff"] for month in months) + carry - used,
        "holidays_quota": source.holidays_quota, "holidays_carry": source.holidays_carry,
        "workdays": sum(d.workday for d in days),
        "sum_absence": {key: sum(d.absence[key] for d in days) for key in _ABSENCE_FIELDS},
        "surcharges": _sum_surcharges(month["surcharges"] for month in months),
    }
    if type_ >= 1:
        report["month_details"] = months
    return report


@dataclass
class _Day:
    day: date
    target: int
    target_raw: int
    nonbusiness: float  # 0, 0.5 or 1 (ints where whole, as are the other counts of days)
    workday: float
    absence: dict[str, float]
    reduction: int
    past: bool
    work: DayWork | None
    surcharges: dict[str, int]

    @property
    def hours(self) -> int:
        return self.work.seconds if self.past and self.work else 0

    @property
    def diff(self) -> int:
        return self.hours - self.target if self.past else 0

    def to_wire(self, type_: int) -> Wire:
        row: Wire = {
            "date": fmt_date(self.day), "weekday": self.day.isoweekday(),
            "nonbusiness": self.nonbusiness > 0, "count_absence": dict(self.absence),
            "target": self.target, "target_raw": self.target_raw, "surcharges": self.surcharges,
        }
        if self.past:
            row.update({"count_reduction_used": self.reduction, "hours": self.hours,
                        "hours_without_compensation": self.hours, "diff": self.diff})
        if type_ >= 4:
            row.update(_breaks_and_bounds(self.work))
        return row


def _breaks_and_bounds(work: DayWork | None) -> Wire:
    """Type-4 extras: gaps between intervals are breaks; first start and last end."""
    intervals = work.intervals if work else []
    breaks = [
        {"since": fmt_ts(end), "until": fmt_ts(nxt), "length": nxt - end}
        for (_, end), (nxt, _) in pairwise(intervals) if end is not None
    ]
    return {
        "breaks": breaks,
        "work_start": fmt_ts(intervals[0][0]) if intervals else None,
        "work_end": fmt_ts_opt(intervals[-1][1]) if intervals else None,
    }


class _DayCalculator:
    """Per-day target, absence and surcharge figures of one user-year."""

    def __init__(self, source: ReportInput) -> None:
        self.source = source
        self.absence_days = self._absence_days()

    def all_days(self) -> list[_Day]:
        year = self.source.year
        return [self._day(day) for day in days_between(date(year, 1, 1), date(year, 12, 31))]

    def _absence_days(self) -> dict[date, list[Wire]]:
        by_day: dict[date, list[Wire]] = {}
        for absence in self.source.absences:
            if absence["status"] != 1:
                continue
            since = parse_wire_date(absence["date_since"])
            until = parse_wire_date(absence["date_until"])
            for day in days_between(since, until):
                by_day.setdefault(day, []).append(absence)
        return by_day

    def _day(self, day: date) -> _Day:
        source = self.source
        raw = _target_raw(source.target_rows, day)
        holiday = source.nonbusiness.get(day)
        nonbusiness = 0 if holiday is None else (0.5 if holiday["half_day"] else 1)
        available = (1 - nonbusiness) if raw else 0
        absence: dict[str, float] = dict.fromkeys(_ABSENCE_FIELDS, 0)
        reduction = 0
        for row in self.absence_days.get(day, []):
            if row["type"] == 3:
                reduction += round((row.get("count_hours") or 0) * 3600)
            else:
                share = 0.5 if row["count_days"] == 0.5 else 1
                absence[ABSENCE_KEYS[row["type"]]] = min(available, share)
        off = sum(value for key, value in absence.items() if key not in _WORKING_ABSENCES)
        past = day <= source.today
        work = source.work.get((source.user["id"], day))
        worked = work.seconds if past and work else 0
        return _Day(
            day=day, target=round(raw * max(0.0, 1.0 - nonbusiness - off)), target_raw=raw,
            nonbusiness=nonbusiness, workday=available, absence=absence, reduction=reduction,
            past=past, work=work,
            surcharges=_day_surcharges(day, holiday, worked, work if past else None),
        )


def _target_raw(rows: list[Wire], day: date) -> int:
    """Target seconds of a day from the target-hours row valid on it."""
    text = fmt_date(day)
    for row in rows:
        if row["date_since"] <= text and (row["date_until"] is None or text <= row["date_until"]):
            weekday = _WEEKDAYS[day.weekday()]
            if row["type"] == "weekly":
                return round(row[weekday] * 3600)
            return round(_monthly_share(row, day) * 3600) if row[f"workday_{weekday}"] else 0
    return 0


def _monthly_share(row: Wire, day: date) -> float:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    workdays = sum(1 for d in days_between(first, following - timedelta(days=1))
                   if row[f"workday_{_WEEKDAYS[d.weekday()]}"])
    return float(row["monthly_target"]) / workdays


def _day_surcharges(
    day: date, holiday: Wire | None, worked: int, work: DayWork | None
) -> dict[str, int]:
    special = bool(holiday and holiday["surcharge_special"])
    return {
        "saturday": worked if day.weekday() == 5 else 0,
        "sunday": worked if day.weekday() == 6 else 0,
        "nonbusiness": worked if holiday is not None and not special else 0,
        "nonbusiness_special": worked if special else 0,
        "night": work.night if work else 0,
        "night_increased": work.night_increased if work else 0,
    }


def _sum_surcharges(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(_SURCHARGE_FIELDS, 0)
    for part in parts:
        for key in _SURCHARGE_FIELDS:
            total[key] += part[key]
    return total


def _week(days: list[_Day], type_: int) -> Wire:
    week: Wire = {
        "nr": days[0].day.isocalendar().week,
        "sum_target": sum(d.target for d in days),
        "sum_hours": sum(d.hours for d in days),
        "sum_reduction_used": sum(d.reduction for d in days if d.past),
        "diff": sum(d.diff for d in days),
        "surcharges": _sum_surcharges(d.surcharges for d in days),
    }
    if type_ >= 3:
        week["day_details"] = [d.to_wire(type_) for d in days]
    return week


def _month(number: int, days: list[_Day], type_: int) -> Wire:
    """A month; an ISO week spanning two months appears in both with its own days."""
    weeks: dict[int, list[_Day]] = {}
    for day in days:
        weeks.setdefault(day.day.isocalendar().week, []).append(day)
    week_rows = [_week(part, type_) for part in weeks.values()]
    hours = sum(week["sum_hours"] for week in week_rows)
    used = sum(week["sum_reduction_used"] for week in week_rows)
    month: Wire = {
        "nr": number, "sum_target": sum(week["sum_target"] for week in week_rows),
        "sum_hours": hours, "sum_hours_without_compensation": hours, "sum_reduction_used": used,
        "sum_overtime_reduced": used, "diff": sum(week["diff"] for week in week_rows),
        "surcharges": _sum_surcharges(week["surcharges"] for week in week_rows),
    }
    if type_ >= 2:
        month["week_details"] = week_rows
    return month
