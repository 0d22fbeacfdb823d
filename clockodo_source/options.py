"""Validation of every source option before any request is made.

Each message names the option (as dlt config key) and shows a valid value, because a scheduled
job's log line is often all a user sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from clockodo_source.errors import ConfigurationError
from clockodo_source.ratelimit import DEFAULT_BUDGETS, ENTRIES_TEXT_BUDGET, ENTRYGROUPS_BUDGET
from clockodo_source.scan import BackfillPlan, ScanOptions
from clockodo_source.settings import EXTERNAL_APPLICATION_MAX
from clockodo_source.windows import WINDOW_UNITS


def _key(name: str) -> str:
    return f"sources.clockodo.{name} (env SOURCES__CLOCKODO__{name.upper()})"


def parse_date(value: str | date, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigurationError(
            f"{name} must be a date (got {value!r}); e.g. 2024-01-31"
        ) from None


def _non_negative(value: int, name: str, example: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigurationError(
            f"{_key(name)} must be a whole number >= 0 (got {value!r}); e.g. {example}"
        )
    return value


@dataclass(frozen=True)
class ClientOptions:
    """How to talk to Clockodo: shared by the source's client and billing's writes."""

    base_url: str
    external_application: str
    concurrency: int
    budgets: tuple[tuple[int, float], ...]
    #: the budget of entry lists with texts (`enhanced_list`), on top of `budgets`
    entries_text_budget: tuple[int, float]
    #: the budget of `/v2/entrygroups` (billing's writes), on top of `budgets`
    entrygroups_budget: tuple[int, float]

    @classmethod
    def validate(
        cls,
        *,
        api_user: str,
        api_key: str,
        base_url: str,
        external_application: str | None,
        concurrency: int,
        rate_budgets: Sequence[Sequence[float]] | None,
        entries_text_budget: Sequence[float] | None = None,
        entrygroups_budget: Sequence[float] | None = None,
    ) -> ClientOptions:
        for name, value in (("api_user", api_user), ("api_key", api_key)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(
                    f"{_key(name)} is empty; set it in .dlt/secrets.toml, e.g. "
                    f"{name} = \"{'you@example.com' if name == 'api_user' else 'your-api-key'}\""
                )
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"{_key('base_url')} must be an http(s) URL (got {base_url!r}); "
                "e.g. https://my.clockodo.com/api"
            )
        application = external_application or default_external_application(api_user)
        if len(application) > EXTERNAL_APPLICATION_MAX:
            raise ConfigurationError(
                f"{_key('external_application')} is {len(application)} characters, Clockodo "
                f"allows {EXTERNAL_APPLICATION_MAX}; e.g. 'acme-etl;it@acme.com'"
            )
        if not isinstance(concurrency, int) or not 1 <= concurrency <= 32:
            raise ConfigurationError(
                f"{_key('concurrency')} must be a whole number from 1 to 32 (got "
                f"{concurrency!r}); e.g. 4"
            )
        return cls(
            base_url.rstrip("/"), application, concurrency, rate_budgets_option(rate_budgets),
            _budget_option(entries_text_budget, "entries_text_budget", ENTRIES_TEXT_BUDGET),
            _budget_option(entrygroups_budget, "entrygroups_budget", ENTRYGROUPS_BUDGET),
        )


@dataclass(frozen=True)
class SourceOptions:
    client: ClientOptions
    scan: ScanOptions

    @classmethod
    def validate(
        cls,
        *,
        api_user: str,
        api_key: str,
        base_url: str,
        external_application: str | None,
        start_date: str | date,
        end_date: str | date | None,
        lookback_days: int,
        future_days: int,
        window: str,
        full: bool,
        concurrency: int,
        rate_budgets: Sequence[Sequence[float]] | None,
        entries_text_budget: Sequence[float] | None = None,
        entrygroups_budget: Sequence[float] | None = None,
        backfill: str | None = None,
        now: datetime | None = None,
    ) -> SourceOptions:
        client = ClientOptions.validate(
            api_user=api_user, api_key=api_key, base_url=base_url,
            external_application=external_application, concurrency=concurrency,
            rate_budgets=rate_budgets, entries_text_budget=entries_text_budget,
            entrygroups_budget=entrygroups_budget,
        )
        start = parse_date(start_date, _key("start_date"))
        end = parse_date(end_date, _key("end_date")) if end_date else None
        if end is not None and end <= start:
            raise ConfigurationError(
                f"{_key('end_date')} ({end}) must be after start_date ({start}); the range is "
                "[start_date, end_date), e.g. start 2024-01-01 and end 2025-01-01 for 2024"
            )
        if window not in WINDOW_UNITS:
            raise ConfigurationError(
                f"{_key('window')} must be one of {', '.join(WINDOW_UNITS)} (got {window!r}); "
                "e.g. month"
            )
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        scan = ScanOptions(
            start_date=start,
            end_date=end,
            lookback_days=_non_negative(lookback_days, "lookback_days", "35"),
            future_days=_non_negative(future_days, "future_days", "366"),
            window=window,
            full=bool(full),
            now=moment,
            backfill=_backfill(backfill, end),
        )
        return cls(client, scan)


def default_external_application(api_user: str) -> str:
    """`clockodo-dlt;<e-mail>` within Clockodo's 50 characters: the name is shortened first,
    since the e-mail is the contact Clockodo asks for (only an e-mail over 49 characters is
    itself cut)."""
    email = api_user.strip()[: EXTERNAL_APPLICATION_MAX - 1]
    name = "clockodo-dlt"[: EXTERNAL_APPLICATION_MAX - 1 - len(email)]
    return f"{name};{email}"


def _backfill(marker: str | None, end: date | None) -> BackfillPlan | None:
    if not marker:
        return None
    try:
        plan = BackfillPlan.parse(marker)
    except ValueError:
        raise ConfigurationError(
            f"{_key('backfill')} must be 'start/end/window' (got {marker!r}); "
            "e.g. 2020-01-01/2024-01-01/month"
        ) from None
    if end is None:
        raise ConfigurationError(f"{_key('backfill')} needs {_key('end_date')} (one window)")
    return plan


def _pairs(value: Sequence[Sequence[float]]) -> tuple[tuple[int, float], ...]:
    try:
        pairs = tuple((int(count), float(seconds)) for count, seconds in value)
    except (TypeError, ValueError):
        return ()
    return () if any(count < 1 or seconds <= 0 for count, seconds in pairs) else pairs


def rate_budgets_option(value: Sequence[Sequence[float]] | None) -> tuple[tuple[int, float], ...]:
    """`rate_budgets`: Clockodo's global request budgets unless configured."""
    if value is None:
        return DEFAULT_BUDGETS
    budgets = _pairs(value)
    if not budgets:
        raise ConfigurationError(
            f"{_key('rate_budgets')} must be a list of [requests, seconds] pairs; "
            "e.g. [[900, 60], [2250, 900], [4500, 3600], [20000, 86400]]"
        )
    return budgets


def entries_text_budget_option(value: Sequence[float] | None) -> tuple[int, float]:
    """`entries_text_budget`: Clockodo's budget of entry lists with texts unless configured."""
    return _budget_option(value, "entries_text_budget", ENTRIES_TEXT_BUDGET)


def _budget_option(value: Sequence[float] | None, name: str, default: tuple[int, float]
                   ) -> tuple[int, float]:
    """One [requests, seconds] budget of an endpoint; `default` (Clockodo's) unless set."""
    if value is None:
        return default
    budgets = _pairs([value]) if isinstance(value, Sequence) and len(value) == 2 else ()
    if not budgets:
        raise ConfigurationError(
            f"{_key(name)} must be one [requests, seconds] pair; "
            f"e.g. [{default[0]}, {default[1]:g}]"
        )
    return budgets[0]
