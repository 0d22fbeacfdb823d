"""Client behaviour at the HTTP boundary: paging edge cases, error shapes, retries, budgets.

These use httpx's MockTransport as a scripted server; end-to-end behaviour against the real
fake API over loopback is covered by the pipeline tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import httpx
import orjson
import pytest

from clockodo_source.client import ClockodoClient
from clockodo_source.errors import ClockodoApiError, ClockodoNetworkError
from clockodo_source.options import ClientOptions
from clockodo_source.ratelimit import RateLimiter, minimum_seconds

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, **settings: object) -> ClockodoClient:
    options = ClientOptions("me@example.com", "key-123", "http://api.test/api", "app;me@x.com",
                            backoff_seconds=0.001, retry_after_floor_seconds=0.001,
                            concurrency=2)
    options = replace(options, **settings)  # type: ignore[arg-type]
    return ClockodoClient(options, transport=httpx.MockTransport(handler))


def paged(rows: list[int], per_page: int, page: int, key: str = "data") -> httpx.Response:
    count_pages = -(-len(rows) // per_page)
    chunk = rows[(page - 1) * per_page: page * per_page]
    body = {
        "paging": {"items_per_page": per_page, "current_page": page,
                   "count_pages": count_pages, "count_items": len(rows)},
        key: [{"id": value} for value in chunk],
    }
    return httpx.Response(200, content=orjson.dumps(body))


def test_sends_headers_and_max_page_size_and_follows_pages() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return paged(list(range(12)), int(request.url.params["items_per_page"]),
                     int(request.url.params.get("page", "1")))

    with make_client(handler) as client:
        rows = client.fetch_all("/v4/projects", "data", {"filter[active]": "true"}, page_size=5)
    assert [row["id"] for row in rows] == list(range(12))
    assert sorted(int(r.url.params["page"]) for r in seen) == [1, 2, 3]
    first = seen[0]
    assert first.url.path == "/api/v4/projects"
    assert first.url.params["items_per_page"] == "5"
    assert first.url.params["filter[active]"] == "true"
    assert first.headers["X-ClockodoApiUser"] == "me@example.com"
    assert first.headers["X-ClockodoApiKey"] == "key-123"
    assert first.headers["X-Clockodo-External-Application"] == "app;me@x.com"
    assert first.headers["Accept-Language"] == "en"


@pytest.mark.parametrize("count_pages", [0, 1])
def test_empty_list_and_zero_pages_stop(count_pages: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        body = {"paging": {"items_per_page": 1000, "current_page": 1,
                           "count_pages": count_pages, "count_items": 0}, "data": []}
        return httpx.Response(200, content=orjson.dumps(body))

    with make_client(handler) as client:
        assert client.fetch_all("/v3/users", "data", page_size=1000) == []
    assert len(calls) == 1


def test_stops_on_an_empty_page_before_count_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        rows = [{"id": page}] if page < 3 else []
        body = {"paging": {"items_per_page": 1, "current_page": page, "count_pages": 5,
                           "count_items": 5}, "data": rows}
        return httpx.Response(200, content=orjson.dumps(body))

    with make_client(handler) as client:
        assert [r["id"] for r in client.fetch_all("/v3/teams", "data", page_size=1)] == [1, 2]


def test_unpaged_list_sends_no_paging_params() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "page" not in request.url.params
        assert "items_per_page" not in request.url.params
        return httpx.Response(200, content=b'{"targethours": [{"id": 1}]}')

    with make_client(handler) as client:
        assert client.fetch_all("/targethours", "targethours") == [{"id": 1}]


@pytest.mark.parametrize(
    ("body", "status", "error_type", "text"),
    [
        (b'{"error": {"code": 400, "message": "Wrong format", "fields": ["time_since"]}}', 400,
         None, "Wrong format (fields: time_since)"),
        (b'{"errors": [{"type": "ResourceNotFound", "message": "Not found", "details": null}]}',
         404, "ResourceNotFound", "Not found"),
        (b'{"errors": [{"error": {"type": "UnexpectedValue", "message": "bad", "path": "x"}}]}',
         422, "UnexpectedValue", "bad"),
        (b"<html><body>Bad Gateway</body></html>", 403, None, "non-JSON answer (text/html)"),
    ],
)
def test_three_error_shapes_and_html(body: bytes, status: int, error_type: str | None,
                                     text: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": (
            "text/html" if body.startswith(b"<") else "application/json")})

    with make_client(handler) as client, pytest.raises(ClockodoApiError) as caught:
        client.get("/v2/entries")
    assert caught.value.status == status
    assert caught.value.error_type == error_type
    assert caught.value.endpoint == "/v2/entries"
    assert text in str(caught.value)
    assert "key-123" not in str(caught.value)


def test_retries_429_and_5xx_then_succeeds() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(429),
               httpx.Response(502, content=b"<html>502</html>"), httpx.Response(200, content=b"{}")]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    with make_client(handler) as client:
        assert client.get("/v3/users") == {}
        assert client.stats.requests == 4
        assert client.stats.retries == 3
        assert client.stats.throttled == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_never_retries_client_errors(status: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, content=b'{"errors": [{"type": "X", "message": "m"}]}')

    with make_client(handler) as client, pytest.raises(ClockodoApiError):
        client.get("/v3/users")
    assert len(calls) == 1


def test_gives_up_after_max_attempts_on_network_errors() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    with make_client(handler, max_attempts=3) as client, \
            pytest.raises(ClockodoNetworkError, match=r"http://api\.test/api"):
        client.get("/v3/users")
    assert len(calls) == 3


def test_rate_limiter_keeps_every_window_within_budget() -> None:
    limiter = RateLimiter([(3, 0.3), (5, 1.0)])
    stamps = []
    for _ in range(7):
        limiter.acquire()
        stamps.append(time.monotonic())
        limiter.release()
    for index, stamp in enumerate(stamps):
        assert sum(1 for other in stamps[: index + 1] if other > stamp - 0.3) <= 3
        assert sum(1 for other in stamps[: index + 1] if other > stamp - 1.0) <= 5
    assert stamps[5] - stamps[0] >= 1.0
    # the second's budget frees one window after each answer; the loop's own work between an
    # answer and the next request counts towards it but is not waiting (seen: 0.9998 s)
    assert limiter.waited_seconds >= 0.9


def test_rate_limiter_counts_requests_in_flight() -> None:
    limiter = RateLimiter([(2, 0.2)])
    limiter.acquire()
    limiter.acquire()
    acquired = threading.Event()

    def third() -> None:
        limiter.acquire()
        acquired.set()

    worker = threading.Thread(target=third)
    worker.start()
    assert not acquired.wait(0.4)  # both slots are in flight: no amount of time frees one
    released = time.monotonic()
    limiter.release()
    assert acquired.wait(2.0)
    assert time.monotonic() - released >= 0.19  # the freed slot counts for one more window
    worker.join()


def test_retry_after_header_is_honoured() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "1"}),
               httpx.Response(200, content=b"[]")]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    with make_client(handler) as client:
        started = time.monotonic()
        assert client.get("/v3/users") == []
        assert time.monotonic() - started >= 1.0
        assert client.stats.throttled == 1


def test_concurrency_bounds_requests_in_flight() -> None:
    lock = threading.Lock()
    active, peak = [0], [0]

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return paged(list(range(40)), 2, int(request.url.params["page"]))

    with make_client(handler, concurrency=3) as client:
        rows = client.fetch_all("/v4/projects", "data", page_size=2)
    assert len(rows) == 40
    assert peak[0] == 3


def test_minimum_seconds_inside_budgets() -> None:
    assert minimum_seconds(300, [(300, 900.0)]) == 0
    assert minimum_seconds(301, [(300, 900.0)]) == 900
    assert minimum_seconds(1000, [(300, 900.0), (900, 60.0)]) == 3 * 900
