"""Load every table into PostgreSQL; credentials from DESTINATION__POSTGRES__CREDENTIALS or
[destination.postgres] in .dlt/secrets.toml."""

import dlt

from clockodo_source import clockodo_source


def load_to_postgres() -> None:
    pipeline = dlt.pipeline(
        pipeline_name="clockodo_postgres", destination="postgres", dataset_name="clockodo"
    )
    print(pipeline.run(clockodo_source()))


if __name__ == "__main__":
    load_to_postgres()
