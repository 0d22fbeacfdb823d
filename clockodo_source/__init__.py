"""A dlt source for the Clockodo time tracking API.

`clockodo_source()` reads credentials and options from dlt config (`[sources.clockodo]` in
`.dlt/config.toml` / `secrets.toml`, or `SOURCES__CLOCKODO__<NAME>` env vars);
`clockodo_client()` gives the same configuration's API client for calls outside a load.

Both are imported on first use: dlt takes seconds to import, and `clockodo-pipeline` (whose
modules live in this package) must handle a Ctrl-C from its first instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clockodo_source.source import clockodo_client, clockodo_source

__all__ = ["clockodo_client", "clockodo_source"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from clockodo_source import source

    value = getattr(source, name)
    globals()[name] = value
    return value
