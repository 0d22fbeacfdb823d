"""Posting a notification to a webhook: retried with doubling waits on 5xx answers, 429 and
connection errors; a webhook that still fails is reported, never raised, so a broken chat
integration does not change what a scheduled check exits with."""

from __future__ import annotations

import time
from typing import Any

import httpx

from clockodo_source.alerts.thresholds import shown_url

ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 10.0
#: the longest ``Retry-After`` of a 429 that is waited for
MAX_RETRY_AFTER = 30.0


def deliver(url: str, body: dict[str, Any], *, attempts: int = ATTEMPTS,
            backoff_seconds: float = BACKOFF_SECONDS,
            timeout_seconds: float = TIMEOUT_SECONDS) -> str | None:
    """POST ``body`` as JSON; None when delivered, else one line saying why not (the URL shown
    without its path, which is a webhook's secret)."""
    problem, tries = "", max(1, attempts)
    with httpx.Client(timeout=timeout_seconds) as client:
        for attempt in range(1, tries + 1):
            wait = backoff_seconds * 2 ** (attempt - 1)
            try:
                response = client.post(url, json=body)
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.is_success:
                    return None
                problem = f"HTTP {response.status_code}"
                if response.status_code == 429:
                    wait = max(wait, _retry_after(response))
                elif response.status_code < 500:
                    break  # the request itself is wrong: sending it again will not help
            if attempt < tries:
                time.sleep(wait)
    return f"webhook {shown_url(url)} failed after {attempt} attempt(s): {problem}"


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", 0)), MAX_RETRY_AFTER)
    except ValueError:
        return 0.0
