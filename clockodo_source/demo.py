"""`clockodo-pipeline demo`: the built-in fake Clockodo API with a sample company, on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

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
