"""A faithful fake of the Clockodo REST API, for tests and benchmarks of the connector.

``FakeCompany`` generates a deterministic sample company; ``FakeClockodoServer`` serves it over
HTTP with Clockodo's paths, paging, error shapes, rate limits and optional injected faults.
"""

from .company import CompanyConfig, FakeCompany
from .limits import Faults, RateLimits
from .server import FakeClockodoServer, RequestRecord

__all__ = [
    "CompanyConfig",
    "FakeClockodoServer",
    "FakeCompany",
    "Faults",
    "RateLimits",
    "RequestRecord",
]
