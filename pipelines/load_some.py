"""Load only a few tables: time entries with the master data needed to read them."""

import dlt

from clockodo_source import clockodo_source


def load_entries_and_projects() -> None:
    pipeline = dlt.pipeline(
        pipeline_name="clockodo_pipeline", destination="duckdb", dataset_name="clockodo"
    )
    source = clockodo_source(lookback_days=60).with_resources(
        "entries", "projects", "customers", "users", "services"
    )
    print(pipeline.run(source, loader_file_format="parquet"))


if __name__ == "__main__":
    load_entries_and_projects()
