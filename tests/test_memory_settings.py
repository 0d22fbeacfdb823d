"""The CLI's memory settings: dlt defaults only where the user configured nothing."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest
from dlt.load.configuration import LoaderConfiguration

from clockodo_source.app.destinations import DUCKDB_LOAD_WORKERS, resolve
from clockodo_source.app.memory import DLT_DEFAULTS, bound_dlt_buffers


def test_user_configuration_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRACT__NEXT_ITEM_MODE", "round_robin")
    monkeypatch.setenv("DATA_WRITER__BUFFER_MAX_ITEMS", "7000")
    bound_dlt_buffers()
    assert dlt.config.get("extract.next_item_mode") == "round_robin"
    assert int(dlt.config.get("data_writer.buffer_max_items")) == 7000


def test_defaults_fill_what_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EXTRACT__NEXT_ITEM_MODE", "DATA_WRITER__BUFFER_MAX_ITEMS"):
        monkeypatch.delenv(name, raising=False)
    bound_dlt_buffers()
    assert {key: dlt.config.get(key) for key in DLT_DEFAULTS} == DLT_DEFAULTS


def test_default_duckdb_loads_one_job_at_a_time(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """The CLI's own DuckDB file has a memory limit that parallel load jobs would share."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS", raising=False)
    monkeypatch.setenv("LOAD__WORKERS", "3")
    resolve("duckdb", "configured")
    assert int(dlt.config.get("load.workers")) == 3
    monkeypatch.delenv("LOAD__WORKERS")
    try:
        resolve("duckdb", "unconfigured")
        assert dlt.config.get("load.workers") == DUCKDB_LOAD_WORKERS
    finally:
        dlt.config["load.workers"] = LoaderConfiguration.workers  # dlt's default again
