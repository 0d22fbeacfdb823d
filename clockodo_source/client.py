"""The one HTTP client of a run: headers, paging, retries and rate budgets live here.

Resources ask for a path of the entity catalog and get parsed pages back; they never build
URLs, handle status codes or sleep themselves. Writes (billing's entrygroups calls) go through
the same headers, error folding and budgets; only a call that changes data is sent once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import orjson

from clockodo_source.errors import ClockodoApiError, ClockodoNetworkError, WriteOutcomeUnknown
from clockodo_source.ledger import RequestLedger
from clockodo_source.options import ClientOptions, default_external_application
from clockodo_source.ratelimit import RateLimiter
from clockodo_source.rows import Row
from clockodo_source.stats import RequestStats

Params = Mapping[str, str | int | list[str] | list[int]]

#: turns a list page's body into its rows (a list, or any sized batch such as an arrow table)
#: and its `paging` object; raises ValueError on a body it cannot read
PageDecoder = Callable[[bytes, str], tuple[Sized, Mapping[str, Any]]]
#: a decoded page and its `paging` object
Page = tuple[Any, Mapping[str, Any]]

T = TypeVar("T")

logger = logging.getLogger("clockodo_source")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ENTRIES_PATH = "/v2/entries"
ENTRYGROUPS_PATH = "/v2/entrygroups"
#: failures that happen before a request leaves: even a call that changes data was not made
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def json_rows(body: bytes, list_key: str) -> tuple[list[Row], Mapping[str, Any]]:
    """The default page decoder: rows as dicts."""
    parsed = orjson.loads(body)
    return parsed.get(list_key) or [], parsed.get("paging") or {}


def _error_from_body(status: int, endpoint: str, response: httpx.Response) -> ClockodoApiError:
    """Fold Clockodo's three error shapes (and non-JSON pages) into one exception."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        kind = response.headers.get("content-type", "unknown content").split(";")[0]
        return ClockodoApiError(status, endpoint, f"non-JSON answer ({kind})")
    message, error_type = response.reason_phrase or "error", None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        message = str(err.get("message", message))
        if err.get("fields"):
            message += f" (fields: {', '.join(map(str, err['fields']))})"
    elif isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        err = body["errors"][0]
        err = err.get("error", err) if isinstance(err, dict) else {}
        message = str(err.get("message", message))
        error_type = err.get("type")
    return ClockodoApiError(status, endpoint, message, error_type)


class ClockodoClient:
    """Pooled httpx client with Clockodo auth headers, paging, retries and request budgets."""


    def __init__(
        self,
        options: ClientOptions,
        transport: httpx.BaseTransport | None = None,
        stats: RequestStats | None = None,
    ) -> None:
        self.options = options
        self.base_url = options.base_url.rstrip("/")
        self.stats = stats or RequestStats()
        api_user = options.api_user
        self._limiter = self._shared_limiter(api_user, "all", options.budgets)
        self._enhanced_limiter = self._shared_limiter(api_user, "entries_text",
                                                      [options.entries_text_budget])
        self._entrygroups_limiter = self._shared_limiter(
            api_user, "entrygroups", [options.entrygroups_budget])
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "X-ClockodoApiUser": api_user,
                "X-ClockodoApiKey": options.api_key,
                "X-Clockodo-External-Application": options.external_application
                or default_external_application(api_user),
                "X-ClockodoEnableIsoUtcDateTimes": "1",
                "Accept-Language": "en",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(self.options.timeout_seconds, connect=10.0),
            limits=httpx.Limits(max_connections=max(self.options.concurrency, 1) * 2),
            transport=transport,
        )
        self._in_flight = threading.BoundedSemaphore(max(self.options.concurrency, 1))
        self._pool = ThreadPoolExecutor(
            max_workers=max(self.options.concurrency, 1), thread_name_prefix="clockodo-http"
        )

    def _shared_limiter(self, api_user: str, scope: str,
                        budgets: Sequence[tuple[int, float]]) -> RateLimiter:
        """A limiter that counts the API user's requests of recent runs too (the ledger)."""
        horizon = max((seconds for _, seconds in budgets), default=0.0)
        ledger = RequestLedger.for_user(self.base_url, api_user, scope, horizon)
        return RateLimiter(budgets, ledger=ledger)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> ClockodoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _limiters(self, path: str, params: Params) -> list[RateLimiter]:
        if path == ENTRIES_PATH and params.get("enhanced_list"):
            return [self._limiter, self._enhanced_limiter]
        if path == ENTRYGROUPS_PATH:
            return [self._limiter, self._entrygroups_limiter]
        return [self._limiter]

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        base = min(self.options.backoff_max_seconds, self.options.backoff_seconds * 2**attempt)
        delay = base * (0.5 + random.random() / 2)
        if response is not None and response.status_code == 429:
            floor = self.options.retry_after_floor_seconds
            header = response.headers.get("retry-after", "")
            after = float(header) if header.replace(".", "", 1).isdigit() else 0.0
            delay = max(after, floor) if attempt == 0 else max(after, floor, delay)
        return delay

    def get(self, path: str, params: Params | None = None) -> Any:
        """GET one API path and return its parsed JSON body."""
        return self.fetch(path, params, orjson.loads)

    def fetch(self, path: str, params: Params | None, decode: Callable[[bytes], T]) -> T:
        """GET one API path, retrying what is worth retrying, and decode its body in this
        thread (so pages fetched in parallel are parsed in parallel too)."""
        return self._send("GET", path, params or {}, None, decode, retry=True)

    def put(self, path: str, body: Mapping[str, Any], *, retry: bool) -> Any:
        """PUT a JSON body and return the parsed answer.

        `retry=True` suits a call that changes nothing (the first phase of a two-phase write):
        it is retried like a read. `retry=False` sends a call that changes data once: a retry
        after a lost answer could apply it twice, so a timeout or a connection lost after
        sending raises `WriteOutcomeUnknown` and any error answer is raised as it is.
        """
        return self._send("PUT", path, {}, orjson.dumps(body), orjson.loads, retry=retry)

    def _send(self, method: str, path: str, params: Params, content: bytes | None,
              decode: Callable[[bytes], T], *, retry: bool) -> T:
        attempts = max(self.options.max_attempts, 1) if retry else 1
        limiters = self._limiters(path, params)
        headers = {"Content-Type": "application/json"} if content is not None else None
        for attempt in range(attempts):
            waited = sum(limiter.acquire() for limiter in limiters)
            if waited:
                self.stats.add(wait=waited)
            self.stats.count(path)
            response: httpx.Response | None = None
            try:
                with self._in_flight:
                    response = self._http.request(method, path, params=params, content=content,
                                                  headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if not retry and not isinstance(exc, NOT_SENT):
                    raise WriteOutcomeUnknown(
                        f"no answer from the Clockodo API at {self.base_url} ({method} {path}): "
                        f"{type(exc).__name__}; the change may or may not have been applied"
                    ) from None
                if attempt + 1 >= attempts:
                    raise ClockodoNetworkError(
                        f"could not reach the Clockodo API at {self.base_url} ({path}): "
                        f"{type(exc).__name__}; check sources.clockodo.base_url and the network"
                    ) from None
            finally:
                for limiter in limiters:
                    limiter.release()
            if response is not None:
                if response.status_code < 400:
                    try:
                        return decode(response.content)
                    except ValueError:
                        raise _error_from_body(response.status_code, path, response) from None
                if response.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                    raise _error_from_body(response.status_code, path, response)
            delay = self._backoff(attempt, response)
            throttled = int(response is not None and response.status_code == 429)
            self.stats.add(retries=1, throttled=throttled, wait=delay)
            if delay >= 1.0:  # a silent wait looks like a hung run
                answer = "no answer" if response is None else f"{response.status_code}"
                logger.info("Clockodo gave %s on %s: retrying in %.1fs (attempt %d of %d)",
                            answer + (" (rate limit)" if throttled else ""), path, delay,
                            attempt + 2, attempts)
            time.sleep(delay)
        raise AssertionError("unreachable: the retry loop returns or raises")

    def fetch_page(
        self, path: str, list_key: str, params: Params, decode: PageDecoder = json_rows
    ) -> Page:
        """One page of a list: its rows as `decode` makes them, and its `paging` object."""
        return self.fetch(path, params, lambda body: decode(body, list_key))

    def first_page(
        self, path: str, list_key: str, params: Params | None = None,
        page_size: int | None = None, decode: PageDecoder = json_rows,
    ) -> Page:
        """Page 1 of a list (`items_per_page` at `page_size` on paged endpoints)."""
        base = dict(params or {})
        if page_size:
            base.update(page=1, items_per_page=page_size)
        return self.fetch_page(path, list_key, base, decode)

    def iter_pages(
        self, path: str, list_key: str, params: Params | None = None,
        page_size: int | None = None, decode: PageDecoder = json_rows,
        first: Page | None = None,
    ) -> Iterator[Any]:
        """Yield every page of a list in order, starting with `first` when the caller fetched
        page 1 already.

        Paged endpoints get `items_per_page` at their maximum; an answer with a `paging` object
        is followed to `count_pages` (pages after the first fetched in parallel, since their
        number is known once page 1 is in); one without `paging` is a single page.
        """
        base = dict(params or {})
        if page_size:
            base["items_per_page"] = page_size
        rows, paging = first or self.first_page(path, list_key, params, page_size, decode)
        yield rows
        count_pages = int(paging.get("count_pages") or 0)
        if not len(rows) or count_pages <= 1:
            return
        futures = [
            self._pool.submit(self.fetch_page, path, list_key, {**base, "page": number}, decode)
            for number in range(2, count_pages + 1)
        ]
        try:
            for future in futures:
                page_rows, _ = future.result()
                if not len(page_rows):
                    return
                yield page_rows
        finally:
            for future in futures:
                future.cancel()

    def fetch_all(
        self, path: str, list_key: str, params: Params | None = None, page_size: int | None = None
    ) -> list[Row]:
        return [row for page in self.iter_pages(path, list_key, params, page_size) for row in page]
