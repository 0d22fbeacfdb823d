"""Client-side request budgets, so a run waits for a free slot instead of provoking 429s.

Clockodo counts every request of an API user against several sliding windows at once
(per minute, 15 minutes, hour and day). One limiter instance is shared by all threads of a run.

The server counts a request when it arrives, which is somewhere between when the client sent it
and when the answer came back. So a request holds its slot while in flight and frees it one
window after its answer: then no window of arrivals can ever hold more requests than the budget,
however the network delays them.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from clockodo_source.ledger import RequestLedger

#: Clockodo's documented per-user budgets: (requests, window seconds).
DEFAULT_BUDGETS: tuple[tuple[int, float], ...] = (
    (900, 60.0),
    (2250, 900.0),
    (4500, 3600.0),
    (20000, 86400.0),
)
#: Extra budget of /v2/entries with enhanced_list=1 (entry lists with texts).
ENTRIES_TEXT_BUDGET: tuple[int, float] = (300, 900.0)
#: Extra budget of /v2/entrygroups (reads and the two-phase writes alike).
ENTRYGROUPS_BUDGET: tuple[int, float] = (10, 60.0)

#: a long wait on a binding budget is announced at most this often
ANNOUNCE_SECONDS = 10.0

logger = logging.getLogger("clockodo_source")


@dataclass
class _Window:
    limit: int
    seconds: float
    done: list[float] = field(default_factory=list)  # heap of answer times
    in_flight: int = 0

    def delay(self, now: float) -> float | None:
        """Seconds until a slot frees (0: free now; None: only an answer can free one)."""
        while self.done and self.done[0] <= now - self.seconds:
            heapq.heappop(self.done)
        if self.in_flight + len(self.done) < self.limit:
            return 0.0
        if not self.done:
            return None
        return self.done[0] + self.seconds - now


class RateLimiter:
    """Sliding windows over several budgets; `acquire` blocks until every budget has a slot,
    `release` is called when the answer is in."""

    def __init__(
        self, budgets: Sequence[tuple[int, float]], clock: Callable[[], float] = time.monotonic,
        ledger: RequestLedger | None = None,
    ) -> None:
        """`ledger`: the requests earlier runs of the API user spent, which count here too."""
        self._windows = [_Window(limit, seconds) for limit, seconds in budgets]
        self._clock = clock
        self._changed = threading.Condition()
        self._ledger = ledger
        self._quiet_until = float("-inf")
        self.waited_seconds = 0.0
        if ledger is not None:
            offset = clock() - time.time()
            for window in self._windows:
                window.done = sorted(moment + offset for moment in ledger.recent())

    def acquire(self) -> float:
        """Take one request slot; returns the seconds this call waited."""
        started = self._clock()
        with self._changed:
            while True:
                now = self._clock()
                delays = [(window.delay(now), window) for window in self._windows]
                blocked = [(delay, window) for delay, window in delays if delay != 0.0]
                if not blocked:
                    for window in self._windows:
                        window.in_flight += 1
                    waited = now - started
                    self.waited_seconds += waited
                    return waited
                timed = [delay for delay, _ in blocked if delay is not None]
                timeout = max(timed) if len(timed) == len(blocked) else None
                self._announce(blocked, timeout, now, now - started)
                self._changed.wait(timeout)

    def _announce(self, blocked: list[tuple[float | None, _Window]], timeout: float | None,
                  now: float, waited: float) -> None:
        """Say on the log when a wait lasts a second or more, once per ANNOUNCE_SECONDS: a
        binding budget frees one slot after another, so a long wait is many short ones."""
        if now < self._quiet_until or ((timeout or 0.0) < 1.0 and waited < 1.0):
            return
        self._quiet_until = now + ANNOUNCE_SECONDS
        window = max(blocked, key=lambda item: item[0] or 0.0)[1]
        logger.info("rate budget of %d requests per %.0fs spent (this run's and recent runs' "
                    "requests): waiting %s", window.limit, window.seconds,
                    f"{timeout:.1f}s" if timeout and timeout >= 1.0 else "for a free slot")

    def release(self) -> None:
        """The answer of an acquired request is in: its slot frees one window from now."""
        with self._changed:
            now = self._clock()
            for window in self._windows:
                window.in_flight -= 1
                heapq.heappush(window.done, now)
            if self._ledger is not None:
                self._ledger.record(time.time())
            self._changed.notify_all()


def minimum_seconds(requests: int, budgets: Sequence[tuple[int, float]]) -> float:
    """The least time `requests` requests can take inside `budgets` (each window holds at most
    its limit), for telling users up front how long a backfill will take."""
    return max(
        ((max(requests, 1) - 1) // limit * seconds for limit, seconds in budgets), default=0.0
    )
