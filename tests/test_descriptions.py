"""Every table and column a load creates is described in dlt's schema, as `dlt pipeline …
schema` shows it: the entity catalog's words (meanings, units, codes) travel as hints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clockodo_source import clockodo_source
from clockodo_source.fake.company import FakeCompany
from clockodo_source.fake.server import FakeClockodoServer
from clockodo_source.settings import ENTITIES
from tests.expected import first_entry_day
from tests.helpers import API_KEY, API_USER, duckdb_pipeline


def test_dlt_schema_describes_every_column_of_every_table(
        api: FakeClockodoServer, company: FakeCompany, tmp_path: Path) -> None:
    pipeline = duckdb_pipeline(tmp_path)
    pipeline.run(clockodo_source(api_user=API_USER, api_key=API_KEY, base_url=api.url,
                                 start_date=first_entry_day(company).isoformat()))
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("dlt")), "pipeline", "--pipelines-dir",
         pipeline.pipelines_dir, pipeline.pipeline_name, "schema", "--format", "json"],
        capture_output=True, text=True, check=True)
    schema = json.loads(shown.stdout[shown.stdout.index("{"):])
    loaded = {name: table for name, table in schema["tables"].items()
              if not name.startswith("_dlt_") and any(
                  "data_type" in column for column in table["columns"].values())}
    assert set(ENTITIES) <= set(loaded)
    assert {"user_reports__month_details", "work_times__intervals",
            "projects__budget__notification_thresholds"} <= set(loaded)
    undescribed = [name for name, table in loaded.items() if not table.get("description")]
    undescribed += [f"{name}.{column}" for name, table in loaded.items()
                    for column, hints in table["columns"].items() if not hints.get("description")]
    assert undescribed == []
    entries = loaded["entries"]["columns"]
    assert "2 billed" in entries["billable"]["description"]
    assert "seconds" in entries["duration"]["description"]
    assert "_dlt_id" in loaded["user_reports__month_details"]["columns"]["_dlt_parent_id"][
        "description"]
