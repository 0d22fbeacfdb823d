"""Where a CLI pipeline keeps its dlt working state, and the lock that keeps two runs apart.

dlt keeps a pipeline's state, schemas and pending load packages in one folder per pipeline name
under its data directory, while the CLI's DuckDB file lives in the working directory: two
projects with the default pipeline name shared one folder, and a package extracted for one
database was loaded into the other. So the CLI keeps each pipeline's folder under a digest of
where it loads to (destination, its location without secrets, dataset). A lock file beside that
folder lets one run at a time use it; the operating system releases it when the process dies,
so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.pipeline import get_dlt_pipelines_dir

from clockodo_source.app.recovery import discard_partial_files

#: exit status of a run that found another run of its pipeline in progress (EX_TEMPFAIL)
BUSY_EXIT = 75
#: seconds a run waits for the lock before it calls the pipeline busy: commands that only read
#: hold it for a moment (opening the pipeline, `status` restoring the state), and a scheduled
#: run that started in that moment was skipped with exit 75
BRIEF_HOLD = 1.0
#: configuration values that are secrets, left out of a destination's identity
_SECRET_KEYS = frozenset({"password", "private_key", "private_key_passphrase", "token",
                          "aws_secret_access_key", "client_secret"})


class RunInProgress(Exception):
    """Another process holds the pipeline's lock."""


def _configured(key: str) -> Any:
    try:
        return dlt.secrets.get(key)
    except ConfigFieldMissingException:
        return None


def _without_secrets(value: Any) -> str:
    """A configured location as text: a DSN without its password, a mapping without secrets."""
    if isinstance(value, Mapping):
        return repr(sorted((k, _without_secrets(v)) for k, v in value.items()
                           if k not in _SECRET_KEYS))
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1@", str(value))


def location(destination: str, pipeline_name: str) -> str:
    """Where `destination` writes, as configured: the DuckDB file (by default in the working
    directory), a database's DSN, a bucket URL."""
    if destination == "duckdb":
        configured = _configured("destination.duckdb.credentials")
        path = configured if isinstance(configured, str) else f"{pipeline_name}.duckdb"
        return str(Path(path).resolve())
    parts = [_configured(f"destination.{destination}.credentials")]
    if destination == "filesystem":
        parts.append(_configured("destination.filesystem.bucket_url"))
    return "|".join(_without_secrets(part) for part in parts)


def pipelines_dir(destination: str, pipeline_name: str, dataset: str) -> str:
    """dlt's pipelines directory for this pipeline: one per destination, location and dataset
    inside dlt's data directory (`DLT_DATA_DIR`, by default `~/.dlt`)."""
    identity = "\n".join((destination, location(destination, pipeline_name), dataset))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return os.path.join(get_dlt_pipelines_dir(), "clockodo", digest)


def _holder(lock: IO[str]) -> str:
    lock.seek(0)
    pid, _, since = lock.read().strip().partition(" ")
    return f"pid {pid or '?'}, since {since or '?'}"


def _taken_within(lock: IO[str], seconds: float) -> bool:
    """Take the lock if it is free or freed within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


@contextmanager
def run_lock(directory: str, pipeline_name: str, wait: bool = False,
             on_wait: Callable[[str], None] | None = None, grace: float = BRIEF_HOLD
             ) -> Iterator[None]:
    """Hold the lock of `pipeline_name` for a run. Raises `RunInProgress` with the holder's pid
    and start time when another process holds it for more than `grace` seconds, unless `wait`
    (then `on_wait(holder)` is called once and the run waits for it). The holder alone writes
    the pipeline's working folder, so taking the lock first deletes what a killed holder left
    half-written there."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"{pipeline_name}.lock"), "a+") as lock:
        if not _taken_within(lock, grace):
            holder = _holder(lock)
            if not wait:
                raise RunInProgress(
                    f"another run of pipeline {pipeline_name} is in progress ({holder})"
                ) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()} {datetime.now(UTC).isoformat(timespec='seconds')}\n")
        lock.flush()
        discard_partial_files(os.path.join(directory, pipeline_name))
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()
            fcntl.flock(lock, fcntl.LOCK_UN)
