"""The sample company behind the fake API: deterministic data plus the mutations tests need.

All public methods take one lock, because the HTTP server reads while tests mutate. Master-data
dicts are never changed in place (a mutation swaps in a new dict), so a snapshot list taken under
the lock can be serialised after the lock is released.

``now`` is a logical clock: each entry mutation advances it by one second and stamps the entry
with it, so ``time_insert <= time_last_change <= now`` always holds and every change is strictly
newer than everything before it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .entries import ID_BITS, LUMPSUM_SERVICE, LUMPSUM_VALUE, TIME, EntryStore, Names
from .generator import TEXTS, EntryGenerator
from .masterdata import (
    CUSTOMER_ID_BASE,
    HOURLY_RATES,
    MasterData,
    Span,
    generate_master_data,
)
from .nonbusiness import build_definitions, evaluate_year
from .reports import DayWork, ReportInput, daily_work, user_report, work_time_days
from .wire import Wire, day_start, fmt_ts, parse_wire_dt, to_ts

MASTER_DATA = (
    "users", "teams", "customers", "projects", "services", "lumpsum_services",
    "surcharge_models", "target_hours", "overtime_carries", "holidays_quotas",
    "holidays_carries", "absences",
)
_NAME_KEYS = (("customers_id", "customers_name", "customers"),
              ("projects_id", "projects_name", "projects"),
              ("users_id", "users_name", "users"),
              ("services_id", "services_name", "services"))
_WINDOW_CACHE_SIZE = 8


@dataclass
class CompanyConfig:
    """Size and shape of the generated company."""

    entries: int = 3000
    users: int = 8
    customers: int = 8
    projects: int = 20
    start: date | None = None
    future_days: int = 60
    seed: int = 7


class FakeCompany:
    """A deterministic sample company (same seed + now -> same data)."""

    users: list[Wire]
    teams: list[Wire]
    customers: list[Wire]
    projects: list[Wire]
    services: list[Wire]
    lumpsum_services: list[Wire]
    surcharge_models: list[Wire]
    target_hours: list[Wire]
    overtime_carries: list[Wire]
    holidays_quotas: list[Wire]
    holidays_carries: list[Wire]
    absences: list[Wire]

    def __init__(self, config: CompanyConfig | None = None, now: datetime | None = None) -> None:
        self.config = config or CompanyConfig()
        moment = now or datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        self.now: datetime = moment.astimezone(UTC).replace(microsecond=0)
        self._lock = threading.RLock()
        rng = random.Random(self.config.seed)
        today = self.now.date()
        first = self.config.start or date(today.year - 3, 1, 1)
        span = Span(first=first, today=today, last=today + timedelta(days=self.config.future_days))
        data = generate_master_data(rng, span, {"users": max(1, self.config.users),
                                                "customers": max(1, self.config.customers),
                                                "projects": max(1, self.config.projects)})
        self._assign_master_data(data)
        self._nonbusiness = build_definitions(once_year=first.year + 1)
        self._store = EntryStore(self._names(data))
        EntryGenerator(rng, data, span, to_ts(self.now)).generate(self._store, self.config.entries)
        self._windows: dict[tuple[Any, ...], list[int]] = {}
        self._daily: dict[int, dict[tuple[int, date], DayWork]] = {}

    def _assign_master_data(self, data: MasterData) -> None:
        for name in MASTER_DATA:
            setattr(self, name, getattr(data, name))

    @staticmethod
    def _names(data: MasterData) -> Names:
        def by_id(rows: list[Wire]) -> dict[int, str]:
            return {row["id"]: row["name"] for row in rows}

        return Names(
            customers=by_id(data.customers), projects=by_id(data.projects),
            users=by_id(data.users), services=by_id(data.services),
            lumpsum_services=by_id(data.lumpsum_services), texts=list(TEXTS),
            text_index={text: index for index, text in enumerate(TEXTS)},
        )

    # ----------------------------------------------------------------- reads

    def master(self, name: str) -> list[Wire]:
        """Snapshot of one master-data list (see :data:`MASTER_DATA`), safe to serialise."""
        if name not in MASTER_DATA:
            raise KeyError(name)
        with self._lock:
            return list(getattr(self, name))

    def entry(self, entry_id: int) -> Wire:
        """One entry in full; ``KeyError`` when it does not exist (any more)."""
        with self._lock:
            return self._store.wire(self._store.row(entry_id), True)

    def entries_in(self, since: datetime, until: datetime) -> list[Wire]:
        """Full entries overlapping ``[since, until)``, ordered by (time_since, id)."""
        return self.entries_page(to_ts(since), to_ts(until), 1, None, enhanced=True)[1]

    def entries_page(
        self, since: int, until: int, page: int, per_page: int | None, *, enhanced: bool,
        filters: Mapping[str, set[int]] | None = None,
    ) -> tuple[int, list[Wire]]:
        """(total count, one page) of the window ``[since, until)`` given as epoch seconds.

        The matching rows of recent windows are cached, so paging through a big window costs
        one scan plus one page of serialisation per request.
        """
        with self._lock:
            rows = self._window(since, until, filters or {})
            first = (page - 1) * (per_page or 0)
            chosen = rows[first:first + per_page] if per_page else rows
            return len(rows), [self._store.wire(row, enhanced) for row in chosen]

    def _window(self, since: int, until: int, filters: Mapping[str, set[int]]) -> list[int]:
        key = (since, until, tuple(sorted((k, frozenset(v)) for k, v in filters.items())))
        rows = self._windows.get(key)
        if rows is None:
            rows = self._store.window(since, until, to_ts(self.now), filters)
            if len(self._windows) >= _WINDOW_CACHE_SIZE:
                del self._windows[next(iter(self._windows))]
            self._windows[key] = rows
        return rows

    def all_entries(self) -> list[Wire]:
        """Every live entry in full, ordered by (time_since, id)."""
        with self._lock:
            keys = self._store.keys
            if not keys:
                return []
            first, last = keys[0] >> ID_BITS, keys[-1] >> ID_BITS
            return self.entries_page(first, last + 1, 1, None, enhanced=True)[1]

    def nonbusiness_days(self, year: int) -> list[Wire]:
        """Non-business days of both groups evaluated for ``year``."""
        return evaluate_year(self._nonbusiness, year)

    def absences_in_year(self, year: int) -> list[Wire]:
        """Absences overlapping ``year``."""
        low, high = f"{year:04d}-01-01", f"{year:04d}-12-31"
        with self._lock:
            return [a for a in self.absences if a["date_since"] <= high and a["date_until"] >= low]

    def work_time_days(self, users_id: int, date_since: date, date_until: date) -> list[Wire]:
        """``/v2/workTimes`` rows of one user, both dates inclusive, none before 2023-08-21."""
        with self._lock:
            days: dict[tuple[int, date], DayWork] = {}
            for year in range(date_since.year, date_until.year + 1):
                days.update(self._work_year(year))
            return work_time_days(days, users_id, date_since, date_until)

    def _work_year(self, year: int) -> dict[tuple[int, date], DayWork]:
        if year not in self._daily:
            spans = self._store.time_spans(day_start(date(year, 1, 1)),
                                           day_start(date(year + 1, 1, 1)))
            self._daily[year] = daily_work(spans, to_ts(self.now))
        return self._daily[year]

    def user_reports(self, year: int, type_: int = 0) -> list[Wire]:
        """One report per user (inactive ones included) for ``year``."""
        with self._lock:
            return [self._user_report(user, year, type_) for user in self.users]

    def user_report(self, users_id: int, year: int, type_: int = 0) -> Wire:
        """One user's report; ``KeyError`` for an unknown user."""
        with self._lock:
            return self._user_report(self._find(self.users, users_id), year, type_)

    def _user_report(self, user: Wire, year: int, type_: int) -> Wire:
        group = user["nonbusiness_groups_id"]
        holidays = {date.fromisoformat(day["evaluated_date"]): day
                    for day in self.nonbusiness_days(year) if day["nonbusiness_group_id"] == group}
        uid = user["id"]
        source = ReportInput(
            user=user, year=year, today=self.now.date(),
            target_rows=[row for row in self.target_hours if row["users_id"] == uid],
            nonbusiness=holidays,
            absences=[row for row in self.absences_in_year(year) if row["users_id"] == uid],
            work=self._work_year(year),
            holidays_quota=next((row["count"] for row in self.holidays_quotas
                                 if row["users_id"] == uid and row["year_since"] <= year
                                 and (row["year_until"] or year) >= year), 0.0),
            holidays_carry=next((row["count"] for row in self.holidays_carries
                                 if row["users_id"] == uid and row["year"] == year), 0.0),
            overtime_carry_hours=next((row["hours"] for row in self.overtime_carries
                                       if row["users_id"] == uid and row["year"] == year), 0.0),
        )
        return user_report(source, type_)

    def access_customers_projects(self, users_id: int) -> Wire:
        """Access rights body of ``/v2/users/{id}/access/customers-projects`` (ids as keys)."""
        with self._lock:
            user = self._find(self.users, users_id)
            if user["role"] == "owner":
                return {"add": True, "report": True, "edit": True}
            customers = [c["id"] for c in self.customers if c["active"]]
            own = customers[users_id % len(customers)]
            other = customers[(users_id + 1) % len(customers)]
            projects = [p["id"] for p in self.projects if p["customers_id"] == other][:2]
            report: Wire = {str(own): True}
            if other != own:
                report[str(other)] = {"projects": {str(p): True for p in projects}}
            return {"add": {str(own): True}, "report": report, "edit": False}

    @staticmethod
    def _find(rows: list[Wire], row_id: int) -> Wire:
        for row in rows:
            if row["id"] == row_id:
                return row
        raise KeyError(row_id)

    # ------------------------------------------------------------- mutations

    def _tick(self) -> int:
        """Advance the logical clock by a second and drop everything derived from entries."""
        self.now += timedelta(seconds=1)
        self._windows.clear()
        self._daily.clear()
        return to_ts(self.now)

    def edit_entry(self, entry_id: int, **changes: Any) -> Wire:
        """Apply ``changes`` (wire names; datetimes allowed) and bump ``time_last_change``."""
        if "type" in changes or "id" in changes:
            raise ValueError("an entry's id and type cannot change")
        with self._lock:
            row = self._store.row(entry_id)
            stamp = self._tick()
            return self._apply(row, self._store.wire(row, True), _coerce(changes), stamp)

    def stop_running_entry(self) -> Wire:
        """Stop the clock now: set ``time_until``/``duration`` (``LookupError`` if none runs)."""
        with self._lock:
            if not self._store.running:
                raise LookupError("no entry is running")
            row = min(self._store.running)
            stamp = self._tick()
            return self._apply(row, self._store.wire(row, True),
                               {"time_until": fmt_ts(stamp)}, stamp)

    def _apply(self, row: int, wire: Wire, changes: Wire, stamp: int) -> Wire:
        wire.update(changes)
        self._complete_entry(wire, changes, stamp)
        self._store.replace(row, wire)
        return dict(wire)

    def _complete_entry(self, wire: Wire, changes: Wire, stamp: int) -> None:
        """Derive what the real API derives: names, texts_id, duration, revenue, change stamps."""
        names = self._store.names
        if "text" in changes and "texts_id" not in changes:
            wire["texts_id"] = None if wire["text"] is None else names.text_id(wire["text"])
        for id_key, name_key, entity in _NAME_KEYS:
            if id_key in changes and name_key not in changes and id_key in wire:
                wire[name_key] = getattr(names, entity).get(wire[id_key])
        times_changed = "time_since" in changes or "time_until" in changes
        if wire["type"] != TIME and "time_since" in changes and "time_until" not in changes:
            wire["time_until"] = wire["time_since"]
        if wire["type"] == TIME and times_changed:
            if "duration" not in changes:
                wire["duration"] = _duration(wire)
            if "revenue" not in changes and wire["duration"] is not None:
                billable = wire["billable"] in (1, 2)
                rate = wire.get("hourly_rate", 0.0)
                wire["revenue"] = round(wire["duration"] / 3600 * rate, 2) if billable else 0.0
            if "time_last_change_work_time" not in changes:
                wire["time_last_change_work_time"] = fmt_ts(stamp)
        if "time_last_change" not in changes:
            wire["time_last_change"] = fmt_ts(stamp)

    def delete_entry(self, entry_id: int) -> None:
        """Delete an entry for good (the API has no tombstones)."""
        with self._lock:
            row = self._store.row(entry_id)
            self._tick()
            self._store.delete(row)

    def add_entry(self, **fields: Any) -> Wire:
        """Insert an entry; defaults make a billable 2 h time entry three days ago, 09:00."""
        with self._lock:
            stamp = self._tick()
            fields = _coerce(fields)
            since = day_start(self.now.date() - timedelta(days=3)) + 9 * 3600
            if "time_since" in fields:
                since = parse_wire_dt(fields["time_since"])
            wire = self._new_entry(int(fields.get("type", TIME)), since, stamp)
            wire.update(fields)
            wire["id"] = self._store.next_id()
            self._complete_entry(wire, fields, stamp)
            self._store.add_wire(wire)
            return dict(wire)

    def _new_entry(self, type_: int, since: int, stamp: int) -> Wire:
        names = self._store.names
        user = next((u for u in self.users if u["active"] and u["role"] == "worker"), self.users[0])
        project = next(p for p in self.projects if p["active"] and not p["completed"])
        rate = self._rate(project["customers_id"])
        wire: Wire = {
            "id": 0, "type": type_, "customers_id": project["customers_id"],
            "projects_id": project["id"], "subprojects_id": None, "users_id": user["id"],
            "billable": 1, "texts_id": names.text_id("Nachgetragen"), "text": "Nachgetragen",
            "time_since": fmt_ts(since),
            "time_until": fmt_ts(since + 7200 if type_ == TIME else since),
            "time_insert": fmt_ts(stamp), "time_last_change": fmt_ts(stamp), "test_data": False,
            "customers_name": names.customers[project["customers_id"]],
            "projects_name": project["name"], "subprojects_name": None, "users_name": user["name"],
        }
        service = next(s for s in self.services if s["active"])
        if type_ == TIME:
            wire.update({"services_id": service["id"], "services_name": service["name"],
                         "duration": 7200, "time_last_change_work_time": fmt_ts(stamp),
                         "time_clocked_since": None, "clocked": False, "clocked_offline": False,
                         "hourly_rate": rate, "revenue": round(2 * rate, 2)})
        elif type_ == LUMPSUM_VALUE:
            wire.update({"services_id": service["id"], "services_name": service["name"],
                         "lumpsum": 50.0, "revenue": 50.0})
        elif type_ == LUMPSUM_SERVICE:
            lumpsum = next(s for s in self.lumpsum_services if s["active"])
            wire.update({"lumpsum_services_id": lumpsum["id"], "lumpsum_services_amount": 1.0,
                         "lumpsum_services_price": lumpsum["price"], "revenue": lumpsum["price"]})
        else:
            raise ValueError(f"unknown entry type {type_}")
        return wire

    def _rate(self, customer_id: int) -> float:
        return HOURLY_RATES[(customer_id - CUSTOMER_ID_BASE) % len(HOURLY_RATES)]

    def add_customer(self, **fields: Any) -> Wire:
        """Append a customer (next id); the real API lists it on the next read."""
        with self._lock:
            customer: Wire = {
                "id": max(c["id"] for c in self.customers) + 1, "name": "Neukunde GmbH",
                "number": None, "color": 1, "active": True, "billable_default": True,
                "note": None, "bill_service_id": None, "test_data": False,
                "service_assignments": [],
            }
            customer.update(fields)
            self.customers.append(customer)
            self._store.names.customers[customer["id"]] = customer["name"]
            return dict(customer)

    def deactivate_project(self, project_id: int) -> Wire:
        """Set a project inactive (it keeps its entries)."""
        with self._lock:
            return self._replace(self.projects, project_id, {"active": False})

    def edit_absence(self, absence_id: int, **changes: Any) -> Wire:
        """Change an absence (wire names; dates allowed)."""
        with self._lock:
            return self._replace(self.absences, absence_id, _coerce(changes))

    def delete_absence(self, absence_id: int) -> None:
        """Remove an absence."""
        with self._lock:
            self.absences.remove(self._find(self.absences, absence_id))

    def _replace(self, rows: list[Wire], row_id: int, changes: Wire) -> Wire:
        """Copy-on-write update so snapshots handed to the server never change under it."""
        old = self._find(rows, row_id)
        new = {**old, **changes}
        rows[rows.index(old)] = new
        return dict(new)


def _duration(wire: Wire) -> int | None:
    if wire.get("time_until") is None:
        return None
    return parse_wire_dt(wire["time_until"]) - parse_wire_dt(wire["time_since"])


def _coerce(values: Mapping[str, Any]) -> Wire:
    """Accept ``datetime``/``date`` values in mutations and store them in wire format."""
    coerced: Wire = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            coerced[key] = fmt_ts(to_ts(value if value.tzinfo else value.replace(tzinfo=UTC)))
        elif isinstance(value, date):
            coerced[key] = value.isoformat()
        else:
            coerced[key] = value
    return coerced

