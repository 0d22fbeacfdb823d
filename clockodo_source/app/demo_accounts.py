"""`clockodo-pipeline demo --accounts N`: N sample companies loaded as accounts side by side.

The accounts come from the demo, not from config: `demo_1` ... `demo_N`, each a fake API of its
own on loopback, run as `run --all-accounts` runs configured ones, into the demo's own DuckDB
file (`clockodo_demo.duckdb`, whatever the config says) with the union dataset beside them.
"""

from __future__ import annotations

import argparse

from clockodo_source.analytics.union import UNION_DATASET
from clockodo_source.app.accounts import DEMO_DUCKDB, Account, share_duckdb
from clockodo_source.app.all_accounts import Lock, Sync, run_all
from clockodo_source.app.process import write_out
from clockodo_source.app.summary import Output


def demo_accounts(args: argparse.Namespace, sync: Sync, lock: Lock) -> int:
    # the fake API is imported only for the demo: a scheduled run does without it
    from clockodo_source.app.demo import DEMO_KEY, demo_apis

    share_duckdb(args.destination, DEMO_DUCKDB, force=True)
    with demo_apis(args.accounts, args.entries) as apis:
        accounts = [
            Account(f"demo_{number}", {
                "api_user": server.api_user, "api_key": DEMO_KEY, "base_url": server.url,
                "start_date": min(row["time_since"] for row in company.all_entries())[:10],
                "full": True,
            })
            for number, (server, company) in enumerate(apis, start=1)
        ]
        status = run_all(args, accounts, sync, lock, {})
    hint = Output.of(args).note(
        f"{len(accounts)} sample companies, each a fake Clockodo API on loopback; side by "
        f"side in dataset {UNION_DATASET}, e.g. SELECT _account, COUNT(*) FROM "
        f"{UNION_DATASET}.entries GROUP BY _account")
    if hint:
        write_out(hint + "\n")
    return status
