"""Non-business days of the two sample holiday groups.

Clockodo returns the same day ``id`` every year with a different ``evaluated_date``; the three
day types (fixed-date recurring, one-off, Easter-relative "special") are all represented. The
German group is the company default; the French user's days come from the other group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .wire import Wire, fmt_date

GROUP_GERMANY = 1
GROUP_FRANCE = 2
DEFAULT_GROUP = GROUP_GERMANY


def nonbusiness_groups() -> list[Wire]:
    """``/v2/nonbusinessGroups`` rows."""
    names = {GROUP_GERMANY: "Deutschland (Hessen)", GROUP_FRANCE: "France"}
    return [{"id": group, "name": name, "company_default": group == DEFAULT_GROUP}
            for group, name in names.items()]


@dataclass(frozen=True)
class NonbusinessDay:
    """Definition of one non-business day; evaluated per requested year."""

    id: int
    group: int
    type: str
    name: str
    month: int = 0
    day: int = 0
    easter_offset: int = 0
    special_id: int = 0
    year: int = 0
    half_day: bool = False
    surcharge_special: bool = False

    def evaluate(self, year: int) -> date | None:
        """Concrete date in ``year``, or ``None`` when a one-off day belongs to another year."""
        if self.type == "SPECIAL":
            return easter_sunday(year) + timedelta(days=self.easter_offset)
        if self.type == "DISTINCT_ONCE" and self.year != year:
            return None
        return date(year, self.month, self.day)

    def to_wire(self, evaluated: date) -> Wire:
        """Wire dict; the optional keys depend on the type exactly as in the API schema."""
        row: Wire = {
            "id": self.id,
            "nonbusiness_group_id": self.group,
            "type": self.type,
            "name": self.name,
            "half_day": self.half_day,
            "surcharge_special": self.surcharge_special,
            "evaluated_date": fmt_date(evaluated),
        }
        if self.type == "SPECIAL":
            row["special_id"] = self.special_id
        else:
            row["day"] = self.day
            row["month"] = self.month
        if self.type == "DISTINCT_ONCE":
            row["year"] = self.year
        return row


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_fix = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * weekday_fix) // 433
    month = (h + weekday_fix - 7 * m + 90) // 25
    day = (h + weekday_fix - 7 * m + 33 * month + 19) % 32
    return date(year, month, day)


def _recurring(
    day_id: int, group: int, name: str, month: int, day: int, **kw: bool
) -> NonbusinessDay:
    return NonbusinessDay(day_id, group, "DISTINCT_RECURRING", name, month=month, day=day, **kw)


def _special(day_id: int, group: int, name: str, offset: int, special_id: int) -> NonbusinessDay:
    return NonbusinessDay(
        day_id, group, "SPECIAL", name, easter_offset=offset, special_id=special_id
    )


def build_definitions(once_year: int) -> list[NonbusinessDay]:
    """Both groups' days; ``once_year`` places the single one-off company holiday."""
    de, fr = GROUP_GERMANY, GROUP_FRANCE
    return [
        _recurring(1301, de, "Neujahr", 1, 1),
        _special(1302, de, "Karfreitag", -2, 1),
        _special(1303, de, "Ostermontag", 1, 2),
        _recurring(1304, de, "Tag der Arbeit", 5, 1),
        _special(1305, de, "Christi Himmelfahrt", 39, 3),
        _special(1306, de, "Pfingstmontag", 50, 4),
        _recurring(1307, de, "Tag der Deutschen Einheit", 10, 3),
        _recurring(1308, de, "Heiligabend", 12, 24, half_day=True, surcharge_special=True),
        _recurring(1309, de, "1. Weihnachtstag", 12, 25, surcharge_special=True),
        _recurring(1310, de, "2. Weihnachtstag", 12, 26),
        _recurring(1311, de, "Silvester", 12, 31, half_day=True, surcharge_special=True),
        NonbusinessDay(1312, de, "DISTINCT_ONCE", "Firmenjubiläum 🎉", month=6, day=13,
                       year=once_year),
        _recurring(1351, fr, "Jour de l'an", 1, 1),
        _special(1352, fr, "Lundi de Pâques", 1, 2),
        _recurring(1353, fr, "Fête du Travail", 5, 1),
        _recurring(1354, fr, "Victoire 1945", 5, 8),
        _recurring(1355, fr, "Fête nationale", 7, 14),
        _recurring(1356, fr, "Assomption", 8, 15),
        _recurring(1357, fr, "Toussaint", 11, 1),
        _recurring(1358, fr, "Armistice", 11, 11),
        _recurring(1359, fr, "Noël", 12, 25, surcharge_special=True),
    ]


def evaluate_year(definitions: list[NonbusinessDay], year: int) -> list[Wire]:
    """Wire rows of every day falling into ``year``, sorted by date then id."""
    rows = []
    for definition in definitions:
        evaluated = definition.evaluate(year)
        if evaluated is not None:
            rows.append(definition.to_wire(evaluated))
    rows.sort(key=lambda row: (row["evaluated_date"], row["id"]))
    return rows
