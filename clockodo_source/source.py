"""The dlt source and its API client (exported by the package, see `clockodo_source`).

The source's config section stays `clockodo_source`, the package's name, where the source was
defined first: dlt keys a source's configuration and its state in the pipeline by that section.
"""

from __future__ import annotations

from collections.abc import Sequence

import dlt
from dlt.common.configuration import with_config
from dlt.extract.resource import DltResource

from clockodo_source.client import ClockodoClient
from clockodo_source.options import ClientOptions, Options
from clockodo_source.resources import Context, build_resources
from clockodo_source.settings import DEFAULT_BASE_URL, DEFAULT_FUTURE_DAYS, DEFAULT_LOOKBACK_DAYS
from clockodo_source.stats import SourceStats

__all__ = ["clockodo_client", "clockodo_source"]


@dlt.source(name="clockodo", section="clockodo_source")
def clockodo_source(
    api_user: str = dlt.secrets.value,
    api_key: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    external_application: str | None = None,
    start_date: str = "2000-01-01",
    end_date: str | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    future_days: int = DEFAULT_FUTURE_DAYS,
    window: str = "month",
    full: bool = False,
    enhanced_list: bool = True,
    concurrency: int = 16,
    max_attempts: int = 6,
    backoff_seconds: float = 1.0,
    retry_after_floor_seconds: float = 1.0,
    timeout_seconds: float = 60.0,
    rate_budgets: Sequence[Sequence[float]] | None = None,
    entries_text_budget: Sequence[float] | None = None,
    entrygroups_budget: Sequence[float] | None = None,
    backfill: str | None = None,
    strict: bool = False,
    stats: SourceStats | None = None,
) -> list[DltResource]:
    """Every Clockodo entity as a table.

    `full=True` re-reads the whole history from `start_date` (what `reconcile` does);
    `end_date` reads the fixed window `[start_date, end_date)` without moving incremental state;
    `enhanced_list=False` drops entry texts, names and revenue to escape the 300 requests per
    15 minutes budget Clockodo puts on enhanced entry lists (`entries_text_budget`; like the
    global `rate_budgets` it can be set for other plans or a local API; `entrygroups_budget`
    is the one of billing's writes, validated here with the rest); `backfill`
    ("start/end/window") marks a fixed window as part of a windowed backfill, so its progress
    is checkpointed;
    `strict=True` fails on a table the API user may not read instead of skipping it;
    `stats` receives the run's counters (requests, rows added, updated and removed) for a
    caller that reports them.
    """
    client = ClientOptions.validate(
        api_user=api_user, api_key=api_key, base_url=base_url,
        external_application=external_application, concurrency=concurrency,
        rate_budgets=rate_budgets, entries_text_budget=entries_text_budget,
        entrygroups_budget=entrygroups_budget, timeout_seconds=timeout_seconds,
        max_attempts=max_attempts, backoff_seconds=backoff_seconds,
        retry_after_floor_seconds=retry_after_floor_seconds,
    )
    options = Options.validate(
        client=client, start_date=start_date, end_date=end_date, lookback_days=lookback_days,
        future_days=future_days, window=window, full=full, enhanced_list=enhanced_list,
        strict=strict, backfill=backfill,
    )
    stats = stats if stats is not None else SourceStats()
    return build_resources(Context(ClockodoClient(client, stats=stats.requests), options, stats))


@with_config(sections=("sources", "clockodo"))
def clockodo_client(
    api_user: str = dlt.secrets.value,
    api_key: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    external_application: str | None = None,
    concurrency: int = 16,
    max_attempts: int = 6,
    backoff_seconds: float = 1.0,
    retry_after_floor_seconds: float = 1.0,
    timeout_seconds: float = 60.0,
    rate_budgets: Sequence[Sequence[float]] | None = None,
    entries_text_budget: Sequence[float] | None = None,
    entrygroups_budget: Sequence[float] | None = None,
) -> ClockodoClient:
    """The API client a `clockodo_source()` of the same configuration talks through (same
    credentials, headers, retries and budgets), for calls outside a load: billing's writes to
    `/v2/entrygroups`. Close it when done (it is a context manager)."""
    return ClockodoClient(ClientOptions.validate(
        api_user=api_user, api_key=api_key, base_url=base_url,
        external_application=external_application, concurrency=concurrency,
        rate_budgets=rate_budgets, entries_text_budget=entries_text_budget,
        entrygroups_budget=entrygroups_budget, timeout_seconds=timeout_seconds,
        max_attempts=max_attempts, backoff_seconds=backoff_seconds,
        retry_after_floor_seconds=retry_after_floor_seconds,
    ))
