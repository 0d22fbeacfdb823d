"""What a run did and what is stored, as the lines the CLI prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dlt

from clockodo_source.stats import SourceStats
from clockodo_source.stored import reader


def stored_counts(pipeline: dlt.Pipeline, tables: Sequence[str]) -> dict[str, int | None]:
    """Rows per table in the destination (None where the table does not exist)."""
    with reader(pipeline) as opened:
        if opened is None:
            return dict.fromkeys(tables)
        return {table: opened.count(table) for table in tables}


def format_summary(pipeline: dlt.Pipeline, tables: Sequence[str], seconds: float,
                   rows_written: Mapping[str, int], stats: SourceStats | None) -> str:
    """Per table rows written, added, updated, removed and stored; requests and time."""
    stored = stored_counts(pipeline, tables)
    header = ("table", "written", "added", "updated", "removed", "stored")
    lines = [f"{header[0]:<20}" + "".join(f"{name:>10}" for name in header[1:])]
    changed = stats.tables if stats else {}
    for table in tables:
        changes = changed.get(table)
        figures: list[int | None] = [rows_written.get(table, 0)]
        figures += [changes.added, changes.updated, changes.removed] if changes else [None] * 3
        figures.append(stored.get(table))
        lines.append(f"{table:<20}" + "".join(
            f"{'-' if figure is None else f'{figure:,}':>10}" for figure in figures
        ))
    if stats is not None:
        for table, endpoint in sorted(stats.skipped.items()):
            lines.append(f"skipped {table}: the API user may not read {endpoint} (403); "
                         "use an owner/admin key, or --strict to fail instead")
        http = stats.requests
        lines.append(
            f"requests: {http.requests:,} (retries {http.retries}, 429s {http.throttled}, "
            f"waited {http.wait_seconds:.1f}s); took {seconds:.1f}s"
        )
    destination = pipeline.destination.destination_name if pipeline.destination else "?"
    lines.append(f"destination: {destination}, dataset {pipeline.dataset_name}")
    return "\n".join(lines)
