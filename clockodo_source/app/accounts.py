"""Several Clockodo accounts in one config: `[sources.clockodo.accounts.<name>]`.

An agency or a group of companies keeps one section per account (env form
`SOURCES__CLOCKODO__ACCOUNTS__<NAME>__<KEY>`); any `[sources.clockodo]` option may be set there,
and what an account leaves out comes from `[sources.clockodo]`. Each account has its own
pipeline and dataset, `clockodo_<name>`, so its own dlt state, lock and request budgets; with
DuckDB all accounts share one file, `clockodo.duckdb`, a schema each, beside the union dataset
`clockodo_all` (see `clockodo_source.analytics.union`).

`--account NAME` makes one account's settings the process's `[sources.clockodo]` settings
(through dlt's environment provider, which comes first), so every command, billing's writes
and the time zone included, works on that account as it would on a single-account config.
`run --all-accounts` runs several accounts in one process and hands each source its account's
settings as arguments instead (see `clockodo_source.app.all_accounts`).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.typing import AnyType, extract_inner_type

from clockodo_source import clockodo_source
from clockodo_source.analytics.union import UNION_DATASET, rebuild_union
from clockodo_source.app.messages import describe_failure
from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.app.summary import Output
from clockodo_source.errors import ConfigurationError

SECTION = ("sources", "clockodo", "accounts")
ENV_PREFIX = "SOURCES__CLOCKODO__ACCOUNTS__"
#: `--account all`: the union dataset, for the commands that only read
ALL = "all"
DEFAULT_PIPELINE = "clockodo_pipeline"
DEFAULT_DATASET = "clockodo"
#: the demo's own pipeline, dataset and DuckDB file: it never touches a real account's
DEMO_PIPELINE = "clockodo_demo"
DEMO_DATASET = "clockodo_demo_data"
DEMO_DUCKDB = "clockodo_demo.duckdb"
#: the DuckDB file every account shares, in the working directory unless configured
SHARED_DUCKDB = "clockodo.duckdb"
_DUCKDB_KEY = "DESTINATION__DUCKDB__CREDENTIALS"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_CREDENTIALS = ("api_user", "api_key")
#: commands that only read the destination, and so may read the union (`--account all`)
READING = frozenset({"report", "alerts", "invoice", "status", "mcp", "dbt-package"})


def _source_hints() -> dict[str, Any]:
    """The type of each `clockodo_source()` argument (the options an account may set)."""
    hints = typing.get_type_hints(inspect.unwrap(clockodo_source))
    hints.pop("return", None)
    return {name: _config_type(hint) for name, hint in hints.items()}


def _config_type(hint: Any) -> Any:
    """A type dlt can coerce a configured text to (`Sequence[...] | None` -> `list`)."""
    inner = extract_inner_type(hint)
    origin = typing.get_origin(inner) or inner
    return list if origin in (Sequence, list) else origin


#: keys an account section may hold: the source's arguments and the calendar's time zone
SOURCE_OPTIONS = _source_hints()
OPTIONS = {**SOURCE_OPTIONS, "timezone": str}


def key(name: str, option: str) -> str:
    """Where an account's option is configured, both forms, for messages."""
    return (f"sources.clockodo.accounts.{name}.{option} "
            f"(env {ENV_PREFIX}{name.upper()}__{option.upper()})")


@dataclass(frozen=True)
class Account:
    """One configured Clockodo account: its name and the options it sets itself."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pipeline_name(self) -> str:
        return f"clockodo_{self.name}"

    @property
    def dataset(self) -> str:
        return f"clockodo_{self.name}"

    def source_args(self) -> dict[str, Any]:
        """The account's settings that are `clockodo_source()` arguments."""
        return {name: value for name, value in self.settings.items() if name in SOURCE_OPTIONS}

    def environment(self) -> dict[str, str]:
        """The account's settings as `[sources.clockodo]` environment variables."""
        return {f"SOURCES__CLOCKODO__{name.upper()}": _env_text(value)
                for name, value in self.settings.items()}

    def describe(self, exc: BaseException) -> str:
        """A failure's one line, naming the account's own config keys."""
        text = describe_failure(exc)
        text = text.replace("sources.clockodo.", f"sources.clockodo.accounts.{self.name}.")
        return text.replace("SOURCES__CLOCKODO__", f"{ENV_PREFIX}{self.name.upper()}__")


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def _mappings(*path: str) -> list[Mapping[str, Any]]:
    """The table at `path` in each config provider that has one (files; the environment is
    read by name)."""
    *sections, last = path
    found = []
    for provider in dlt.config.config_providers:
        value, _ = provider.get_value(last, AnyType, None, *sections)
        if isinstance(value, Mapping):
            found.append(value)
    return found


def _env_keys(prefix: str) -> set[str]:
    return {name[len(prefix):] for name in os.environ if name.upper().startswith(prefix)}


def account_names() -> list[str]:
    """Every configured account, from config files and environment variables."""
    names = {str(name) for table in _mappings(*SECTION) for name in table}
    names |= {rest.partition("__")[0].lower() for rest in _env_keys(ENV_PREFIX) if "__" in rest}
    return sorted(names)


def load_account(name: str) -> Account:
    """The account `name` with its settings, validated: a known name, known keys, and its own
    credentials."""
    if name not in account_names():
        configured = ", ".join(account_names()) or "none"
        raise ConfigurationError(
            f"no account {name!r} in the config (configured: {configured}); add "
            f"[sources.clockodo.accounts.{name}] with api_user and api_key to .dlt/secrets.toml"
        )
    if not _NAME.fullmatch(name) or name == ALL:
        raise ConfigurationError(
            f"account name {name!r} must be lower-case letters, digits and _ (starting with a "
            f"letter, at most 40, not {ALL!r}): it names the pipeline and dataset clockodo_<name>"
        )
    keys = {str(k) for table in _mappings(*SECTION, name) for k in table}
    keys |= {k.lower() for k in _env_keys(f"{ENV_PREFIX}{name.upper()}__")}
    unknown = sorted(keys - set(OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"{key(name, unknown[0])} is not an option; an account may set "
            f"{', '.join(sorted(OPTIONS))}"
        )
    settings = {}
    for option in sorted(keys):
        try:
            settings[option] = dlt.config.get(".".join((*SECTION, name, option)), OPTIONS[option])
        except ValueError as exc:
            raise ConfigurationError(f"{key(name, option)} has a bad value: {exc}") from None
    missing = [option for option in _CREDENTIALS if not settings.get(option)]
    if missing:
        raise ConfigurationError(f"{key(name, missing[0])} is not set: each account needs its "
                                 "own api_user and api_key")
    return Account(name, settings)


def configured_accounts() -> list[Account]:
    """Every configured account, validated (an error names the first bad one)."""
    return [load_account(name) for name in account_names()]


def union_datasets() -> dict[str, str]:
    """Account name -> dataset of every configured account, for the union views."""
    return {name: Account(name).dataset for name in account_names() if _NAME.fullmatch(name)}


def select(args: argparse.Namespace) -> Account | None:
    """Apply `--account` / `--all-accounts` to the parsed command line: the pipeline and
    dataset names they imply (unless given), the shared DuckDB file, and for one account its
    settings as the process's `[sources.clockodo]` settings. Returns that account. Without
    them: the default pipeline, or for `demo` (and any command given `--pipeline-name
    clockodo_demo`) the demo's own pipeline, dataset and DuckDB file."""
    name: str | None = getattr(args, "account", None)
    if getattr(args, "all_accounts", False):
        if name is not None or args.pipeline_name or args.dataset:
            raise ConfigurationError("--all-accounts runs every account, each with pipeline "
                                     "and dataset clockodo_<name>: leave out --account, "
                                     "--pipeline-name and --dataset")
        if args.alerts or args.notify:
            raise ConfigurationError("--all-accounts does not evaluate alerts: run "
                                     f"`clockodo-pipeline alerts --account {ALL}` after it")
        share_duckdb(args.destination)
        return None
    if name is None:
        demo = args.command == "demo"
        args.pipeline_name = args.pipeline_name or (DEMO_PIPELINE if demo else DEFAULT_PIPELINE)
        if args.pipeline_name == DEMO_PIPELINE:  # the demo's data, for every command
            args.dataset = args.dataset or DEMO_DATASET
            share_duckdb(args.destination, DEMO_DUCKDB, force=True)
        args.dataset = args.dataset or DEFAULT_DATASET
        return None
    if name == ALL and args.command not in READING:
        raise ConfigurationError(
            f"--account {ALL} reads the union dataset {UNION_DATASET}; `{args.command}` needs "
            "one account (--account NAME), and `run --all-accounts` loads them all"
        )
    account = None if name == ALL else load_account(name)
    dataset = account.dataset if account else UNION_DATASET
    args.pipeline_name = args.pipeline_name or dataset
    args.dataset = args.dataset or dataset
    share_duckdb(args.destination)
    if account is not None:
        os.environ.update(account.environment())
    return account


def share_duckdb(destination: str, file: str = SHARED_DUCKDB, force: bool = False) -> None:
    """With DuckDB every account loads into one file, `file` in the working directory unless
    the user configured one (`force`: even then, for the demo's own file), a schema each."""
    if destination == "duckdb" and (force or not _configured(_DUCKDB_KEY)):
        os.environ[_DUCKDB_KEY] = str(Path.cwd() / file)


def _configured(env_name: str) -> bool:
    try:
        return dlt.secrets.get(env_name.lower().replace("__", ".")) is not None
    except ConfigFieldMissingException:
        return False


def after_load(args: argparse.Namespace, account: Account | None) -> str:
    """After a command loaded `account` (nothing without one): the union views again."""
    if account is None:
        return ""
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    return Output.of(args).note(refresh_union(pipeline))


def refresh_union(pipeline: dlt.Pipeline, datasets: Mapping[str, str] | None = None) -> str:
    """After an account's load: the union views of `datasets` (default: every configured
    account) again, as one summary line."""
    if pipeline.destination.destination_name == "filesystem":
        return f"union {UNION_DATASET}: not built on the filesystem destination"
    views = rebuild_union(pipeline, union_datasets() if datasets is None else datasets)
    accounts = sorted({account for names in views.values() for account in names})
    return (f"union {UNION_DATASET}: {len(views)} views over "
            f"{len(accounts)} account(s): {', '.join(accounts)}")
