"""What a run did and what is stored: the summary a loading command prints, as text, as one
JSON object (`--json`, for schedulers and scripts), or not at all (`--quiet`)."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import dlt

from clockodo_source.stats import SourceStats
from clockodo_source.stored import reader

logger = logging.getLogger("clockodo_source")


def stored_counts(pipeline: dlt.Pipeline, tables: Sequence[str]) -> dict[str, int | None]:
    """Rows per table in the destination (None where the table does not exist)."""
    with reader(pipeline) as opened:
        if opened is None:
            return dict.fromkeys(tables)
        return {table: opened.count(table) for table in tables}


@dataclass(frozen=True)
class TableFigures:
    """One table's line: rows written; added, updated and removed (None where the source does
    not count them); rows stored after the run (None: no such table)."""

    written: int
    added: int | None
    updated: int | None
    removed: int | None
    stored: int | None


@dataclass
class RunSummary:
    """Per table rows written, added, updated, removed and stored; requests and time."""

    pipeline: str
    destination: str
    dataset: str
    seconds: float
    tables: dict[str, TableFigures]
    stats: SourceStats | None
    #: model -> rows, once built; None where models are not built (filesystem)
    models: dict[str, int] | None = field(default=None)

    @classmethod
    def of(cls, pipeline: dlt.Pipeline, tables: Sequence[str], seconds: float,
           rows_written: Mapping[str, int], stats: SourceStats | None) -> RunSummary:
        stored = stored_counts(pipeline, tables)
        changed = stats.tables if stats else {}
        figures = {}
        for table in tables:
            changes = changed.get(table)
            figures[table] = TableFigures(
                rows_written.get(table, 0), changes.added if changes else None,
                changes.updated if changes else None, changes.removed if changes else None,
                stored.get(table))
        destination = pipeline.destination.destination_name if pipeline.destination else "?"
        return cls(pipeline.pipeline_name, destination, pipeline.dataset_name, seconds, figures,
                   stats)

    def text(self) -> str:
        header = ("table", "written", "added", "updated", "removed", "stored")
        lines = [f"{header[0]:<20}" + "".join(f"{name:>10}" for name in header[1:])]
        for table, figures in self.tables.items():
            lines.append(f"{table:<20}" + "".join(
                f"{'-' if figure is None else f'{figure:,}':>10}"
                for figure in asdict(figures).values()
            ))
        if self.stats is not None:
            for table, endpoint in sorted(self.stats.skipped.items()):
                lines.append(f"skipped {table}: the API user may not read {endpoint} (403); "
                             "use an owner/admin key, or --strict to fail instead")
            http = self.stats.requests
            lines.append(
                f"requests: {http.requests:,} (retries {http.retries}, 429s {http.throttled}, "
                f"waited {http.wait_seconds:.1f}s); took {self.seconds:.1f}s"
            )
        lines.append(f"destination: {self.destination}, dataset {self.dataset}")
        if self.models is None:
            lines.append(f"models: not built on the {self.destination} destination")
        else:
            lines.append("models: " + ", ".join(f"{name} {rows:,}"
                                                for name, rows in self.models.items()))
        return "\n".join(lines)

    def as_json(self, exit_status: int = 0) -> dict[str, Any]:
        """The summary as one JSON-ready object; `exit_status` is the command's."""
        http = self.stats.requests if self.stats else None
        return {
            "pipeline": self.pipeline, "destination": self.destination, "dataset": self.dataset,
            "tables": {table: asdict(figures) for table, figures in self.tables.items()},
            "skipped": dict(sorted(self.stats.skipped.items())) if self.stats else {},
            "requests": http.requests if http else 0,
            "retries": http.retries if http else 0,
            "429s": http.throttled if http else 0,
            "waited_seconds": round(http.wait_seconds, 3) if http else 0.0,
            "duration_seconds": round(self.seconds, 3),
            "models": self.models,
            "exit_status": exit_status,
        }


@dataclass(frozen=True)
class Output:
    """How a loading command reports: the text summary on stdout; one JSON object instead
    (`--json`); or nothing on stdout (`--quiet`: errors and warnings only, on stderr)."""

    json: bool = False
    quiet: bool = False

    @classmethod
    def of(cls, args: argparse.Namespace) -> Output:
        return cls(bool(getattr(args, "json", False)), bool(getattr(args, "quiet", False)))

    def render(self, summary: RunSummary) -> str:
        if self.json:
            return json.dumps(summary.as_json())
        return "" if self.quiet else summary.text()

    def note(self, line: str) -> str:
        """A line after the summary (the demo's file, the union views): appended to the text
        summary; with `--json` on stderr instead, so stdout stays one JSON object."""
        if self.json or self.quiet:
            logger.info("%s", line)
            return ""
        return f"\n{line}"
