"""The fake Clockodo API of the benchmark, in a process of its own, answering from memory.

Run as a script it builds a sample company, serves it on loopback and prints one JSON line
(``url``, ``entries``, ``first_day``); then it reads one JSON command per line from stdin and
answers each with one JSON line, until stdin closes. :class:`FakeApi` is the parent's side.

A separate process keeps the server's CPU time out of the pipeline process, and answering a
request it has answered before from the stored body cuts that time to a dictionary look-up:
run.py makes unmeasured runs first (a full one, then a no-change one where a no-change run is
measured), so the measured runs find their pages prepared, whatever requests the connector makes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.limits import Faults, RateLimits
from clockodo_source.fake.server import FakeClockodoServer, Reply
from clockodo_source.fake.wire import to_ts

API_USER = "bench@example.com"
API_KEY = "bench-key"
ENTRIES_PATH = "/v2/entries"

RequestKey = tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]]


class PreparedServer(FakeClockodoServer):
    """Answers a request it has answered before with the stored body.

    Only the handler is skipped (``_dispatch`` is the fake's step after latency,
    authentication and rate budgets), so limits and their violations work as in the plain fake.
    """

    def __init__(self, company: FakeCompany) -> None:
        super().__init__(company, API_USER, API_KEY)
        self.bodies: dict[RequestKey, bytes] = {}
        self.misses = 0
        self._misses_lock = threading.Lock()

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]], user: str,
                  body: bytes) -> Reply:
        key = (method, path, tuple(sorted((name, tuple(values)) for name, values in query.items())))
        body = self.bodies.get(key)
        if body is not None:
            return Reply(200, body)
        reply = super()._dispatch(method, path, query, user, body)
        self.bodies[key] = reply.body
        with self._misses_lock:
            self.misses += 1
        return reply


@dataclass(frozen=True)
class ServerStats:
    """What the server saw since the previous :meth:`FakeApi.stats` call.

    ``first``/``last`` are the arrival times of the first and last answered (200) request.
    """

    requests: int
    entries_requests: int
    answered: int
    violations: int
    misses: int
    first: float
    last: float


class _Control:
    """The child's side of the command channel."""

    def __init__(self, server: PreparedServer) -> None:
        self.server = server
        self._seen = 0
        self._violations = 0
        self._misses = 0
        self.configure(0.0, None)

    def configure(self, latency: float, budgets: list[list[float]] | None) -> dict[str, Any]:
        """Latency per request, and the budgets (``None``: no limit at all)."""
        self.server.faults = Faults(latency=latency)
        chosen = [(int(count), float(seconds)) for count, seconds in budgets or []]
        self.server.limits = RateLimits(budgets=chosen, entries_enhanced=None)
        return {}

    def dump(self, directory: str) -> dict[str, Any]:
        """Write every entries page answered so far to `directory`, one file each."""
        bodies = [body for (_, path, _), body in sorted(list(self.server.bodies.items()))
                  if path == ENTRIES_PATH]
        for number, body in enumerate(bodies):
            (Path(directory) / f"{number:06d}.json").write_bytes(body)
        return {"pages": len(bodies)}

    def stats(self) -> dict[str, Any]:
        """Counters since the previous call (see :class:`ServerStats`)."""
        server = self.server
        records = server.requests[self._seen:]
        self._seen += len(records)
        answered = [record.time for record in records if record.status == 200]
        violations = server.budget_violations - self._violations
        misses = server.misses - self._misses
        self._violations, self._misses = server.budget_violations, server.misses
        return {
            "requests": len(records),
            "entries_requests": sum(1 for record in records if record.path == ENTRIES_PATH),
            "answered": len(answered),
            "violations": violations,
            "misses": misses,
            "first": min(answered, default=0.0),
            "last": max(answered, default=0.0),
        }


def serve(entries: int, start: date | None) -> None:
    """The child process: build, announce, then obey commands until stdin closes."""
    company = FakeCompany(CompanyConfig(entries=entries, start=start))
    far = to_ts(company.now + timedelta(days=3650))
    count, first_rows = company.entries_page(0, far, 1, 1, enhanced=False)
    first_day = date.fromisoformat(first_rows[0]["time_since"][:10]) if first_rows else (
        company.now.date())
    server = PreparedServer(company)
    control = _Control(server)
    with server:
        print(json.dumps({"url": server.url, "entries": count,
                          "first_day": first_day.isoformat()}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command["op"] == "configure":
                answer = control.configure(command["latency"], command["budgets"])
            elif command["op"] == "dump":
                answer = control.dump(command["directory"])
            else:
                answer = control.stats()
            print(json.dumps(answer), flush=True)


class FakeApi:
    """The parent's handle on a fake API process; closing stdin stops it."""

    def __init__(self, entries: int, start: date | None = None) -> None:
        args = [sys.executable, str(Path(__file__).resolve()), "--entries", str(entries)]
        if start is not None:
            args += ["--start", start.isoformat()]
        self._process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
        hello = self._read()
        self.url: str = hello["url"]
        self.entries: int = hello["entries"]
        self.first_day = date.fromisoformat(hello["first_day"])

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake API process exited ({self._process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _call(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        return self._read()

    def configure(self, latency: float = 0.0,
                  budgets: list[tuple[int, float]] | None = None) -> None:
        """Set the latency added to every request and the budgets (``None``: unlimited)."""
        self._call({"op": "configure", "latency": latency, "budgets": budgets})

    def dump_entry_pages(self, directory: Path) -> list[bytes]:
        """The entries pages answered so far, written to `directory` and read back."""
        directory.mkdir(parents=True, exist_ok=True)
        self._call({"op": "dump", "directory": str(directory)})
        return [path.read_bytes() for path in sorted(directory.glob("*.json"))]

    def stats(self) -> ServerStats:
        """Counters since the previous call."""
        return ServerStats(**self._call({"op": "stats"}))

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> FakeApi:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, required=True)
    parser.add_argument("--start", type=date.fromisoformat, help="first day of the company")
    args = parser.parse_args()
    serve(args.entries, args.start)


if __name__ == "__main__":
    main()
