"""Generates the entries of the sample company into an :class:`EntryStore`.

Entries are spread over the days between the first data day and the last planned day (workdays
weigh most, weekends little, planned future days less). Per user and day they are laid out one
after another from the morning on; some end after midnight, and every past month end gets an
entry from 23:00 to 01:00 so month windows have an entry crossing their boundary.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from .entries import (
    FLAG_CLOCKED,
    FLAG_OFFLINE,
    FLAG_REVENUE,
    LUMPSUM_SERVICE,
    LUMPSUM_VALUE,
    TIME,
    EntryRow,
    EntryStore,
)
from .masterdata import HOURLY_RATES, USER_ID_BASE, MasterData, Span
from .wire import DAY, day_start, days_between

_COMMON_TEXTS = [
    "Meeting mit Kunde", "Code-Review für „Release 2.1“", "Bugfix: Umlaute (ä, ö, ü, ß)",
    "Réunion de lancement - café ☕", 'Sprint planning "Q3"', "Deployment 🚀",
    "Telefonat\nRückruf vereinbart", "Workshop: UX-Research 🎨", "Dokumentation aktualisiert",
    "Support-Ticket #4711", "Angebot erstellt; Preise \"netto\"", "Fahrt zum Kunden 🚗",
    "Tests geschrieben\n- Unit\n- Integration", "Datenbank-Migration", "Schulung für Mitarbeitende",
    "Konzept überarbeitet", "Fehleranalyse 🐛", "Abstimmung mit Zoë & Jürgen",
    "Backslash \\ and tab\tcharacters", "Kick-off",
]
#: What real accounts hold besides: empty texts (not null), CJK (with full-width marks),
#: quotes of both kinds, texts that read like a null marker (SQL's NULL, PostgreSQL's \N),
#: Windows line ends, surrounding blanks, a trailing backslash.
_AWKWARD_TEXTS = [
    "", "会议纪要\uff1a需求评审\uff08第二轮\uff09", "要件定義レビュー 🇯🇵",
    "O'Brien's \"quick\" fix", "NULL", "Windows\r\nZeilenende",
    "  Leerzeichen am Rand\t", "C:\\Projekte\\", "\\N",
]
TEXTS = _COMMON_TEXTS + _AWKWARD_TEXTS
#: Share of the texts taken from the awkward ones (each about 2.5 % of the entries)
_AWKWARD_SHARE = 0.25
_LUMPSUM_VALUES = [25.0, 49.9, 80.5, 120.0, 250.0]
_LUMPSUM_AMOUNTS = [0.5, 1.0, 2.0, 3.0, 5.0, 12.5, 42.0]
_WORK_START = 7 * 3600
_WORK_END = 22 * 3600
_AVERAGE_SLOT = 6900
_BILLED_AFTER_DAYS = 60


@dataclass(frozen=True)
class _Day:
    """What is usable on one day: who books time and which projects/services exist."""

    start: int
    users: list[int]
    projects: list[tuple[int, int]]
    customers: list[int]
    services: list[int]
    lumpsum_services: list[tuple[int, float]]


class EntryGenerator:
    """Fills a store with ``count`` entries plus the one running entry."""

    def __init__(self, rng: random.Random, data: MasterData, span: Span, now: int) -> None:
        self.rng, self.data, self.span, self.now = rng, data, span, now
        # a stream of its own, seeded from the main one's state without drawing from it: the
        # awkward texts leave every other generated value as it was before they existed
        self.texts = random.Random(rng.getstate()[1][1])
        self.rates = {customer["id"]: HOURLY_RATES[index % len(HOURLY_RATES)]
                      for index, customer in enumerate(data.customers)}
        self.billed_before = now - _BILLED_AFTER_DAYS * DAY
        self.store: EntryStore

    def generate(self, store: EntryStore, count: int) -> None:
        """Distribute ``count`` entries over the span, add the running entry, assign ids."""
        self.store = store
        days = days_between(self.span.first, self.span.last)
        weights = [self._weight(day) for day in days]
        share = count / sum(weights)
        emitted, accumulated = 0, 0.0
        for day, weight in zip(days, weights, strict=True):
            accumulated += weight * share
            todays = round(accumulated) - emitted
            if todays:
                self._day(day, todays)
                emitted += todays
        self._running_entry()
        store.assign_ids()

    def _weight(self, day: date) -> float:
        weekday = day.weekday()
        weight = 1.0 if weekday < 5 else (0.12 if weekday == 5 else 0.05)
        if day > self.span.today:
            return weight * 0.25
        if _is_month_end(day):
            return max(weight, 1.0)
        return weight

    def _usable(self, day: date, item_id: int) -> bool:
        return day <= self.data.usable_until.get(item_id, day)

    def _context(self, day: date) -> _Day:
        data = self.data
        users = [uid for uid, (first, last) in data.employment.items() if first <= day <= last]
        projects = [(p["id"], p["customers_id"]) for p in data.projects
                    if self._usable(day, p["id"])]
        return _Day(
            start=day_start(day),
            users=users or [USER_ID_BASE],
            projects=projects,
            customers=[c["id"] for c in data.customers if self._usable(day, c["id"])],
            services=[s["id"] for s in data.services if self._usable(day, s["id"])],
            lumpsum_services=[(s["id"], s["price"]) for s in data.lumpsum_services
                              if self._usable(day, s["id"])],
        )

    def _day(self, day: date, count: int) -> None:
        context = self._context(day)
        per_user = Counter(self.rng.choices(context.users, k=count))
        crossing = _is_month_end(day) and day < self.span.today
        for user_id, user_count in sorted(per_user.items()):
            self._user_day(context, user_id, user_count, crossing)
            crossing = False

    def _user_day(self, day: _Day, user_id: int, count: int, crossing: bool) -> None:
        """Lay out one user's entries of one day back to back, maybe ending with a night shift."""
        rng = self.rng
        cursor = day.start + _WORK_START + rng.randrange(0, 9001, 300)
        scale = min(1.0, (day.start + _WORK_END - cursor) / (count * _AVERAGE_SLOT))
        night = crossing or rng.random() < 0.03
        for index in range(count):
            if night and index == count - 1:
                self._night_entry(day, user_id, cursor, crossing)
                continue
            kind = rng.random()
            if kind < 0.88:
                duration = max(60, int(rng.randrange(900, 14401, 300) * scale))
                self._time_entry(day, user_id, cursor, cursor + duration)
                cursor += duration + int(rng.randrange(0, 1801, 300) * scale)
            elif kind < 0.94:
                self._lumpsum_value(day, user_id, cursor)
            else:
                self._lumpsum_service(day, user_id, cursor)

    def _night_entry(self, day: _Day, user_id: int, cursor: int, crossing: bool) -> None:
        if crossing:
            since, duration = day.start + 23 * 3600, 2 * 3600
        else:
            since = max(cursor, day.start + 21 * 3600 + self.rng.randrange(0, 9001, 300))
            duration = self.rng.randrange(3600, 10801, 300)
        self._time_entry(day, user_id, since, since + duration)

    def _assignment(self, day: _Day) -> tuple[int, int]:
        """(customers_id, projects_id or 0); about 5 % of entries have no project."""
        if day.projects and self.rng.random() >= 0.05:
            project_id, customer_id = self.rng.choice(day.projects)
            return customer_id, project_id
        return self.rng.choice(day.customers), 0

    def _stamps(self, since: int, end: int, clocked: bool) -> tuple[int, int, int]:
        """(time_insert, time_last_change, time_last_change_work_time), all before now."""
        rng, now = self.rng, self.now
        if end > now:
            insert = now - rng.randrange(3600, 30 * DAY)
        elif clocked:
            insert = since
        else:
            insert = end + rng.randrange(300, 3 * DAY)
        insert = min(insert, now - 1)
        change = insert
        if rng.random() < 0.12:
            change = min(now - 1, insert + rng.randrange(60, 90 * DAY))
        work_time = change if rng.random() < 0.5 else insert
        return insert, change, work_time

    def _billable(self, since: int, lumpsum: bool) -> int:
        draw = self.rng.random()
        if not lumpsum and draw < 0.22:
            return 0
        return 2 if since < self.billed_before and draw < 0.8 else 1

    def _text(self) -> int:
        if self.rng.random() < 0.08:
            return -1
        common = self.rng.randrange(len(_COMMON_TEXTS))
        if self.texts.random() >= _AWKWARD_SHARE:
            return common
        return len(_COMMON_TEXTS) + self.texts.randrange(len(_AWKWARD_TEXTS))

    def _revenue_flag(self) -> int:
        return FLAG_REVENUE if self.rng.random() >= 0.10 else 0

    def _time_entry(self, day: _Day, user_id: int, since: int, until: int) -> None:
        rng = self.rng
        customer_id, project_id = self._assignment(day)
        clocked = until <= self.now and rng.random() < 0.6
        flags = (FLAG_CLOCKED if clocked else 0) | self._revenue_flag()
        if clocked and rng.random() < 0.03:
            flags |= FLAG_OFFLINE
        billable = self._billable(since, lumpsum=False)
        rate = self.rates[customer_id]
        insert, change, work_time = self._stamps(since, until, clocked)
        self.store.append(EntryRow(
            type=TIME, users_id=user_id, customers_id=customer_id, projects_id=project_id,
            service=rng.choice(day.services), billable=billable, text=self._text(),
            since=since, until=until, insert=insert, change=change, change_work_time=work_time,
            rate=rate, revenue=round((until - since) / 3600 * rate, 2) if billable else 0.0,
            flags=flags,
        ))

    def _lumpsum_value(self, day: _Day, user_id: int, since: int) -> None:
        customer_id, project_id = self._assignment(day)
        value = self.rng.choice(_LUMPSUM_VALUES)
        insert, change, _ = self._stamps(since, since, clocked=False)
        self.store.append(EntryRow(
            type=LUMPSUM_VALUE, users_id=user_id, customers_id=customer_id,
            projects_id=project_id, service=self.rng.choice(day.services),
            billable=self._billable(since, lumpsum=True), text=self._text(), since=since,
            until=since, insert=insert, change=change, change_work_time=change, amount=value,
            revenue=value, flags=self._revenue_flag(),
        ))

    def _lumpsum_service(self, day: _Day, user_id: int, since: int) -> None:
        customer_id, project_id = self._assignment(day)
        service_id, price = self.rng.choice(day.lumpsum_services)
        amount = self.rng.choice(_LUMPSUM_AMOUNTS)
        insert, change, _ = self._stamps(since, since, clocked=False)
        self.store.append(EntryRow(
            type=LUMPSUM_SERVICE, users_id=user_id, customers_id=customer_id,
            projects_id=project_id, service=service_id,
            billable=self._billable(since, lumpsum=True), text=self._text(), since=since,
            until=since, insert=insert, change=change, change_work_time=change, amount=amount,
            rate=price, revenue=round(amount * price, 2), flags=self._revenue_flag(),
        ))

    def _running_entry(self) -> None:
        """The owner's clock, started 2 h 13 min before now (no revenue while it runs)."""
        since = self.now - (2 * 3600 + 13 * 60)
        today = self._context(self.span.today)
        customer_id, project_id = self._assignment(today)
        self.store.append(EntryRow(
            type=TIME, users_id=USER_ID_BASE, customers_id=customer_id, projects_id=project_id,
            service=today.services[0], billable=1, text=0, since=since, until=-1, insert=since,
            change=since, change_work_time=since, rate=self.rates[customer_id],
            flags=FLAG_CLOCKED,
        ))


def _is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1
