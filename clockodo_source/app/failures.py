"""The last failed run of a pipeline, with its one-line cause, for `status`.

A failed run writes nothing to dlt's state (its load never completes), and dlt's trace of the
last run is replaced by the next one, so the failure is kept in a small file of its own beside
the pipeline's state folder (where the run lock lives too), written when the run fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dlt

from clockodo_source.app.messages import describe_failure
from clockodo_source.app.process import was_interrupted

INTERRUPTED = "interrupted (Ctrl-C or SIGINT); the next run resumes"


@dataclass(frozen=True)
class Failure:
    """When a run of the pipeline failed, and the line the CLI printed for it."""

    at: datetime
    cause: str

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "cause": self.cause}


def _path(pipelines_dir: str, pipeline_name: str) -> str:
    return os.path.join(pipelines_dir, f"{pipeline_name}.last_failure.json")


def record_failure(pipelines_dir: str, pipeline_name: str, cause: str) -> None:
    """Keep `cause` as the pipeline's last failure (replaced whole, never half written)."""
    path = _path(pipelines_dir, pipeline_name)
    os.makedirs(pipelines_dir, exist_ok=True)
    partial = f"{path}.{os.getpid()}"
    with open(partial, "w") as file:
        json.dump(Failure(datetime.now(UTC), cause).as_json(), file)
    os.replace(partial, path)


def last_failure(pipelines_dir: str, pipeline_name: str) -> Failure | None:
    """The pipeline's last recorded failure; None if no run of it failed here."""
    try:
        with open(_path(pipelines_dir, pipeline_name)) as file:
            stored = json.load(file)
        return Failure(datetime.fromisoformat(stored["at"]), str(stored["cause"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def failures_recorded(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Record a failure (or an interruption) of the run in the block, then let it go on to
    the CLI, which reports it."""
    try:
        yield
    except KeyboardInterrupt:
        record_failure(pipeline.pipelines_dir, pipeline.pipeline_name, INTERRUPTED)
        raise
    except Exception as exc:  # what a Ctrl-C cut short may report instead (`on_interrupt`)
        cause = INTERRUPTED if was_interrupted() else describe_failure(exc)
        record_failure(pipeline.pipelines_dir, pipeline.pipeline_name, cause)
        raise
