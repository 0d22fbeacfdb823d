"""`run --all-accounts [--parallel N]`: every configured account, several at once.

Clockodo's request budgets are per API user, so accounts slow each other down only on this
machine, never at Clockodo: up to N accounts run at the same time, each in a thread with its
own pipeline, state, lock, client and budgets (and its own request ledger, which is per API
user). Threads rather than processes, because DuckDB lets one process write a file, and all
accounts share one. Each source gets its account's settings as arguments; what an account
leaves out comes from `[sources.clockodo]`.

An account that fails (401, 403, unreachable, busy) is reported and the others go on; the
summary has a block per account, stderr a line per failed account, and the exit status is 1
if any failed (75, as for one pipeline, if those were only busy with an overlapping run).
After each account's load the union views of `clockodo_all` are rebuilt, one account at a
time.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import dlt

from clockodo_source.app.accounts import Account, refresh_union
from clockodo_source.app.process import was_interrupted, write_out
from clockodo_source.app.summary import Output
from clockodo_source.app.workspace import BUSY_EXIT, RunInProgress
from clockodo_source.errors import ConfigurationError

Sync = Callable[..., tuple[dlt.Pipeline, str]]
Lock = Callable[[argparse.Namespace], AbstractContextManager[None]]
DEFAULT_PARALLEL = 2
logger = logging.getLogger("clockodo_source")


@dataclass(frozen=True)
class Outcome:
    """What one account's run did: its summary, or the one line saying why it failed."""

    account: Account
    seconds: float
    summary: str | None = None
    error: str | None = None
    #: it did not start: another run of its pipeline was in progress
    busy: bool = False


def run_all(args: argparse.Namespace, accounts: Sequence[Account], sync: Sync, lock: Lock,
            source_args: Mapping[str, Any]) -> int:
    """Run `accounts` (`args.parallel` at a time) through `sync`, each under `lock`; print the
    summaries and return the exit status. `source_args` (from the command line) override
    every account's settings."""
    parallel = getattr(args, "parallel", DEFAULT_PARALLEL)
    if not isinstance(parallel, int) or parallel < 1:
        raise ConfigurationError(f"--parallel must be 1 or more (got {parallel!r})")
    if not accounts:
        raise ConfigurationError(
            "--all-accounts: no accounts configured; add [sources.clockodo.accounts.<name>] "
            "with api_user and api_key to .dlt/secrets.toml"
        )
    _import_pandas()
    datasets = {account.name: account.dataset for account in accounts}
    union = threading.Lock()

    def one(account: Account) -> Outcome:
        return _run_one(args, account, sync, lock, source_args, datasets, union)

    pool = ThreadPoolExecutor(max_workers=min(parallel, len(accounts)),
                              thread_name_prefix="clockodo-account")
    with _account_logs() as names:
        try:
            outcomes = list(pool.map(lambda account: _named(names, account, one), accounts))
        finally:  # after a Ctrl-C, without waiting for the accounts' runs (the process ends)
            pool.shutdown(wait=not was_interrupted(), cancel_futures=True)
    return _report(outcomes, Output.of(args))


def _import_pandas() -> None:
    """dlt tells data frames apart by looking into `sys.modules` without importing. DuckDB and
    pyarrow import pandas on first use; while one account's thread did, another found it half
    initialized ("partially initialized module 'pandas' has no attribute 'DataFrame'") and its
    extract failed. Imported before the threads start, it is whole for all of them."""
    if importlib.util.find_spec("pandas") is not None:
        importlib.import_module("pandas")


def _run_one(args: argparse.Namespace, account: Account, sync: Sync, lock: Lock,
             source_args: Mapping[str, Any], datasets: Mapping[str, str],
             union: threading.Lock) -> Outcome:
    started = time.monotonic()
    mine = argparse.Namespace(**{**vars(args), "account": account.name,
                                 "pipeline_name": account.pipeline_name,
                                 "dataset": account.dataset})
    try:
        with lock(mine):
            pipeline, summary = sync(mine, **{**account.source_args(), **source_args})
            with union:
                summary += Output.of(args).note(refresh_union(pipeline, datasets))
    except RunInProgress as busy:
        return Outcome(account, time.monotonic() - started, error=str(busy), busy=True)
    except Exception as exc:
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        return Outcome(account, time.monotonic() - started, error=account.describe(exc))
    return Outcome(account, time.monotonic() - started, summary=summary)


def _report(outcomes: Sequence[Outcome], output: Output) -> int:
    """A block per account on stdout (with `--json` one object: each account's summary or
    error, and the exit status), a line per failed account on stderr; the exit status: 1 if
    any failed, 75 if the only ones that did not load were busy (an overlapping run)."""
    failed = [outcome.account.name for outcome in outcomes if outcome.error is not None]
    status = 0 if not failed else \
        BUSY_EXIT if all(outcome.busy for outcome in outcomes if outcome.error) else 1
    blocks = []
    for outcome in outcomes:
        name, took = outcome.account.name, f"{outcome.seconds:.1f}s"
        if outcome.error is None:
            blocks.append(f"account {name}: loaded in {took}\n{outcome.summary}")
        else:
            blocks.append(f"account {name}: FAILED after {took}: {outcome.error}")
            print(f"clockodo-pipeline: error: account {name}: {outcome.error}", file=sys.stderr)
    blocks.append(f"accounts: {len(outcomes) - len(failed)} of {len(outcomes)} loaded"
                  + (f"; failed: {', '.join(failed)}" if failed else ""))
    text = "\n\n".join(blocks)
    if output.json:
        text = json.dumps({"accounts": {
            outcome.account.name: json.loads(outcome.summary) if outcome.summary is not None
            else {"error": outcome.error, "busy": outcome.busy} for outcome in outcomes
        }, "exit_status": status})
    elif output.quiet:
        text = ""
    if text:
        write_out(text + "\n")
    return status


def _named(names: dict[int, str], account: Account, work: Callable[[Account], Outcome]
           ) -> Outcome:
    names[threading.get_ident()] = account.name
    try:
        return work(account)
    finally:
        names.pop(threading.get_ident(), None)


_DLT_POOL = re.compile(r"dlt-pool-(\d+)-")


class _AccountPrefix(logging.Filter):
    """Prefixes a progress line with the account whose thread (or dlt worker of that thread)
    logged it, since several accounts log at once."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[int, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        pool = _DLT_POOL.match(record.threadName or "")
        name = self.names.get(int(pool.group(1)) if pool else record.thread or 0)
        if name is not None:
            record.msg = f"account {name}: {record.msg}"
        return True


@contextmanager
def _account_logs() -> Iterator[dict[int, str]]:
    prefix = _AccountPrefix()
    logger.addFilter(prefix)
    try:
        yield prefix.names
    finally:
        logger.removeFilter(prefix)
