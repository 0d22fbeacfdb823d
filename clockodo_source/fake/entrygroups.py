"""``PUT`` and ``DELETE /v2/entrygroups``: Clockodo's two-phase bulk edit and delete of entries.

The first call changes nothing and answers ``{"confirm_key", "affected_entries"}``; the same
request again with that ``confirm_key`` applies it. The key is bound to the request (method,
range, filter, new values) and to the affected entries as they stood (their ids and
``time_last_change``): any change in between, an edit or an entry added to or removed from the
range, makes it invalid (400), so a confirmation never applies to data its caller did not see.
Applying edits each entry through the company (which bumps ``time_last_change``) or deletes it.

An entry belongs to the range ``[time_since, time_until)`` its own ``time_since`` falls in (as
Clockodo's reports assign entries; unverified live). The endpoint is strict like the real one:
an unknown parameter is a 400. Tests read :attr:`EntryGroupWrites.calls` to tell first-phase
from confirming calls, and can make either phase fail or hold a confirming call.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .company import FakeCompany
from .routes import ApiError, Call
from .wire import Wire, parse_wire_dt

#: filters the fake applies (the entry list's filters)
FILTERS = ("users_id", "customers_id", "projects_id", "services_id", "lumpsum_services_id",
           "texts_id", "billable")
#: filters the real endpoint knows and the fake does not model: answered 501, never ignored
UNMODELLED_FILTERS = ("teams_id", "subprojects_id", "text", "budget_type")
#: what a PUT may set on the affected entries
NEW_VALUES = ("users_id", "customers_id", "projects_id", "subprojects_id", "services_id",
              "lumpsum_services_id", "billable", "text", "hourly_rate")
_RANGE = ("time_since", "time_until")
_HOLD_SECONDS = 120.0


@dataclass(frozen=True)
class EntryGroupCall:
    """One call as the fake answered it; ``changed`` counts edited or deleted entries."""

    method: str
    confirming: bool
    affected: int | None
    changed: int | None
    status: int


@dataclass
class ConfirmHold:
    """Holds confirming calls until :meth:`release`: ``arrived`` is set once one waits. A
    released call goes on (``apply``) or is dropped before it reaches the data (503), like a
    call whose sender died before the service processed it."""

    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    apply: bool = True

    def release(self, apply: bool) -> None:
        self.apply = apply
        self.released.set()


@dataclass
class EntryGroupWrites:
    """The service's side of the two-phase writes, one per server: the secret confirm keys
    are derived with, the log of calls, and switches a test sets while the server runs."""

    calls: list[EntryGroupCall] = field(default_factory=list)
    #: statuses the next first-phase calls are answered with, changing nothing (one each)
    fail_first: list[int] = field(default_factory=list)
    #: statuses the next confirming calls are answered with, changing nothing (one each)
    fail_confirm: list[int] = field(default_factory=list)
    hold: ConfirmHold | None = None
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, call: EntryGroupCall) -> None:
        with self._lock:
            self.calls.append(call)

    def confirming(self) -> list[EntryGroupCall]:
        """The confirming (second-phase) calls so far."""
        with self._lock:
            return [call for call in self.calls if call.confirming]

    def key(self, request: Request, affected: list[Wire]) -> str:
        """The confirm key of ``request`` over the entries it affects right now."""
        state = [(row["id"], row["time_last_change"]) for row in affected]
        material = orjson.dumps([request.canonical(), state], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(self._secret + material).hexdigest()[:40]

    def injected(self, confirming: bool) -> int | None:
        """The status a test queued for the next call of this phase, if any."""
        with self._lock:
            queue = self.fail_confirm if confirming else self.fail_first
            return queue.pop(0) if queue else None


@dataclass(frozen=True)
class Request:
    """A parsed entrygroups write: range as epoch seconds, filters, new values, the key."""

    method: str
    since: int
    until: int
    filters: Mapping[str, frozenset[int]]
    changes: Wire
    confirm_key: str | None

    def canonical(self) -> Wire:
        return {"method": self.method, "since": self.since, "until": self.until,
                "filters": {name: sorted(ids) for name, ids in self.filters.items()},
                "changes": self.changes}


def entrygroups(call: Call) -> Wire:
    """Both phases of ``PUT`` and ``DELETE``; every answered call is logged."""
    writes = call.entrygroups
    if writes is None:
        raise ApiError(500, "entrygroups writes are not set up", "InternalServerError")
    confirming, affected = False, None
    try:
        request = _put_request(call) if call.method == "PUT" else _delete_request(call)
        confirming = request.confirm_key is not None
        injected = writes.injected(confirming)
        if injected is not None:
            raise ApiError(injected, "injected failure", "InjectedFailure")
        if confirming and writes.hold is not None:
            _wait(writes.hold)
        rows = _affected(call.company, request)
        affected = len(rows)
        key = writes.key(request, rows)
        if not confirming:
            writes.record(EntryGroupCall(request.method, False, affected, None, 200))
            return {"confirm_key": key, "affected_entries": affected}
        if request.confirm_key != key:
            raise ApiError(400, "Invalid confirm_key: the request or the affected "
                                  "entries changed", "InvalidConfirmKey", ["confirm_key"])
        answer = _apply(call.company, request, rows)
    except ApiError as error:
        writes.record(EntryGroupCall(call.method, confirming, affected, None, error.status))
        raise
    writes.record(EntryGroupCall(request.method, True, affected, affected, 200))
    return answer


def _wait(hold: ConfirmHold) -> None:
    hold.arrived.set()
    if not hold.released.wait(_HOLD_SECONDS) or not hold.apply:
        raise ApiError(503, "the request was dropped before it was processed",
                              "ServiceUnavailable")


def _affected(company: FakeCompany, request: Request) -> list[Wire]:
    """Entries starting in the range and matching the filters (the list is by overlap)."""
    filters = {name: set(ids) for name, ids in request.filters.items()}
    _, rows = company.entries_page(request.since, request.until, 1, None, enhanced=True,
                                   filters=filters)
    return [row for row in rows if parse_wire_dt(row["time_since"]) >= request.since]


def _apply(company: FakeCompany, request: Request, rows: list[Wire]) -> Wire:
    if request.method == "DELETE":
        for row in rows:
            company.delete_entry(row["id"])
        return {"success": True, "deleted_entries": len(rows)}
    for row in rows:
        company.edit_entry(row["id"], **request.changes)
    return {"success": True, "edited_entries": len(rows)}


# ------------------------------------------------------------------- parsing

def _put_request(call: Call) -> Request:
    """``PUT``: everything in the JSON body, nothing in the query."""
    _no_unknown(call.params, ())
    try:
        body = orjson.loads(call.body) if call.body else None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "Wrong format: a JSON object is expected", "WrongFormat",
                              ["body"])
    _no_unknown(body, (*_RANGE, "filter", "confirm_key", *NEW_VALUES))
    raw_filter = body.get("filter") or {}
    if not isinstance(raw_filter, dict):
        raise ApiError(400, "Array expected.", "WrongFormat", ["filter"])
    filters = {name: _ids(value, f"filter[{name}]") for name, value in raw_filter.items()}
    changes = {name: body[name] for name in NEW_VALUES if name in body}
    if not changes:
        raise ApiError(400, "Missing data: nothing to change", "Empty", list(NEW_VALUES))
    if "billable" in changes and changes["billable"] not in (0, 1, 2):
        raise ApiError(400, "billable must be 0, 1 or 2", "UnexpectedValue",
                              ["billable"])
    return Request("PUT", *_range(body), _checked(filters), changes,
                   _confirm_key(body.get("confirm_key")))


def _delete_request(call: Call) -> Request:
    """``DELETE``: range, ``filter[...]`` and the key as query parameters."""
    filter_names = tuple(f"filter[{name}]" for name in (*FILTERS, *UNMODELLED_FILTERS))
    _no_unknown(call.params, (*_RANGE, "confirm_key", *filter_names))
    query = {name: call.one(name) for name in _RANGE}
    filters = {name[7:-1]: _ids(call.params[name], name)
               for name in filter_names if call.one(name) is not None}
    return Request("DELETE", *_range(query), _checked(filters), {},
                   _confirm_key(call.one("confirm_key")))


def _no_unknown(given: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ApiError(400, f"Unknown parameter {unknown[0]}", "UnknownParameter",
                              unknown)


def _range(values: Mapping[str, Any]) -> tuple[int, int]:
    missing = [name for name in _RANGE if not values.get(name)]
    if missing:
        raise ApiError(400, "Missing data", "Empty", missing)
    bounds = []
    for name in _RANGE:
        try:
            bounds.append(parse_wire_dt(str(values[name])))
        except ValueError:
            raise ApiError(400, "Wrong format", "InvalidDate", [name]) from None
    return bounds[0], bounds[1]


def _ids(value: Any, name: str) -> frozenset[int]:
    """A filter value: a number, a list of numbers, or numbers as (comma-separated) text."""
    items = value if isinstance(value, list) else [value]
    parts = [part for item in items for part in str(item).split(",") if part.strip()]
    try:
        if not parts or any(isinstance(item, bool | float) for item in items):
            raise ValueError(name)
        return frozenset(int(part) for part in parts)
    except ValueError:
        raise ApiError(400, f"Invalid value for {name}", "UnexpectedValue",
                              [name]) from None


def _checked(filters: Mapping[str, frozenset[int]]) -> dict[str, frozenset[int]]:
    """Known filters only; ``billable`` 12 means billable or billed, as on the entry list."""
    for name in filters:
        if name in UNMODELLED_FILTERS:
            raise ApiError(501, f"the fake does not model filter[{name}]",
                                  "NotImplemented", [f"filter[{name}]"])
        if name not in FILTERS:
            raise ApiError(400, "Unknown filter option", "UnknownParameter",
                                  [f"filter[{name}]"])
    checked = dict(filters)
    if 12 in checked.get("billable", frozenset()):
        checked["billable"] = (checked["billable"] | {1, 2}) - {12}
    return checked


def _confirm_key(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, "Invalid confirm_key", "InvalidConfirmKey", ["confirm_key"])
    return value
