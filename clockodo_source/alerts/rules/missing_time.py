"""``missing_time``: a user who booked no time on a past workday of the last ``missing_days``
days.

A workday of a user is a day (in the calendar of the ``timezone`` option, today left out)
with target hours by the target-hours row in force (weekly rows: that weekday's hours;
monthly rows: a workday of the row with a monthly target), that is not a non-business day of
the user's non-business group and not covered by an approved absence. "No time" means no time
entry starting that day. Users that are not active are left out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from clockodo_source.alerts.alert import WARNING, Alert
from clockodo_source.alerts.rules.context import Rule, RuleContext
from clockodo_source.calendar import local_range

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
INPUTS = {
    "users": ("id", "active", "nonbusiness_groups_id"),
    "target_hours": ("users_id", "type", "date_since", "date_until", "monthly_target",
                     *WEEKDAYS, *(f"workday_{weekday}" for weekday in WEEKDAYS)),
    "entries": ("users_id", "type", "time_since"),
    "non_business_days": ("nonbusiness_group_id", "evaluated_date"),
    "absences": ("users_id", "date_since", "date_until", "status"),
}
TIME_ENTRY = 1
APPROVED = 1


def find(ctx: RuleContext) -> list[Alert]:
    window = int(ctx.thresholds.missing_days)
    days = [ctx.today - timedelta(days=back) for back in range(1, window + 1)]
    if not days:
        return []
    workdays = "\n    UNION ALL\n".join(_with_target(ctx, day) for day in days)
    rows = ctx.rows(f"""WITH workdays AS (
    {workdays}
)
SELECT w.users_id, w.day
FROM workdays AS w
JOIN {ctx.table("users")} AS u ON u.id = w.users_id
WHERE COALESCE(u.active, TRUE)
  AND NOT EXISTS (
    SELECT 1 FROM {ctx.table("non_business_days")} AS n
    WHERE n.nonbusiness_group_id = u.nonbusiness_groups_id AND n.evaluated_date = w.day)
  AND NOT EXISTS (
    SELECT 1 FROM {ctx.table("absences")} AS a
    WHERE a.users_id = w.users_id AND a.status = {APPROVED}
      AND a.date_since <= w.day AND a.date_until >= w.day)
  AND NOT EXISTS (
    SELECT 1 FROM {ctx.table("entries")} AS e
    WHERE e.users_id = w.users_id AND e.type = {TIME_ENTRY}
      AND e.time_since >= w.day_since AND e.time_since < w.day_until)""")
    missing: dict[int, list[date]] = defaultdict(list)
    for users_id, day in rows:
        missing[int(users_id)].append(day)
    return [_alert(ctx, users_id, sorted(set(found)), window)
            for users_id, found in missing.items()]


def _with_target(ctx: RuleContext, day: date) -> str:
    """Users with target hours on ``day``, with the day's bounds as UTC instants."""
    weekday = WEEKDAYS[day.weekday()]
    since, until = local_range(day, day + timedelta(days=1), ctx.zone)
    literal = ctx.dialect.date(day)
    return f"""SELECT t.users_id, {literal} AS day, {ctx.dialect.timestamp(since)} AS day_since,
           {ctx.dialect.timestamp(until)} AS day_until
    FROM {ctx.table("target_hours")} AS t
    WHERE t.date_since <= {literal} AND (t.date_until IS NULL OR t.date_until >= {literal})
      AND CASE WHEN t.type = 'monthly'
               THEN COALESCE(t.workday_{weekday}, FALSE) AND COALESCE(t.monthly_target, 0) > 0
               ELSE COALESCE(t.{weekday}, 0) > 0 END"""


def _alert(ctx: RuleContext, users_id: int, days: list[date], window: int) -> Alert:
    listed = ", ".join(f"{day:%a} {day.isoformat()}" for day in days)
    plural = "s" if len(days) > 1 else ""
    return Alert(
        rule="missing_time",
        severity=WARNING,
        key=f"missing_time:{users_id}",
        subject=ctx.name("users", users_id, "user"),
        message=f"no time booked on {len(days)} workday{plural} of the last {window} days: "
                f"{listed}",
        value=float(len(days)),
        threshold=float(window),
    )


RULE = Rule("missing_time", INPUTS, find)
