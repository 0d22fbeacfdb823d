"""Routes of the fake API: one declarative table of path -> handler, plus the handlers.

Handlers get a parsed :class:`Call` and return the JSON body; anything the real API would
reject raises :class:`ApiError`, which the server renders in the endpoint family's error shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from .company import FakeCompany
from .wire import Wire, parse_wire_date, parse_wire_dt

if TYPE_CHECKING:
    from .entrygroups import EntryGroupWrites

SIMPLE = "simple"
"""``{"error": {...}}`` — the shape of ``/v2/entries*``."""
GENERAL = "general"
"""``{"errors": [{...}]}`` — every other endpoint."""

Params = dict[str, list[str]]


class ApiError(Exception):
    """An error answer; ``fields`` names the offending parameters."""

    def __init__(self, status: int, message: str, type_: str, fields: Sequence[str] = (),
                 retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.fields = status, message, type_, list(fields)
        self.retry_after = retry_after

    def body(self, style: str) -> Wire:
        """The error body in the given endpoint family's shape."""
        if style == SIMPLE:
            return {"error": {"code": self.status, "message": self.message, "fields": self.fields}}
        path = self.fields[0] if self.fields else None
        return {"errors": [{"type": self.type, "message": self.message, "details": None,
                            "path": path}]}


def not_found() -> ApiError:
    return ApiError(404, "The requested resource could not be found.", "ResourceNotFound")


@dataclass(frozen=True)
class Call:
    """One authenticated request: path parameters, query and who asks (writes also carry
    their method, body and the server's two-phase write state)."""

    company: FakeCompany
    params: Params
    path_args: tuple[str, ...]
    api_user: str
    method: str = "GET"
    body: bytes = b""
    entrygroups: EntryGroupWrites | None = None

    def one(self, name: str) -> str | None:
        """Last non-empty value of a parameter (empty values count as absent, like the SDK)."""
        values = [value for value in self.params.get(name, []) if value != ""]
        return values[-1] if values else None

    def required(self, name: str) -> str:
        value = self.one(name)
        if value is None:
            raise ApiError(400, "Missing data", "Empty", [name])
        return value

    def integer(self, name: str, default: int) -> int:
        value = self.one(name)
        return default if value is None else _int(value, name)

    def integers(self, name: str) -> set[int] | None:
        """Array parameter: ``x[]=1&x[]=2``, ``x=1,2`` or ``x=1``; ``None`` when absent."""
        raw = [part for value in self.params.get(name, []) for part in value.split(",") if part]
        return {_int(part, name) for part in raw} if raw else None

    def boolean(self, name: str) -> bool | None:
        value = self.one(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered not in ("1", "0", "true", "false"):
            raise ApiError(400, f"Invalid value for {name}", "UnexpectedValue", [name])
        return lowered in ("1", "true")

    def path_id(self) -> int:
        return int(self.path_args[0])


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"Invalid value for {name}", "UnexpectedValue", [name]) from None


def _checked_years(call: Call, name: str, low: int, high: int) -> set[int] | None:
    years = call.integers(name)
    if years and not all(low <= year <= high for year in years):
        raise ApiError(400, f"{name} must be between {low} and {high}", "UnexpectedValue", [name])
    return years


# ------------------------------------------------------------------- filters

Matcher = Callable[[Wire, Any], bool]


@dataclass(frozen=True)
class Filter:
    """A list filter: query parameter, how to read it, how a row matches."""

    param: str
    read: Callable[[Call, str], Any]
    match: Matcher

    def apply(self, call: Call, rows: list[Wire]) -> list[Wire]:
        wanted = self.read(call, self.param)
        if wanted is None:
            return rows
        return [row for row in rows if self.match(row, wanted)]


def ints(param: str, key: str) -> Filter:
    return Filter(param, Call.integers, lambda row, wanted: row.get(key) in wanted)


def flag(param: str, key: str) -> Filter:
    return Filter(param, Call.boolean, lambda row, wanted: bool(row.get(key)) == wanted)


def years(param: str, match: Matcher) -> Filter:
    return Filter(param, lambda call, name: _checked_years(call, name, 2000, 2037), match)


def _year_is(row: Wire, wanted: set[int]) -> bool:
    return row["year"] in wanted


def _quota_covers(row: Wire, wanted: set[int]) -> bool:
    return any(row["year_since"] <= y <= (row["year_until"] or y) for y in wanted)


def _absence_overlaps(row: Wire, wanted: set[int]) -> bool:
    first, last = int(row["date_since"][:4]), int(row["date_until"][:4])
    return any(first <= y <= last for y in wanted)


def _filtered(call: Call, rows: list[Wire], filters: Sequence[Filter]) -> list[Wire]:
    for item in filters:
        rows = item.apply(call, rows)
    return rows


# ------------------------------------------------------------------- paging

@dataclass(frozen=True)
class Paging:
    """``page``/``items_per_page`` of one request, validated against the endpoint maximum."""

    page: int
    per_page: int

    @classmethod
    def read(cls, call: Call, maximum: int, default: int) -> Paging:
        """The default may exceed the maximum (entries: 2500 vs 1000), as observed live."""
        page = call.integer("page", 1)
        per_page = call.integer("items_per_page", default)
        if page < 1:
            raise ApiError(400, "page must be at least 1", "UnexpectedValue", ["page"])
        if call.one("items_per_page") is not None and not 1 <= per_page <= maximum:
            raise ApiError(400, f"items_per_page must be between 1 and {maximum}",
                           "UnexpectedValue", ["items_per_page"])
        return cls(page, per_page)

    def body(self, count: int) -> Wire:
        return {"items_per_page": self.per_page, "current_page": self.page,
                "count_pages": -(-count // self.per_page), "count_items": count}

    def slice(self, rows: list[Wire]) -> list[Wire]:
        first = (self.page - 1) * self.per_page
        return rows[first:first + self.per_page]


# ------------------------------------------------------------------ handlers

Handler = Callable[[Call], Wire]


def paged_list(source: str, key: str, maximum: int, *filters: Filter) -> Handler:
    """A paged master-data list (default page size 1000), ordered by id."""
    def handle(call: Call) -> Wire:
        paging = Paging.read(call, maximum, 1000)
        rows = _filtered(call, call.company.master(source), filters)
        return {"paging": paging.body(len(rows)), key: paging.slice(rows)}
    return handle


def plain_list(source: str, key: str, *filters: Filter) -> Handler:
    """An unpaged master-data list."""
    def handle(call: Call) -> Wire:
        return {key: _filtered(call, call.company.master(source), filters)}
    return handle


def item(source: str, key: str) -> Handler:
    """One master-data row by id."""
    def handle(call: Call) -> Wire:
        for row in call.company.master(source):
            if row["id"] == call.path_id():
                return {key: row}
        raise not_found()
    return handle


def _window_bound(call: Call, name: str) -> int:
    value = call.required(name)
    try:
        return parse_wire_dt(value)
    except ValueError:
        raise ApiError(400, "Wrong format", "InvalidDate", [name]) from None


_ENTRY_FILTERS = ("users_id", "customers_id", "projects_id", "services_id",
                  "lumpsum_services_id", "texts_id", "billable")


def entries(call: Call) -> Wire:
    """``/v2/entries``: overlap window, paging (default 2500, max 1000), enhanced_list."""
    missing = [name for name in ("time_since", "time_until") if call.one(name) is None]
    if missing:
        raise ApiError(400, "Missing data", "Empty", missing)
    since, until = _window_bound(call, "time_since"), _window_bound(call, "time_until")
    paging = Paging.read(call, 1000, 2500)
    filters: dict[str, set[int]] = {}
    for name in _ENTRY_FILTERS:
        wanted = call.integers(f"filter[{name}]")
        if wanted is not None:
            filters[name] = ({1, 2} | wanted) - {12} if 12 in wanted else wanted
    count, rows = call.company.entries_page(
        since, until, paging.page, paging.per_page,
        enhanced=bool(call.boolean("enhanced_list")), filters=filters,
    )
    return {"paging": paging.body(count), "entries": rows, "filter": None}


def entry(call: Call) -> Wire:
    try:
        return {"entry": call.company.entry(call.path_id())}
    except KeyError:
        raise ApiError(404, "Entry not found", "ResourceNotFound") from None


def _date_param(call: Call, name: str) -> date:
    try:
        return parse_wire_date(call.required(name))
    except ValueError:
        raise ApiError(400, f"{name} is not a valid date", "InvalidDate", [name]) from None


def work_times(call: Call) -> Wire:
    """``/v2/workTimes``: one user, inclusive dates, one page."""
    since, until = _date_param(call, "date_since"), _date_param(call, "date_until")
    users_id = _int(call.required("users_id"), "users_id")
    rows = call.company.work_time_days(users_id, since, until) if since <= until else []
    paging = {"items_per_page": max(1000, len(rows)), "current_page": 1,
              "count_pages": 1 if rows else 0, "count_items": len(rows)}
    return {"paging": paging, "work_time_days": rows}


def _year(call: Call, low: int, high: int, default: int | None) -> int:
    """The ``year`` parameter; required when there is no default."""
    text = call.one("year")
    if text is None:
        if default is None:
            raise ApiError(400, "Missing data", "Empty", ["year"])
        return default
    value = _int(text, "year")
    if not low <= value <= high:
        raise ApiError(400, f"year must be between {low} and {high}", "UnexpectedValue", ["year"])
    return value


def nonbusiness_days(call: Call) -> Wire:
    """The days of the groups asked for (int, ``[]`` array or csv). Unasked, the API documents
    no answer; the fake takes the awkward reading: the company-default group's days only."""
    year = _year(call, 2000, 2037, call.company.now.year)
    groups = call.integers("nonbusiness_group_id")
    company = call.company
    return {"data": company.nonbusiness_days(year, groups or company.default_nonbusiness_groups())}


def nonbusiness_day(call: Call) -> Wire:
    year = _year(call, 2000, 2037, call.company.now.year)
    for row in call.company.nonbusiness_days(year):
        if row["id"] == call.path_id():
            return {"data": row}
    raise not_found()


def _report_args(call: Call) -> tuple[int, int]:
    year = _year(call, 1910, call.company.now.year + 1, None)
    type_ = call.integer("type", 0)
    if not 0 <= type_ <= 4:
        raise ApiError(400, "type must be between 0 and 4", "UnexpectedValue", ["type"])
    return year, type_


def user_reports(call: Call) -> Wire:
    year, type_ = _report_args(call)
    return {"userreports": call.company.user_reports(year, type_)}


def user_report(call: Call) -> Wire:
    year, type_ = _report_args(call)
    try:
        return {"userreport": call.company.user_report(call.path_id(), year, type_)}
    except KeyError:
        raise not_found() from None


def users_me(call: Call) -> Wire:
    users = call.company.master("users")
    me = next((u for u in users if u["email"] == call.api_user), None)
    return {"data": me or next(u for u in users if u["role"] == "owner")}


def access_customers_projects(call: Call) -> Wire:
    try:
        return call.company.access_customers_projects(call.path_id())
    except KeyError:
        raise not_found() from None


def entrygroup_writes(call: Call) -> Wire:
    """``PUT``/``DELETE /v2/entrygroups``, the two-phase writes (their module builds on this
    one, so it is imported when first called)."""
    from .entrygroups import entrygroups

    return entrygroups(call)


# -------------------------------------------------------------------- table

@dataclass(frozen=True)
class Route:
    """A route; ``{id}`` matches digits. ``feature`` names a switch that can remove it."""

    template: str
    handler: Handler
    style: str = GENERAL
    feature: str | None = None
    methods: tuple[str, ...] = ("GET",)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.escape(self.template).replace(re.escape("{id}"), r"(\d+)")
        object.__setattr__(self, "pattern", re.compile(regex))


_ABSENCE_FILTERS = (years("filter[year]", _absence_overlaps), ints("filter[users_id]", "users_id"),
                    ints("filter[status]", "status"), ints("filter[type]", "type"))

ROUTES: tuple[Route, ...] = (
    Route("/v2/entries", entries, SIMPLE),
    Route("/v2/entries/{id}", entry, SIMPLE),
    Route("/v4/projects", paged_list(
        "projects", "data", 5000, ints("filter[customers_id]", "customers_id"),
        flag("filter[active]", "active"), flag("filter[completed]", "completed"))),
    Route("/v4/projects/{id}", item("projects", "data")),
    Route("/v3/customers", paged_list("customers", "data", 5000, flag("filter[active]", "active"))),
    Route("/v3/customers/{id}", item("customers", "data")),
    Route("/v3/users", paged_list("users", "data", 1000, flag("filter[active]", "active"),
                                  ints("filter[teams_id]", "teams_id"))),
    Route("/v3/users/{id}", item("users", "data")),
    Route("/v4/users/me", users_me),
    Route("/v2/users/{id}/access/customers-projects", access_customers_projects),
    Route("/v3/teams", paged_list("teams", "data", 1000)),
    Route("/v3/teams/{id}", item("teams", "data")),
    Route("/v4/services", paged_list("services", "data", 5000, flag("filter[active]", "active"))),
    Route("/v4/services/{id}", item("services", "data")),
    Route("/v4/lumpSumServices", paged_list("lumpsum_services", "data", 5000,
                                            flag("filter[active]", "active"))),
    Route("/v4/lumpSumServices/{id}", item("lumpsum_services", "data")),
    Route("/v4/absences", plain_list("absences", "data", *_ABSENCE_FILTERS)),
    Route("/v4/absences/{id}", item("absences", "data")),
    Route("/v2/workTimes", work_times),
    Route("/targethours", plain_list("target_hours", "targethours", ints("users_id", "users_id"))),
    Route("/targethours/{id}", item("target_hours", "targethoursRow")),
    Route("/v3/overtimeCarry", plain_list("overtime_carries", "data", ints("users_id", "users_id"),
                                          years("year", _year_is))),
    Route("/v3/overtimeCarry/{id}", item("overtime_carries", "data")),
    Route("/v2/holidaysQuota", plain_list(
        "holidays_quotas", "data", ints("users_id", "users_id"), years("year", _quota_covers),
        ints("filter[users_id]", "users_id"), years("filter[year]", _quota_covers))),
    Route("/v2/holidaysQuota/{id}", item("holidays_quotas", "data")),
    Route("/v3/holidaysCarry", plain_list("holidays_carries", "data", ints("users_id", "users_id"),
                                          years("year", _year_is))),
    Route("/v3/holidaysCarry/{id}", item("holidays_carries", "data")),
    Route("/v2/nonbusinessDays", nonbusiness_days),
    Route("/v2/nonbusinessDays/{id}", nonbusiness_day),
    Route("/v2/nonbusinessGroups", plain_list("nonbusiness_groups", "data")),
    Route("/v2/nonbusinessGroups/{id}", item("nonbusiness_groups", "data")),
    Route("/v2/surchargeModels", plain_list("surcharge_models", "data"),
          feature="surcharge_models"),
    Route("/v2/surchargeModels/{id}", item("surcharge_models", "data"),
          feature="surcharge_models"),
    Route("/v2/surcharges", plain_list("surcharge_models", "surcharges")),
    Route("/v2/surcharges/{id}", item("surcharge_models", "surcharge")),
    Route("/userreports", user_reports),
    Route("/userreports/{id}", user_report),
    Route("/v2/entrygroups", entrygroup_writes, SIMPLE, methods=("PUT", "DELETE")),
)

LEGACY_ROUTES: tuple[str, ...] = (
    "/absences", "/v2/absences", "/v3/absences", "/customers", "/v2/customers",
    "/v2/customers/countProjects", "/entries", "/holidaysquota", "/holidayscarry",
    "/overtimecarry", "/nonbusinessdays", "/nonbusinessgroups", "/lumpsumservices",
    "/v2/lumpsumservices", "/v3/lumpsumservices", "/services", "/v2/services", "/v3/services",
    "/v2/projects", "/v2/teams", "/users", "/v2/users", "/users/me", "/v2/users/me",
    "/v2/aggregates/users/me", "/v2/entriesTexts", "/v2/workTimes/changeRequests/{id}/approve",
)
"""Routes Clockodo retired on 2026-05-01; they answer 410 (with or without a trailing id)."""

_LEGACY = re.compile("|".join(
    re.escape(path).replace(re.escape("{id}"), r"\d+") + r"(?:/\d+)?" for path in LEGACY_ROUTES
))


@dataclass(frozen=True)
class Match:
    """Result of routing a path."""

    route: Route
    args: tuple[str, ...]


class Router:
    """Resolves paths against :data:`ROUTES` minus the switched-off features."""

    def __init__(self, disabled: frozenset[str] = frozenset()) -> None:
        self.routes = [route for route in ROUTES if route.feature not in disabled]

    def resolve(self, path: str) -> Match:
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if found:
                return Match(route, found.groups())
        if _LEGACY.fullmatch(path):
            raise ApiError(410, "deprecated", "Deprecated")
        raise ApiError(404, "The requested route could not be found.", "RouteNotFound")


def style_of(path: str) -> str:
    """Error shape of the endpoint family a path belongs to."""
    if path in ("/v2/entries", "/v2/entrygroups") or path.startswith("/v2/entries/"):
        return SIMPLE
    return GENERAL
