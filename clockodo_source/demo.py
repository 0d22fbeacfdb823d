"""`clockodo-pipeline demo`: the built-in fake Clockodo API with a sample company, on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer

DEMO_USER = "demo@example.com"
DEMO_KEY = "demo-key"


@contextmanager
def demo_api(entries: int = 3000) -> Iterator[tuple[FakeClockodoServer, FakeCompany]]:
    company = FakeCompany(CompanyConfig(entries=entries))
    with FakeClockodoServer(company, api_user=DEMO_USER, api_key=DEMO_KEY) as server:
        yield server, company
