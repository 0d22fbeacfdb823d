"""`clockodo-pipeline demo`: the built-in fake Clockodo API with a sample company, on loopback.

The demo loads into its own pipeline, dataset and DuckDB file (`clockodo_demo`, see
`accounts.select`), so it never mixes its sample rows into a real account's tables; every
other command reads it with `--pipeline-name clockodo_demo`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from clockodo_source.analytics import write_html_report
from clockodo_source.app.report import HTML_REPORT
from clockodo_source.app.run import sync
from clockodo_source.app.summary import Output
from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer

DEMO_USER = "demo@example.com"
DEMO_KEY = "demo-key"


@contextmanager
def demo_api(entries: int = 3000) -> Iterator[tuple[FakeClockodoServer, FakeCompany]]:
    company = FakeCompany(CompanyConfig(entries=entries))
    with FakeClockodoServer(company, api_user=DEMO_USER, api_key=DEMO_KEY) as server:
        yield server, company


@contextmanager
def demo_apis(count: int, entries: int = 3000
              ) -> Iterator[list[tuple[FakeClockodoServer, FakeCompany]]]:
    """`count` different sample companies (seeds, sizes and API users of their own), each
    behind a fake API of its own, as an agency with several accounts has them."""
    with ExitStack() as stack:
        apis = []
        for number in range(1, count + 1):
            company = FakeCompany(CompanyConfig(
                entries=entries * (3 + number) // 4, seed=7 + number,
                customers=6 + 2 * number, projects=15 + 5 * number))
            server = FakeClockodoServer(company, api_user=f"demo{number}@example.com",
                                        api_key=DEMO_KEY)
            apis.append((stack.enter_context(server), company))
        yield apis


def demo_command(args: argparse.Namespace) -> str:
    """Start the fake API with a sample company, load it whole, write the HTML report."""
    with demo_api(args.entries) as (server, company):
        start = min(row["time_since"] for row in company.all_entries())[:10]
        pipeline, summary = sync(args, api_user=DEMO_USER, api_key=DEMO_KEY,
                                 base_url=server.url, start_date=start, full=True)
    output = Output.of(args)
    lines = [] if output.json or output.quiet else \
        [f"Demo company loaded from a fake Clockodo API at {server.url}\n{summary}"]
    if args.destination == "duckdb":
        credentials = pipeline.destination_client().config.credentials
        lines.append(output.note(f"DuckDB file: {getattr(credentials, 'database', '?')}"))
    if args.destination != "filesystem":
        page = write_html_report(pipeline, HTML_REPORT).resolve()
        lines.append(output.note(f"Report (opens offline in a browser): {page.as_uri()}"))
    lines.append(output.note(
        f"Read it with any command and --pipeline-name {args.pipeline_name}, e.g. "
        f"clockodo-pipeline report unbilled --pipeline-name {args.pipeline_name}"))
    return summary if output.json else "".join(lines)
