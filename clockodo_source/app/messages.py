"""One clear line for every way a run can fail, naming what to fix."""

from __future__ import annotations

from dlt.common.configuration.exceptions import ConfigFieldMissingException

from clockodo_source.errors import (
    BillingError,
    ClockodoApiError,
    ClockodoError,
    ClockodoNetworkError,
    ConfigurationError,
)
from clockodo_source.settings import CATALOG

_CREDENTIALS = (
    "sources.clockodo.api_user and sources.clockodo.api_key in .dlt/secrets.toml "
    "(env SOURCES__CLOCKODO__API_USER / SOURCES__CLOCKODO__API_KEY)"
)


def root_cause(exc: BaseException) -> BaseException:
    """The first connector or config error in dlt's chain of wrapping exceptions."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ClockodoError | ConfigFieldMissingException):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return exc


def _api_message(exc: ClockodoApiError) -> str:
    tables = [entity.name for entity in CATALOG
              if exc.endpoint in (entity.path, entity.fallback_path)]
    where = f"{exc.endpoint} ({', '.join(tables)})" if tables else exc.endpoint
    if exc.status == 401:
        return f"Clockodo rejected the credentials (401 on {where}): check {_CREDENTIALS}"
    if exc.status == 403:
        return (
            f"the Clockodo API user may not read {where} (403): use an owner/admin API key, "
            "or leave the table out with --entities (without --strict it is skipped)"
        )
    if exc.status == 410:
        return (
            f"Clockodo removed the endpoint {where} (410): upgrade clockodo-dlt to a version "
            "that uses the current API"
        )
    if exc.status == 429:
        return (
            f"Clockodo kept answering 429 (rate limit) on {where}: wait, or lower "
            "sources.clockodo.concurrency / rate_budgets"
        )
    return exc.describe()


def describe_failure(exc: BaseException) -> str:
    cause = root_cause(exc)
    if isinstance(cause, ConfigFieldMissingException):
        missing = ", ".join(cause.fields)
        return f"missing configuration ({missing}): set {_CREDENTIALS}"
    if isinstance(cause, ClockodoApiError):
        return _api_message(cause)
    if isinstance(cause, ConfigurationError | ClockodoNetworkError | BillingError):
        return str(cause)
    first_line = (str(cause).strip().splitlines() or ["unexpected failure"])[0]
    return f"{type(cause).__name__}: {first_line} (rerun with --verbose for details)"
