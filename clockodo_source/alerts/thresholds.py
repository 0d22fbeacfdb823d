"""The alert settings: thresholds and webhook URLs from dlt config section ``[alerts]``.

Every key can also come from the environment (``ALERTS__<KEY>``). A misspelt key would
otherwise leave a default silently in force, so keys that are not settings are refused, as are
values that are not numbers, each with one line naming the key.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

import dlt
from dlt.common.typing import AnyType

from clockodo_source.errors import ConfigurationError

SECTION = "alerts"
NOTIFY = "notify"
#: thresholds counted in whole days
_WHOLE_DAYS = frozenset({"unbilled_days", "missing_days"})


@dataclass(frozen=True)
class Thresholds:
    """When each rule fires; the defaults are the contract's."""

    #: a project budget used at least this much (percent) is a warning ...
    budget_warn_pct: float = 80.0
    #: ... and at least this much critical
    budget_crit_pct: float = 100.0
    #: a customer's oldest unbilled entry older than this many days
    unbilled_days: float = 30.0
    #: a clock running longer than this many hours
    running_hours: float = 12.0
    #: past workdays looked at for days without booked time
    missing_days: float = 7.0
    #: a current-year overtime balance of at least this many hours
    overtime_hours: float = 80.0
    #: the last successful load older than this many hours
    stale_hours: float = 24.0

    def __post_init__(self) -> None:
        for name in self.names():
            object.__setattr__(self, name, _number(name, getattr(self, name)))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    @classmethod
    def from_config(cls) -> Thresholds:
        """The configured thresholds; unknown keys and non-numeric values are refused."""
        known = {*cls.names(), NOTIFY}
        for key in sorted(_configured_keys()):
            if key not in known:
                raise ConfigurationError(
                    f"{_where(key)} is not an alerts setting; the settings are "
                    f"{', '.join(sorted(known))}"
                )
        configured: dict[str, Any] = {
            name: dlt.config.get(f"{SECTION}.{name}") for name in cls.names()
        }
        return cls(**{name: value for name, value in configured.items() if value is not None})


def notify_urls(given: Sequence[str] | None = None) -> list[str]:
    """Webhook URLs: those ``given`` (``--notify``), else config ``alerts.notify`` (a list or one
    URL). Anything but an http(s) URL is refused here, before any request is made."""
    if given:
        return [check_url(url, "--notify") for url in given]
    configured: Any = dlt.config.get(f"{SECTION}.{NOTIFY}")
    return [check_url(url, _where(NOTIFY)) for url in _url_list(configured)]


def check_url(url: Any, origin: str) -> str:
    parts = urlsplit(str(url).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{origin} must be an http(s) URL such as a Slack or Mattermost incoming webhook "
            f"(https://hooks.slack.com/services/...); got {shown_url(str(url))!r}"
        )
    return str(url).strip()


def shown_url(url: str) -> str:
    """A URL as output may show it: a webhook's path is its secret, so only scheme and host."""
    parts = urlsplit(url.strip())
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/..."
    return f"{parts.scheme}:..." if parts.scheme else "(no scheme)"


def _url_list(configured: Any) -> list[Any]:
    if configured is None:
        return []
    if isinstance(configured, str):
        text = configured.strip()
        if text.startswith("["):  # a list in an environment variable is JSON
            try:
                configured = json.loads(text)
            except ValueError:
                raise ConfigurationError(
                    f"{_where(NOTIFY)} must be a URL or a JSON list of URLs "
                    '(e.g. ["https://hooks.slack.com/services/..."])'
                ) from None
        else:
            return [text]
    if isinstance(configured, Iterable) and not isinstance(configured, Mapping):
        return list(configured)
    raise ConfigurationError(f"{_where(NOTIFY)} must be a URL or a list of URLs")


def _configured_keys() -> set[str]:
    """Keys set in any config provider's ``[alerts]`` section or as ``ALERTS__*`` variables."""
    prefix = f"{SECTION.upper()}__"
    keys = {name[len(prefix):].lower() for name in os.environ if name.upper().startswith(prefix)}
    for provider in dlt.config.config_providers:
        section, _ = provider.get_value(SECTION, AnyType, None)
        if isinstance(section, Mapping):
            keys.update(str(key) for key in section)
    return keys


def _number(name: str, value: Any) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{_where(name)} must be a number, e.g. {_default(name):g} (got {value!r})"
        ) from None
    if not math.isfinite(number) or number < 0:
        raise ConfigurationError(
            f"{_where(name)} must be zero or more, e.g. {_default(name):g} (got {value!r})"
        )
    if name in _WHOLE_DAYS and not number.is_integer():
        raise ConfigurationError(
            f"{_where(name)} must be a whole number of days, e.g. {_default(name):g} "
            f"(got {value!r})"
        )
    return number


def _default(name: str) -> float:
    return float(getattr(Thresholds, name))


def _where(key: str) -> str:
    return f"{SECTION}.{key} (env {SECTION.upper()}__{key.upper()})"
