"""Validation of every source option before any request is made.

Each message names the option (as dlt config key) and shows a valid value, because a scheduled
job's log line is often all a user sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from clockodo_source.errors import ConfigurationError
from clockodo_source.ratelimit import DEFAULT_BUDGETS, ENTRIES_TEXT_BUDGET, ENTRYGROUPS_BUDGET
from clockodo_source.scan import BackfillPlan, ScanOptions
from clockodo_source.settings import DEFAULT_BASE_URL, EXTERNAL_APPLICATION_MAX
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
    """How to talk to Clockodo: the source's client and billing's writes share them. The
    defaults are the source's; `validate` checks values read from config."""

    api_user: str
    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    external_application: str = ""
    concurrency: int = 16
    budgets: tuple[tuple[int, float], ...] = DEFAULT_BUDGETS
    #: the budget of entry lists with texts (`enhanced_list`), on top of `budgets`
    entries_text_budget: tuple[int, float] = ENTRIES_TEXT_BUDGET
    #: the budget of `/v2/entrygroups` (billing's writes), on top of `budgets`
    entrygroups_budget: tuple[int, float] = ENTRYGROUPS_BUDGET
    timeout_seconds: float = 60.0
    max_attempts: int = 6
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    retry_after_floor_seconds: float = 1.0

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
        timeout_seconds: float = 60.0,
        max_attempts: int = 6,
        backoff_seconds: float = 1.0,
        retry_after_floor_seconds: float = 1.0,
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
            api_user, api_key, base_url.rstrip("/"), application, concurrency,
            rate_budgets_option(rate_budgets),
            _budget_option(entries_text_budget, "entries_text_budget", ENTRIES_TEXT_BUDGET),
            _budget_option(entrygroups_budget, "entrygroups_budget", ENTRYGROUPS_BUDGET),
            timeout_seconds=_positive(timeout_seconds, "timeout_seconds", "60"),
            max_attempts=max(_non_negative(max_attempts, "max_attempts", "6"), 1),
            backoff_seconds=_positive(backoff_seconds, "backoff_seconds", "1", zero=True),
            retry_after_floor_seconds=_positive(retry_after_floor_seconds,
                                                "retry_after_floor_seconds", "1", zero=True),
        )

    @property
    def account(self) -> str:
        """The account as a person names it: the API user at the API's host (without port, so
        the demo's fake API on a new port each time is still the same account)."""
        host = urlsplit(self.base_url).hostname or self.base_url
        return f"{self.api_user.strip().lower()} at {host}"


@dataclass(frozen=True)
class Options:
    """Every option of a source, validated once and handed down whole: how to talk to
    Clockodo, what to scan, and how to read."""

    client: ClientOptions
    scan: ScanOptions
    #: read entry texts, names and revenue (entry lists then have a budget of their own)
    enhanced_list: bool = True
    #: fail on a table the API user may not read instead of skipping it
    strict: bool = False

    @classmethod
    def validate(
        cls,
        *,
        client: ClientOptions,
        start_date: str | date,
        end_date: str | date | None,
        lookback_days: int,
        future_days: int,
        window: str,
        full: bool,
        enhanced_list: bool = True,
        strict: bool = False,
        backfill: str | None = None,
        now: datetime | None = None,
    ) -> Options:
        start = parse_date(start_date, _key("start_date"))
        end = parse_date(end_date, _key("end_date")) if end_date else None
        check_range(start, end, _key("start_date"), _key("end_date"))
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        scan = ScanOptions(
            start_date=start,
            end_date=end,
            lookback_days=_non_negative(lookback_days, "lookback_days", "35"),
            future_days=_non_negative(future_days, "future_days", "366"),
            window=window_option(window, _key("window")),
            full=bool(full),
            now=moment,
            backfill=_backfill(backfill, end),
        )
        return cls(client, scan, bool(enhanced_list), bool(strict))


def check_range(start: date, end: date | None, start_name: str, end_name: str) -> None:
    """A half-open range `[start, end)` must hold a day (the CLI's dates use it too)."""
    if end is not None and end <= start:
        raise ConfigurationError(
            f"{end_name} ({end}) must be after {start_name} ({start}); the range is "
            "[start, end), e.g. start 2024-01-01 and end 2025-01-01 for 2024"
        )


def window_option(window: str, name: str) -> str:
    """A window unit (the source's `window`, the CLI's `--window`)."""
    if window not in WINDOW_UNITS:
        raise ConfigurationError(
            f"{name} must be one of {', '.join(WINDOW_UNITS)} (got {window!r}); e.g. month"
        )
    return window


def _positive(value: float, name: str, example: str, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
            value == 0 and not zero):
        raise ConfigurationError(
            f"{_key(name)} must be a number of seconds > 0 (got {value!r}); e.g. {example}"
        )
    return float(value)


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
