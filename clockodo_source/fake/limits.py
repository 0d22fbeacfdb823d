"""Rate-limit budgets and fault injection of the fake server.

Both are plain dataclasses a test can replace or tweak while the server runs; the server reads
``server.limits`` / ``server.faults`` afresh on every request.
"""

from __future__ import annotations

import math
import random
import threading
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_BUDGETS: tuple[tuple[int, float], ...] = ((900, 60.0), (2250, 900.0), (4500, 3600.0),
                                                  (20000, 86400.0))

FaultKind = Literal["drop", "429", "500", "502"]


@dataclass
class RateLimits:
    """Per-API-user budgets ``(max_requests, window_seconds)`` as documented by Clockodo.

    ``entries_enhanced`` is the extra budget of ``/v2/entries`` with a truthy ``enhanced_list``;
    ``entrygroups`` the extra budget of ``/v2/entrygroups``, counted per method ("10 / 1 min
    each" for GET, PUT and DELETE).
    """

    budgets: list[tuple[int, float]] = field(default_factory=lambda: list(DEFAULT_BUDGETS))
    entries_enhanced: tuple[int, float] | None = (300, 900.0)
    entrygroups: tuple[int, float] | None = (10, 60.0)


class Limiter:
    """Sliding-window request log per API user; rejected requests do not use up budget."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: dict[tuple[str, str], list[float]] = {}

    def admit(
        self, user: str, limits: RateLimits, enhanced_entries: bool, now: float,
        entrygroups_method: str | None = None,
    ) -> float | None:
        """Record the request and return ``None``, or return seconds until it would fit.
        ``entrygroups_method`` is the method of a request to ``/v2/entrygroups``."""
        scopes: list[tuple[str, list[tuple[int, float]]]] = [("all", limits.budgets)]
        if enhanced_entries and limits.entries_enhanced is not None:
            scopes.append(("entries_enhanced", [limits.entries_enhanced]))
        if entrygroups_method and limits.entrygroups is not None:
            scopes.append((f"entrygroups {entrygroups_method}", [limits.entrygroups]))
        with self._lock:
            waits = [_wait(self._times(user, scope, budgets, now), budgets, now)
                     for scope, budgets in scopes]
            if any(wait is not None for wait in waits):
                return max(wait for wait in waits if wait is not None)
            for scope, _ in scopes:
                self._history[(user, scope)].append(now)
            return None

    def _times(
        self, user: str, scope: str, budgets: list[tuple[int, float]], now: float
    ) -> list[float]:
        times = self._history.setdefault((user, scope), [])
        horizon = max((window for _, window in budgets), default=0.0)
        del times[:bisect_right(times, now - horizon)]
        return times


def _wait(times: list[float], budgets: list[tuple[int, float]], now: float) -> float | None:
    """Longest wait any exhausted budget imposes, ``None`` if every budget has room."""
    waits = []
    for max_requests, window in budgets:
        recent = len(times) - bisect_right(times, now - window)
        if recent >= max_requests:
            oldest_blocking = times[len(times) - max_requests] if max_requests else now
            waits.append(oldest_blocking + window - now)
    return max(waits) if waits else None


def retry_after_header(wait: float) -> str:
    """Whole seconds, at least one, as the ``Retry-After`` header carries them."""
    return str(max(1, math.ceil(wait)))


@dataclass
class Faults:
    """Injected failures (all off by default). Fractions are probabilities per request.

    ``retry_after`` lists the ``Retry-After`` values injected 429s choose from (``None`` = no
    header). ``only_paths`` restricts every fault, latency included, to paths with that prefix
    (relative to ``/api``). Draws come from an RNG seeded with ``seed``.
    """

    rate_429: float = 0.0
    retry_after: tuple[int | None, ...] = (None, 0, 1)
    rate_500: float = 0.0
    rate_502: float = 0.0
    latency: float = 0.0
    drop_rate: float = 0.0
    only_paths: str | tuple[str, ...] | None = None
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False,
                                  default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def applies(self, path: str) -> bool:
        """Whether faults are active for ``path``."""
        if self.only_paths is None:
            return True
        prefixes = (self.only_paths,) if isinstance(self.only_paths, str) else self.only_paths
        return path.startswith(prefixes)

    def draw(self, path: str) -> tuple[FaultKind, int | None] | None:
        """The fault for this request (and its Retry-After for 429s), or ``None``."""
        if not self.applies(path):
            return None
        chances: list[tuple[FaultKind, float]] = [
            ("drop", self.drop_rate), ("429", self.rate_429), ("500", self.rate_500),
            ("502", self.rate_502),
        ]
        if not any(chance for _, chance in chances):
            return None
        with self._lock:
            roll = self._rng.random()
            retry_after = self._rng.choice(self.retry_after) if self.retry_after else None
        for kind, chance in chances:
            if roll < chance:
                return kind, retry_after
            roll -= chance
        return None
