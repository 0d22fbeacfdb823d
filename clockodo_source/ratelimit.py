"""Client-side request budgets, so a run waits for a free slot instead of provoking 429s.

Clockodo counts every request of an API user against several sliding windows at once
(per minute, 15 minutes, hour and day). One limiter instance is shared by all threads of a run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Clockodo's documented per-user budgets: (requests, window seconds).
DEFAULT_BUDGETS: tuple[tuple[int, float], ...] = (
    (900, 60.0),
    (2250, 900.0),
    (4500, 3600.0),
    (20000, 86400.0),
)
#: Extra budget for /v2/entries with enhanced_list=1.
ENHANCED_ENTRIES_BUDGET: tuple[int, float] = (300, 900.0)


@dataclass
class _Window:
    limit: int
    seconds: float
    stamps: deque[float]


class RateLimiter:
    """Sliding-window limiter over several budgets; `acquire` blocks until every budget allows."""

    def __init__(
        self,
        budgets: Sequence[tuple[int, float]],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._windows = [_Window(limit, seconds, deque()) for limit, seconds in budgets]
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def _delay(self, now: float) -> float:
        delay = 0.0
        for window in self._windows:
            while window.stamps and window.stamps[0] <= now - window.seconds:
                window.stamps.popleft()
            if len(window.stamps) >= window.limit:
                delay = max(delay, window.stamps[0] + window.seconds - now)
        return delay

    def acquire(self) -> float:
        """Take one request slot; returns the seconds this call waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    for window in self._windows:
                        window.stamps.append(now)
                    self.waited_seconds += waited
                    return waited
            self._sleep(delay)
            waited += delay
