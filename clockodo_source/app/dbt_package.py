"""`clockodo-pipeline dbt-package`: a dbt project over the loaded dataset, for an analytics
engineer to add to theirs (as a local package) or to copy."""

from __future__ import annotations

import argparse
from pathlib import Path

from dlt.common.destination.exceptions import DestinationUndefinedEntity

from clockodo_source.analytics.union import ACCOUNT_COLUMN
from clockodo_source.app.accounts import ALL
from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.dbt import write_package
from clockodo_source.errors import ConfigurationError

DEFAULT_OUTPUT = "clockodo_dbt"


def dbt_package_command(args: argparse.Namespace) -> str:
    pipeline = make_pipeline(args.pipeline_name, args.destination, args.dataset)
    union = args.account == ALL
    try:
        package = write_package(pipeline, Path(args.output or DEFAULT_OUTPUT),
                                ACCOUNT_COLUMN if union else None)
    except DestinationUndefinedEntity:
        raise ConfigurationError(f"dataset {args.dataset} is not loaded yet: run "
                                 "`clockodo-pipeline run` first") from None
    except ValueError as exc:
        raise ConfigurationError(f"{exc} (`clockodo-pipeline run`)") from None
    marts = (", ".join(package.marts) if package.marts else
             "none (the union's models are its views, with the account in _account)")
    return "\n".join((
        f"dbt package written to {package.path.resolve()}",
        f"sources: {len(package.sources)} tables of dataset {args.dataset} (source 'clockodo')",
        f"staging: {len(package.staging)} models (stg_clockodo__<table>)",
        f"marts: {marts}",
        "add it to packages.yml as `- local: <path>`, or run `dbt build` in it with a profile "
        "named clockodo",
    ))
