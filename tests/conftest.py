"""Shared fixtures: a real fake-Clockodo HTTP server on loopback and isolated dlt pipelines."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import dlt
import pytest

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
# fixtures wider than a test (module-wide loads) must not write into the user's ~/.dlt either
os.environ["DLT_DATA_DIR"] = tempfile.mkdtemp(prefix="clockodo-tests-dlt-")

from clockodo_source.fake.company import CompanyConfig, FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from tests.helpers import API_KEY, API_USER, DESTINATIONS, drop_dataset, pipeline_for


@pytest.fixture(autouse=True)
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own dlt data dir and working directory, so no state leaks."""
    data_dir = tmp_path / "dlt_data"
    monkeypatch.setenv("DLT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("SOURCES__CLOCKODO__", "DESTINATION__")):
            monkeypatch.delenv(name)
    yield tmp_path


@pytest.fixture(scope="session")
def company() -> FakeCompany:
    """The default sample company; read-only (tests that mutate build their own)."""
    return FakeCompany(CompanyConfig(entries=1500))


@pytest.fixture(scope="session")
def api(company: FakeCompany) -> Iterator[FakeClockodoServer]:
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        yield server


@pytest.fixture
def fresh_api() -> Iterator[FakeClockodoServer]:
    """A server over a company of its own, for tests that mutate data or inject faults."""
    company = FakeCompany(CompanyConfig(entries=600, seed=11))
    with FakeClockodoServer(company, api_user=API_USER, api_key=API_KEY) as server:
        yield server


@pytest.fixture(params=DESTINATIONS)
def destination(request: pytest.FixtureRequest) -> str:
    """The destinations every end-to-end scenario runs against (PostgreSQL must be up)."""
    return str(request.param)


@pytest.fixture
def make_pipeline(destination: str, tmp_path: Path) -> Iterator[Callable[[], dlt.Pipeline]]:
    """Pipelines into `destination`, each PostgreSQL dataset dropped after the test."""
    made: list[dlt.Pipeline] = []

    def make() -> dlt.Pipeline:
        made.append(pipeline_for(destination, tmp_path))
        return made[-1]

    yield make
    for pipeline in made:
        drop_dataset(pipeline)
