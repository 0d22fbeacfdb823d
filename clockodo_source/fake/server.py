"""The fake Clockodo HTTP server: stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive.

Request pipeline, in the order the real service (and the proxy in front of it) applies it:
injected latency and faults, authentication, the external-application header, rate limits,
routing (404 / 410 / 405), the handler.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

import orjson

from .company import FakeCompany
from .entrygroups import EntryGroupWrites
from .limits import Faults, Limiter, RateLimits, retry_after_header
from .routes import GENERAL, ApiError, Call, Router, style_of

_HTML_ERRORS = {
    500: b"<html><body><h1>500 Internal Server Error</h1></body></html>",
    502: b"<html><body><h1>502 Bad Gateway</h1></body></html>",
}
MAX_EXTERNAL_APPLICATION = 50


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it; ``status`` 0 means the connection was dropped.
    ``received`` is when it arrived, ``time`` when it was answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    time: float
    api_user: str | None
    received: float


@dataclass
class Reply:
    """What to send back; ``None`` instead of a reply means: close without answering."""

    status: int
    body: bytes
    content_type: str = "application/json"
    retry_after: str | None = None


class FakeClockodoServer:
    """Serves a :class:`FakeCompany` under ``/api`` on a daemon thread."""

    def __init__(
        self, company: FakeCompany, api_user: str = "demo@example.com",
        api_key: str = "demo-key", host: str = "127.0.0.1", port: int = 0, *,
        surcharge_models_route: bool = True,
    ) -> None:
        self.company = company
        self.api_user, self.api_key = api_user, api_key
        self.faults = Faults()
        #: paths (without /api) that answer with this status, e.g. 403 for a user lacking
        #: rights or 410 for a route removed upstream
        self.forced_status: dict[str, int] = {}
        #: the two-phase writes of /v2/entrygroups: their log and switches for tests
        self.entrygroups = EntryGroupWrites()
        self._limits = RateLimits()
        self._limiter = Limiter()
        self.requests: list[RequestRecord] = []
        self.budget_violations = 0
        self._log_lock = threading.Lock()
        disabled = frozenset() if surcharge_models_route else frozenset({"surcharge_models"})
        self._router = Router(disabled)
        self._httpd = _HTTPServer((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL including ``/api``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/api"

    @property
    def limits(self) -> RateLimits:
        """Current budgets; assigning new ones also forgets the requests counted so far."""
        return self._limits

    @limits.setter
    def limits(self, limits: RateLimits) -> None:
        self._limits = limits
        self._limiter = Limiter()

    def start(self) -> FakeClockodoServer:
        """Serve on a daemon thread; returns ``self`` for chaining."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                            name="fake-clockodo", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idle keep-alive threads die with the process)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeClockodoServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def request_count(self, path_prefix: str = "") -> int:
        """Requests logged so far whose path (without ``/api``) starts with the prefix."""
        with self._log_lock:
            return sum(1 for record in self.requests if record.path.startswith(path_prefix))

    # ------------------------------------------------------------ pipeline

    def respond(self, method: str, target: str, headers: dict[str, str],
                body: bytes = b"") -> Reply | None:
        """Answer one request (``headers`` with lower-case names); also logs it."""
        received = time.time()
        parts = urlsplit(target)
        path = parts.path[4:] if parts.path.startswith("/api/") else parts.path
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        user = self._authenticated_user(headers)
        reply = self._reply(method, parts.path, path, query, headers, user, body)
        status = reply.status if reply else 0
        self._log(RequestRecord(method, path, query, status, time.time(), user, received))
        return reply

    def _reply(self, method: str, full_path: str, path: str, query: dict[str, list[str]],
               headers: dict[str, str], user: str | None, body: bytes) -> Reply | None:
        faults = self.faults
        if faults.latency and faults.applies(path):
            time.sleep(faults.latency)
        fault = faults.draw(path)
        if fault is not None:
            return _fault_reply(*fault)
        style = style_of(path)
        try:
            if not full_path.startswith("/api/"):
                raise ApiError(404, "The requested route could not be found.", "RouteNotFound")
            known_user = self._check_access(headers, user)
            self._check_budget(known_user, method, path, query)
            self._check_forced(path)
            return self._dispatch(method, path, query, known_user, body)
        except ApiError as error:
            return Reply(error.status, orjson.dumps(error.body(style)),
                         retry_after=error.retry_after)
        except Exception as error:  # a bug in the fake must not look like a dropped connection
            traceback.print_exc()
            failure = ApiError(500, repr(error), "InternalServerError")
            return Reply(500, orjson.dumps(failure.body(style)))

    def _authenticated_user(self, headers: dict[str, str]) -> str | None:
        """The API user when either auth method carries the right credentials."""
        if (headers.get("x-clockodoapiuser") == self.api_user
                and headers.get("x-clockodoapikey") == self.api_key):
            return self.api_user
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            if decoded == f"{self.api_user}:{self.api_key}":
                return self.api_user
        return None

    @staticmethod
    def _check_access(headers: dict[str, str], user: str | None) -> str:
        """Credentials first, then the mandatory application header; returns the user."""
        if user is None:
            raise ApiError(401, "Authentication failed", "AuthenticationFailed")
        application = headers.get("x-clockodo-external-application")
        if not application:
            raise ApiError(400, "Missing header X-Clockodo-External-Application",
                           "MissingExternalApplication", ["X-Clockodo-External-Application"])
        if len(application) > MAX_EXTERNAL_APPLICATION:
            raise ApiError(400, "X-Clockodo-External-Application must not exceed 50 characters",
                           "InvalidExternalApplication", ["X-Clockodo-External-Application"])
        return user

    def _check_budget(self, user: str, method: str, path: str,
                      query: dict[str, list[str]]) -> None:
        enhanced = path == "/v2/entries" and query.get("enhanced_list", [""])[-1].lower() in (
            "1", "true")
        entrygroups = method if path == "/v2/entrygroups" else None
        wait = self._limiter.admit(user, self.limits, enhanced, time.monotonic(), entrygroups)
        if wait is not None:
            with self._log_lock:
                self.budget_violations += 1
            raise ApiError(429, "Too many requests", "TooManyRequests",
                           retry_after=retry_after_header(wait))

    def _check_forced(self, path: str) -> None:
        status = self.forced_status.get(path)
        if status is not None:
            message, kind = _FORCED.get(status, (f"Forced status {status}", "Forced"))
            raise ApiError(status, message, kind)

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]], user: str,
                  body: bytes) -> Reply:
        match = self._router.resolve(path)
        if method not in match.route.methods:
            raise ApiError(405, "Method not allowed", "MethodNotAllowed")
        params: dict[str, list[str]] = {}
        for key, values in query.items():
            params.setdefault(key.removesuffix("[]"), []).extend(values)
        call = Call(self.company, params, match.args, user, method, body, self.entrygroups)
        return Reply(200, orjson.dumps(match.route.handler(call)))

    def _log(self, record: RequestRecord) -> None:
        with self._log_lock:
            self.requests.append(record)


_FORCED = {
    403: ("You are not allowed to access this resource.", "Forbidden"),
    410: ("deprecated", "Deprecated"),
}


def _fault_reply(kind: str, retry_after: int | None) -> Reply | None:
    if kind == "drop":
        return None
    if kind == "429":
        body = ApiError(429, "Too many requests", "TooManyRequests").body(GENERAL)
        header = None if retry_after is None else str(retry_after)
        return Reply(429, orjson.dumps(body), retry_after=header)
    status = int(kind)
    return Reply(status, _HTML_ERRORS[status], content_type="text/html")


class _HTTPServer(ThreadingHTTPServer):
    """Carries the app; never blocks shutdown on idle keep-alive connections.

    The listen backlog is a real server's, not socketserver's 5: a client opening more
    connections at once would otherwise see some connects retried a second later.
    """

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 app: FakeClockodoServer) -> None:
        super().__init__(address, handler)
        self.app = app


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.app.respond(method, self.path, headers, body)
        if reply is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.retry_after is not None:
            self.send_header("Retry-After", reply.retry_after)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request stderr log."""
