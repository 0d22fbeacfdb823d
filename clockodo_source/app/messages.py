"""One clear line for every way a run can fail, naming what to fix.

dlt wraps what went wrong in exceptions of its own (`PipelineStepFailed` around a
`DestinationConnectionError` around DuckDB's `IOException`, a Ctrl-C included); the line names
the innermost cause, the one a user can act on. (A Ctrl-C is not a failure: the CLI reports
it, wrapped or not, as an interruption, see `clockodo_source.app.process`.)
"""

from __future__ import annotations

import difflib
import errno
import re
from collections.abc import Iterator, Sequence

import dlt.destinations
import duckdb
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    LookupTrace,
    LookupTraces,
)
from dlt.common.destination.client import DestinationClientConfiguration
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.exceptions import MissingDependencyException

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


#: causes that have a message of their own, found first in a chain of wrapping exceptions (a
#: missing package can have an unrelated missing setting as its context)
_KNOWN = (ClockodoError, MissingDependencyException, ConfigFieldMissingException,
          UnknownDestinationModule, duckdb.Error, OSError)
#: extras of clockodo-dlt that install a destination's packages
_EXTRAS = {"postgres": "postgres", "filesystem": "filesystem"}
#: an example value of the settings most often missing
_EXAMPLES = {
    "destination.postgres.credentials": "postgresql://user:password@host:5432/database",
    "destination.filesystem.bucket_url": "file:///data/lake or s3://bucket/path",
}
#: what DuckDB says when it cannot open its file, and when another process holds its lock
_CANNOT_OPEN = re.compile(r'Cannot open (?:database|file) "(?P<path>[^"]+)"(?:[^:]*): (?P<why>.+)')
_LOCKED = re.compile(r'Could not set lock on file "(?P<path>[^"]+)": Conflicting lock is held '
                     r"in (?P<holder>.+?)(?:\. See also|$)")
_UNWRITABLE = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
               errno.EROFS: "read-only file system", errno.ENOTDIR: "not a directory"}


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it wraps, outermost first (`raise ... from`, or raised while
    handling another)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        yield current
        seen.add(id(current))
        wrapped = current.__cause__
        if wrapped is None and not current.__suppress_context__:
            wrapped = current.__context__
        current = wrapped


def root_cause(exc: BaseException) -> BaseException:
    """The cause a message can name: the first one of a known kind in `exc`'s chain, else the
    innermost one that says something."""
    causes = list(chain(exc))
    known = [cause for cause in causes if isinstance(cause, _KNOWN)]
    if known:
        return known[0]
    return next((cause for cause in reversed(causes) if str(cause).strip()), exc)


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


def _setting(traces: Sequence[LookupTrace | LookupTraces], field: str) -> str:
    """The config key of a missing field in its most specific form without the pipeline's name
    in front (`destination.filesystem.bucket_url`), from dlt's record of the keys it tried; a
    missing group of settings (credentials) by the key of the group."""
    keys = [".".join([*trace.sections, field]) for trace in traces
            if isinstance(trace, LookupTrace) and trace.key.lower().replace("__", ".")
            == ".".join([*trace.sections, field]).lower()]
    if keys:
        return max(keys, key=len)
    group = next((trace for trace in traces if isinstance(trace, LookupTraces)), None)
    if group is None or not group.traces:
        return field
    inner_field, inner_traces = next(iter(group.traces.items()))
    return _setting(inner_traces, inner_field).rpartition(".")[0] or field


def _missing_settings(cause: ConfigFieldMissingException) -> str:
    """Missing settings of a destination (or of anything but the source), each named as a key
    of `.dlt/secrets.toml` (a group of settings: credentials) or `.dlt/config.toml` and as an
    environment variable, with the fields of a group that are missing and an example."""
    named = []
    for field in cause.fields:
        key = _setting(cause.traces[field], field)
        group = next((trace for trace in cause.traces[field]
                      if isinstance(trace, LookupTraces)), None)
        where = ".dlt/secrets.toml" if group is not None else ".dlt/config.toml"
        details = [f"env {key.replace('.', '__').upper()}"]
        if group is not None:
            details.append("fields " + ", ".join(group.traces))
        if key in _EXAMPLES:
            details.append(f"e.g. {_EXAMPLES[key]}")
        named.append(f"{key} in {where} ({'; '.join(details)})")
    config = cause.config
    if isinstance(config, DestinationClientConfiguration):
        name = config.destination_name or config.destination_type
        return f"the {name} destination is not configured: set {' and '.join(named)}"
    return f"missing configuration: set {' and '.join(named)}"


def _is_source_setting(cause: ConfigFieldMissingException) -> bool:
    return any(_setting(cause.traces[field], field).startswith("sources.")
               for field in cause.fields)


def _missing_packages(cause: MissingDependencyException) -> str:
    """Which extra installs what a destination needs: clockodo-dlt's own where it has one."""
    what = cause.caller.removesuffix(" destination")
    extra = _EXTRAS.get(what)
    install = (f'pip install "clockodo-dlt[{extra}]"' if extra is not None else
               " and ".join(f'pip install "{dependency}"' for dependency in cause.dependencies))
    return f"the {cause.caller} needs packages that are not installed: {install}"


def _unknown_destination(cause: UnknownDestinationModule) -> str:
    known = [name for name in dlt.destinations.__all__ if name != "destination"]
    close = difflib.get_close_matches(cause.ref, known, n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    return (f"unknown destination {cause.ref!r} (--destination): {guess}"
            f"known destinations: {', '.join(known)}")


def _duckdb_message(cause: duckdb.Error) -> str | None:
    """A DuckDB file that another process holds, or that cannot be created where it should."""
    text = str(cause)
    locked = _LOCKED.search(text)
    if locked:
        return (f"the DuckDB file {locked['path']} is held by another program, "
                f"{locked['holder']}: close the file there (a DuckDB shell, a notebook or a BI "
                "tool holds it while connected), then run again")
    cannot = _CANNOT_OPEN.search(text)
    if cannot:
        return _unwritable(cannot["path"], cannot["why"].strip().rstrip(".").lower())
    return None


def _unwritable(path: str, why: str) -> str:
    return (f"cannot write {path} ({why}): use a directory you can write to (run from one, or "
            "point DESTINATION__DUCKDB__CREDENTIALS at a DuckDB file and DLT_DATA_DIR, where dlt "
            "keeps pipeline state, by default ~/.dlt, at one)")


def describe_failure(exc: BaseException) -> str:
    cause = root_cause(exc)
    if isinstance(cause, ConfigFieldMissingException):
        if not _is_source_setting(cause):
            return _missing_settings(cause)
        missing = ", ".join(cause.fields)
        return f"missing configuration ({missing}): set {_CREDENTIALS}"
    if isinstance(cause, MissingDependencyException):
        return _missing_packages(cause)
    if isinstance(cause, UnknownDestinationModule):
        return _unknown_destination(cause)
    if isinstance(cause, duckdb.Error):
        message = _duckdb_message(cause)
        if message is not None:
            return message
    if isinstance(cause, OSError) and cause.errno in _UNWRITABLE and cause.filename:
        return _unwritable(str(cause.filename), _UNWRITABLE[cause.errno])
    if isinstance(cause, ClockodoApiError):
        return _api_message(cause)
    if isinstance(cause, ConfigurationError | ClockodoNetworkError | BillingError):
        return str(cause)
    first_line = (str(cause).strip().splitlines() or ["unexpected failure"])[0]
    return f"{type(cause).__name__}: {first_line} (rerun with --verbose for details)"

