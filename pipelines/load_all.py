"""Load every Clockodo table into DuckDB (credentials from .dlt/secrets.toml or env vars)."""

import dlt

from clockodo_source import clockodo_source


def load_all() -> None:
    pipeline = dlt.pipeline(
        pipeline_name="clockodo_pipeline", destination="duckdb", dataset_name="clockodo"
    )
    info = pipeline.run(clockodo_source(), loader_file_format="parquet")
    print(info)


if __name__ == "__main__":
    load_all()
