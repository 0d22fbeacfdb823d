"""Synthetic master data of the sample company (users, customers, projects, absences, ...).

Everything is a wire dict shaped like the current API's answer; the generator only needs a seeded
RNG, the first and last day of the data and "today", so the same inputs give the same company.
Counts of days are sent as JSON numbers come: whole ones without a fraction (`2`, a half day
`0.5`), so a loader that types a column by the first values it sees gets it wrong.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from .nonbusiness import GROUP_FRANCE, GROUP_GERMANY, nonbusiness_groups
from .wire import Wire, day_start, fmt_date, fmt_ts

USER_ID_BASE = 1001
TEAM_ID_BASE = 201
CUSTOMER_ID_BASE = 3001
PROJECT_ID_BASE = 40001
SERVICE_ID_BASE = 501
LUMPSUM_SERVICE_ID_BASE = 601
SURCHARGE_MODEL_ID_BASE = 71
TARGET_HOURS_ID_BASE = 8001
OVERTIME_CARRY_ID_BASE = 9001
HOLIDAYS_QUOTA_ID_BASE = 10001
HOLIDAYS_CARRY_ID_BASE = 11001
ABSENCE_ID_BASE = 120001

_USERS = [
    ("Anna Schäfer", "demo@example.com", "de", "Europe/Berlin"),
    ("Jürgen Müller", "juergen.mueller@example.com", "de", "Europe/Berlin"),
    ("Zoë Dubois", "zoe.dubois@example.com", "fr", "Europe/Paris"),
    ("Ana María García", "ana.garcia@example.com", "en", "Europe/Madrid"),
    ("Siobhán O'Neill", "siobhan.oneill@example.com", "en", "Europe/Dublin"),
    ("Łukasz Nowak", "lukasz.nowak@example.com", "de", "Europe/Warsaw"),
    ("Björn Åström", "bjorn.astrom@example.com", "de", "Europe/Stockholm"),
    ("Kenji Tanaka", "kenji.tanaka@example.com", "en", "Asia/Tokyo"),
]
_TEAMS = ["Entwicklung", "Beratung & Design", "Support 🎧"]
_CUSTOMERS = [
    "Müller & Söhne GmbH",
    "Café Lumière SARL",
    'Acme "Rocket" Corp.',
    "Nordlicht AG",
    "Örebro Logistik AB",
    "Smith's Bakery Ltd",
    "Intern / Internal",
    "Zeta Ventures 🚀",
]
_PROJECT_WORDS = [
    "Website-Relaunch", "ERP-Migration", "Wartung 2024", "App « Mobile »", "Data Warehouse",
    "Schulungen", "Support-Pauschale", "Logo & CI", "Shop-Integration", "Security-Audit",
]
_SERVICES = [
    "Entwicklung", "Beratung", "Projektmanagement", "Design", "Support", "Reisezeit",
    "Schulung", "Legacy-Wartung",
]
_LUMPSUM_SERVICES = [
    ("Kilometerpauschale", 0.3, "km"),
    ("Hosting (Monat)", 49.0, "Monat"),
    ("Lizenz", 199.0, "Stk"),
    ("Übernachtung", 120.0, "Nacht"),
    ("Altes Paket", 10.0, None),
]
HOURLY_RATES = [95.0, 110.0, 120.5, 85.0, 135.0, 72.0, 99.9, 150.0]


@dataclass
class MasterData:
    """The generated master data plus the facts the entry generator needs about it."""

    users: list[Wire] = field(default_factory=list)
    teams: list[Wire] = field(default_factory=list)
    customers: list[Wire] = field(default_factory=list)
    projects: list[Wire] = field(default_factory=list)
    services: list[Wire] = field(default_factory=list)
    lumpsum_services: list[Wire] = field(default_factory=list)
    surcharge_models: list[Wire] = field(default_factory=list)
    target_hours: list[Wire] = field(default_factory=list)
    overtime_carries: list[Wire] = field(default_factory=list)
    holidays_quotas: list[Wire] = field(default_factory=list)
    holidays_carries: list[Wire] = field(default_factory=list)
    absences: list[Wire] = field(default_factory=list)
    nonbusiness_groups: list[Wire] = field(default_factory=list)
    employment: dict[int, tuple[date, date]] = field(default_factory=dict)
    """users_id -> (first, last) day the user books time."""
    usable_until: dict[int, date] = field(default_factory=dict)
    """project/service id -> last day entries may reference it (absent = forever)."""


@dataclass(frozen=True)
class Span:
    """The generator's time frame: first data day, today and the last planned day."""

    first: date
    today: date
    last: date


def generate_master_data(rng: random.Random, span: Span, counts: dict[str, int]) -> MasterData:
    """Build every master-data list; ``counts`` holds ``users``, ``customers`` and ``projects``."""
    data = MasterData()
    _add_users_and_teams(data, span, counts["users"])
    _add_customers(data, rng, span, counts["customers"])
    _add_projects(data, rng, span, counts["projects"])
    _add_services(data, span)
    data.surcharge_models = _surcharge_models()
    _add_target_hours(data, span)
    _add_carries_and_quotas(data, rng, span)
    data.absences = _absences(data, rng, span)
    data.nonbusiness_groups = nonbusiness_groups()
    return data


def _inactive_index(count: int) -> int:
    """The seventh user (the last one in smaller companies) has left the company."""
    return min(6, count - 1) if count >= 2 else -1


def _user_identity(index: int) -> tuple[str, str, str, str]:
    """(name, email, language, timezone); the first user is the demo API user."""
    if index < len(_USERS):
        return _USERS[index]
    return (f"Test User {index + 1}", f"user{index + 1}@example.com", "en", "Europe/Berlin")


def _add_users_and_teams(data: MasterData, span: Span, count: int) -> None:
    inactive = _inactive_index(count)
    team_members: dict[int, list[int]] = {TEAM_ID_BASE + t: [] for t in range(len(_TEAMS))}
    for index in range(count):
        user_id = USER_ID_BASE + index
        team_id = None if index == 0 else TEAM_ID_BASE + (index - 1) % len(_TEAMS)
        if team_id is not None:
            team_members[team_id].append(user_id)
        first = span.first if index % 4 != 3 else span.first + timedelta(days=90 * index)
        last = span.last if index != inactive else span.today - timedelta(days=300)
        first = min(first, span.today - timedelta(days=30))
        last = max(last, first + timedelta(days=30))
        data.employment[user_id] = (first, last)
        data.users.append(_user(index, user_id, _user_identity(index), team_id, first,
                                active=index != inactive))
    data.teams = [
        {"id": team_id, "name": name, "leader": members[0] if members else None,
         "user_ids": members}
        for (team_id, members), name in zip(team_members.items(), _TEAMS, strict=True)
    ]


def _user(
    index: int, user_id: int, identity: tuple[str, str, str, str], team_id: int | None,
    first: date, *, active: bool,
) -> Wire:
    name, email, language, timezone = identity
    owner = index == 0
    group = GROUP_FRANCE if language == "fr" else GROUP_GERMANY
    regulation = None if index % 3 else 0
    return {
        "id": user_id, "name": name, "number": f"P-{100 + index}" if index % 4 else None,
        "email": email, "role": "owner" if owner else "worker", "active": active,
        "timeformat_12h": language == "en" and index % 2 == 1, "weekstart_monday": True,
        "weekend_friday": False, "language": language, "timezone": timezone,
        "teams_id": team_id, "initials": "".join(part[0] for part in name.split()[:2]),
        "nonbusiness_groups_id": group, "nonbusinessgroups_id": group,
        "work_time_regulations_id": regulation, "worktime_regulation_id": regulation,
        "default_work_time_regulation": regulation is None,
        "boss": None if owner else USER_ID_BASE,
        "absence_managers_id": [] if owner else [USER_ID_BASE],
        "access_groups_ids": [] if owner else [1], "can_generally_see_absences": owner,
        "can_generally_manage_absences": owner, "can_add_customers": owner or index == 1,
        "default_holidays_count": index % 2 == 0, "default_target_hours": index % 3 != 1,
        "future_coworker": False, "start_date": fmt_date(first), "wage_type": 1 if index % 5 else 2,
        "edit_lock": None if index % 2 else fmt_date(first), "edit_lock_dyn": None if owner else 15,
        "edit_lock_sync": None if owner else index % 2 == 0,
        "work_time_edit_lock_days": None if owner else 31, "budget_notifications": owner,
        "creator": None if owner else USER_ID_BASE,
        "created_at": fmt_ts(day_start(first) - 86_400 * 14 + 36_000 + index * 61),
        "bill_service_id": None, "support_pin": f"{4711 + index * 37:04d}",
    }


def _add_customers(data: MasterData, rng: random.Random, span: Span, count: int) -> None:
    for index in range(count):
        name = _CUSTOMERS[index] if index < len(_CUSTOMERS) else f"Kunde {index + 1}"
        active = index != 7
        data.customers.append({
            "id": CUSTOMER_ID_BASE + index, "name": name,
            "number": f"K{1000 + index}" if index % 3 else None, "color": 1 + index % 9,
            "active": active, "billable_default": index != 6,
            "note": None if index % 2 else f"Ansprechpartner: {rng.choice(['Frau', 'Herr'])} X",
            "bill_service_id": f"BS-{index}" if index == 2 else None, "test_data": False,
            "service_assignments": [],
        })
        if not active:
            data.usable_until[CUSTOMER_ID_BASE + index] = span.first + (span.today - span.first) / 2


def _budget(index: int) -> Wire | None:
    kind = index % 6
    if kind in (0, 5):
        return None
    monetary = kind in (2, 4)
    return {
        "monetary": monetary, "hard": kind == 2, "from_subprojects": False,
        "interval": {1: None, 2: None, 3: 1, 4: 3}[kind],
        "amount": {1: 120.0, 2: 25_000.0, 3: 40.0, 4: 8_000.0}[kind],
        "subprojects_budget_total": 0.0, "notification_thresholds": [80, 100],
    }


def _project_name(index: int) -> str:
    word = _PROJECT_WORDS[index % len(_PROJECT_WORDS)]
    return f"{word} {index // len(_PROJECT_WORDS) + 1}"


def _add_projects(data: MasterData, rng: random.Random, span: Span, count: int) -> None:
    customers = [customer["id"] for customer in data.customers]
    for index in range(count):
        project_id = PROJECT_ID_BASE + index
        customer_id = customers[index % len(customers)]
        budget = _budget(index)
        completed = index % 8 == 3
        active = not (completed and index % 16 == 3) and index % 8 != 7
        completed_day = span.first + timedelta(days=200 + 37 * index)
        completed_day = min(completed_day, span.today - timedelta(days=10))
        if completed or not active or customer_id in data.usable_until:
            data.usable_until[project_id] = min(
                completed_day, data.usable_until.get(customer_id, completed_day)
            )
        hard = bool(budget and budget["hard"])
        data.projects.append({
            "id": project_id, "customers_id": customer_id,
            "name": _project_name(index),
            "number": f"PR-{2000 + index}" if index % 4 else None, "active": active,
            "billable_default": index % 5 != 4,
            "note": None if index % 3 else 'Bitte "Ticket-Nr." angeben',
            "billed_money": round(rng.uniform(500, 9000), 2) if completed else None,
            "billed_completely": completed and index % 2 == 1, "completed": completed,
            "completed_at": fmt_ts(day_start(completed_day) + 61_200) if completed else None,
            "revenue_factor": (0.87 if completed else None) if hard else 1.0,
            "deadline": fmt_date(span.today + timedelta(days=30 * index))
            if index % 3 == 1 else None,
            "start_date": fmt_date(span.first + timedelta(days=index)) if index % 2 else None,
            "automatic_completion": index % 7 == 0, "test_data": False, "count_subprojects": 0,
            "budget": budget, "bill_service_id": None,
            "service_assignments": [SERVICE_ID_BASE + index % 3] if index % 4 == 0 else [],
        })


def _add_services(data: MasterData, span: Span) -> None:
    for index, name in enumerate(_SERVICES):
        active = index != len(_SERVICES) - 1
        data.services.append({
            "id": SERVICE_ID_BASE + index, "name": name,
            "number": f"S{index + 1:02d}" if index % 2 == 0 else None, "active": active,
            "note": "Stundensatz lt. Vertrag" if index == 1 else None, "bill_service_id": None,
        })
        if not active:
            data.usable_until[SERVICE_ID_BASE + index] = span.first + timedelta(days=180)
    for index, (name, price, unit) in enumerate(_LUMPSUM_SERVICES):
        active = unit is not None
        data.lumpsum_services.append({
            "id": LUMPSUM_SERVICE_ID_BASE + index, "name": name, "price": price, "unit": unit,
            "active": active, "number": f"L{index + 1}" if index % 2 else None,
            "note": "pro Einheit" if index == 0 else None,
        })
        if not active:
            data.usable_until[LUMPSUM_SERVICE_ID_BASE + index] = span.first + timedelta(days=180)


def _surcharge(percent: int, since: str, until: str, *, day_flags: bool = True) -> Wire:
    value: Wire = {"percent": percent, "time_since": since, "time_until": until}
    if day_flags:
        value["time_since_is_previous_day"] = False
        value["time_until_is_next_day"] = until == "00:00:00"
    return value


def _surcharge_models() -> list[Wire]:
    """Model 1 configures every kind (``saturday`` explicitly null); model 2 omits most keys."""
    return [
        {
            "id": SURCHARGE_MODEL_ID_BASE, "name": "Standard (Tarif)", "accumulation": True,
            "night": _surcharge(25, "22:00:00", "06:00:00", day_flags=False),
            "night_increased": _surcharge(40, "00:00:00", "04:00:00", day_flags=False),
            "nonbusiness": _surcharge(100, "00:00:00", "00:00:00"),
            "nonbusiness_special": _surcharge(150, "14:00:00", "00:00:00"),
            "sunday": _surcharge(50, "00:00:00", "00:00:00"),
            "saturday": None,
        },
        {
            "id": SURCHARGE_MODEL_ID_BASE + 1, "name": "Minimal - nur Sonntag",
            "accumulation": False,
            "sunday": _surcharge(25, "00:00:00", "00:00:00"),
        },
    ]


def _weekly(row_id: int, user_id: int, since: date, until: date | None, hours: float) -> Wire:
    daily = [hours / 5] * 5 + [0.0, 0.0]
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    row: Wire = {
        "id": row_id, "users_id": user_id, "type": "weekly", "date_since": fmt_date(since),
        "date_until": fmt_date(until) if until else None,
        "surcharge_models_id": SURCHARGE_MODEL_ID_BASE if user_id % 2 else None,
        "test_data": False, "compensation_monthly": 0.0,
    }
    row.update(zip(days, daily, strict=True))
    row.update({"absence_fixed_credit": False, "compensation_daily": 0.0})
    return row


def _monthly(row_id: int, user_id: int, since: date, until: date | None) -> Wire:
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    row: Wire = {
        "id": row_id, "users_id": user_id, "type": "monthly", "date_since": fmt_date(since),
        "date_until": fmt_date(until) if until else None,
        "surcharge_models_id": SURCHARGE_MODEL_ID_BASE + 1, "test_data": False,
        "compensation_monthly": 10.0, "monthly_target": 120.0,
    }
    row.update({f"workday_{day}": index < 5 for index, day in enumerate(days)})
    return row


def _add_target_hours(data: MasterData, span: Span) -> None:
    row_id = TARGET_HOURS_ID_BASE
    for index, user in enumerate(data.users):
        first, last = data.employment[user["id"]]
        until = None if last >= span.last else last
        if index == 3:
            data.target_hours.append(_monthly(row_id, user["id"], first, until))
        elif index == 1 and (span.today - first).days > 400:
            change = first + timedelta(days=365)
            before = change - timedelta(days=1)
            data.target_hours.append(_weekly(row_id, user["id"], first, before, 40.0))
            row_id += 1
            data.target_hours.append(_weekly(row_id, user["id"], change, until, 32.0))
        else:
            hours = 40.0 - 2 * (index % 3)
            data.target_hours.append(_weekly(row_id, user["id"], first, until, hours))
        row_id += 1


def _add_carries_and_quotas(data: MasterData, rng: random.Random, span: Span) -> None:
    for index, user in enumerate(data.users):
        first, last = data.employment[user["id"]]
        years = range(first.year, last.year + 1)
        if index == 2 and len(years) > 1:
            data.holidays_quotas.append(_quota(data, user["id"], first.year, first.year, 25))
            data.holidays_quotas.append(_quota(data, user["id"], first.year + 1, None, 30))
        else:
            data.holidays_quotas.append(_quota(data, user["id"], first.year, None, 28 + index % 3))
        for year in years[1:]:
            data.holidays_carries.append({
                "id": HOLIDAYS_CARRY_ID_BASE + len(data.holidays_carries), "users_id": user["id"],
                "year": year, "count": rng.randint(0, 6),
                "note": None if year % 2 else "Übertrag aus Vorjahr",
            })
            data.overtime_carries.append({
                "id": OVERTIME_CARRY_ID_BASE + len(data.overtime_carries), "users_id": user["id"],
                "year": year, "hours": round(rng.uniform(-5, 25), 1),
                "note": None if index % 2 else "Jahresabschluss",
            })


def _quota(data: MasterData, user_id: int, since: int, until: int | None, count: float) -> Wire:
    return {
        "id": HOLIDAYS_QUOTA_ID_BASE + len(data.holidays_quotas), "users_id": user_id,
        "year_since": since, "year_until": until, "count": count,
        "note": "Teilzeit" if until else None,
    }


def _monday_in(rng: random.Random, year: int, low_week: int, high_week: int) -> date:
    return date.fromisocalendar(year, rng.randint(low_week, high_week), 1)


def _absences(data: MasterData, rng: random.Random, span: Span) -> list[Wire]:
    """Per user and year a realistic mix, plus the deliberately awkward cases."""
    builder = _AbsenceBuilder(rng, span)
    for index, user in enumerate(data.users):
        first, last = data.employment[user["id"]]
        for year in range(first.year, min(last, span.last).year + 1):
            builder.user_year(user["id"], year, index)
    owner_first = data.employment[USER_ID_BASE][0]
    builder.new_year_holiday(USER_ID_BASE + 1 if len(data.users) > 1 else USER_ID_BASE,
                             max(owner_first.year, span.first.year))
    rows = [row for row in builder.rows if _within(row, data.employment[row["users_id"]])]
    rows.sort(key=lambda row: (row["date_since"], row["users_id"]))
    rows = _without_overlaps(rows)
    for offset, row in enumerate(rows):
        row["id"] = ABSENCE_ID_BASE + offset
    return rows


def _without_overlaps(rows: list[Wire]) -> list[Wire]:
    """Drop absences that collide with an earlier one of the same user, as the web app would."""
    last_until: dict[int, str] = {}
    kept = []
    for row in rows:
        if row["date_since"] > last_until.get(row["users_id"], ""):
            kept.append(row)
            last_until[row["users_id"]] = row["date_until"]
    return kept


def _within(row: Wire, employment: tuple[date, date]) -> bool:
    first, last = employment
    return fmt_date(first) <= row["date_since"] and row["date_until"] <= fmt_date(last)


@dataclass
class _AbsenceBuilder:
    rng: random.Random
    span: Span
    rows: list[Wire] = field(default_factory=list)

    def add(self, user_id: int, since: date, until: date, type_: int, status: int,
            count_days: float, **extra: object) -> None:
        enquired = since - timedelta(days=self.rng.randint(5, 40))
        row: Wire = {
            "id": 0, "users_id": user_id, "date_since": fmt_date(since),
            "date_until": fmt_date(until), "type": type_, "status": status,
            "note": self.rng.choice([None, "Urlaub 🌴", 'Arzt "Dr. Weiß"', "Familie\nFeier"]),
            "public_note": self.rng.choice([None, "Abwesend", "Außer Haus"]),
            "count_days": count_days, "date_enquired": fmt_date(enquired),
            "date_approved": fmt_date(enquired + timedelta(days=2)) if status == 1 else None,
            "approved_by": USER_ID_BASE if status == 1 else None,
        }
        row.update(extra)
        self.rows.append(row)

    def user_year(self, user_id: int, year: int, index: int) -> None:
        """Holidays, sickness, home office, a half day and an hour absence in one year."""
        rng = self.rng
        summer = _monday_in(rng, year, 24, 33)
        self.add(user_id, summer, summer + timedelta(days=11), 1, 1, 10)
        spring = _monday_in(rng, year, 10, 20)
        past_status = 2 if (index + year) % 4 == 3 else 1
        status = past_status if year < self.span.today.year else rng.choice([0, 1, 1, 2])
        self.add(user_id, spring, spring + timedelta(days=2), 1, status, 3)
        sick = _monday_in(rng, year, 2, 45) + timedelta(days=rng.randint(0, 2))
        self.add(user_id, sick, sick + timedelta(days=1), 4, 1, 2, sick_note=True)
        office = _monday_in(rng, year, 2, 50) + timedelta(days=4)
        self.add(user_id, office, office, 8, 1, 1)
        half = _monday_in(rng, year, 36, 44) + timedelta(days=2)
        self.add(user_id, half, half, 1, 1, 0.5)
        reduction = _monday_in(rng, year, 3, 48) + timedelta(days=3)
        self.add(user_id, reduction, reduction, 3, 1, 0, count_hours=4 if index % 2 else 2.5)
        if index % 3 == 1:
            child = _monday_in(rng, year, 5, 40) + timedelta(days=1)
            self.add(user_id, child, child, 5, 1, 1, sick_note=False)
        if index % 4 == 2:
            leave = _monday_in(rng, year, 12, 30) + timedelta(days=4)
            self.add(user_id, leave, leave, 2, rng.choice([3, 4]), 1)

    def new_year_holiday(self, user_id: int, year: int) -> None:
        """One approved holiday from 29 Dec to 2 Jan, i.e. spanning two years."""
        self.add(user_id, date(year, 12, 29), date(year + 1, 1, 2), 1, 1, 3)
