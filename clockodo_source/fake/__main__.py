"""Run the fake API in the foreground: ``python -m clockodo_source.fake --entries N --port P``.

Prints the base URL on one line (so a benchmark can read it) and serves until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from .company import CompanyConfig, FakeCompany
from .server import FakeClockodoServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m clockodo_source.fake", description=__doc__)
    parser.add_argument("--entries", type=int, default=CompanyConfig.entries)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=CompanyConfig.seed)
    parser.add_argument("--api-user", default="demo@example.com")
    parser.add_argument("--api-key", default="demo-key")
    args = parser.parse_args(argv)
    company = FakeCompany(CompanyConfig(entries=args.entries, seed=args.seed))
    server = FakeClockodoServer(company, args.api_user, args.api_key, args.host, args.port)
    with server:
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
