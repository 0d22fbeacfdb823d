"""Loader file formats that keep every value exact on their destination.

Library code: a source run with `pipeline.run(source)` alone needs them as much as the CLI.
"""

from __future__ import annotations

import logging
from typing import Any

import dlt
from dlt.common.destination import Destination
from dlt.common.typing import TLoaderFileFormat
from dlt.extract.resource import DltResource

#: Loader file formats chosen per destination because any other loses values. PostgreSQL
#: takes parquet only through an ADBC driver; without one dlt writes arrow tables (entries) as
#: CSV and copies them with `FORCE_NULL` on every nullable column, which reads an empty text as
#: NULL. INSERT statements keep '' and NULL apart and need no driver: 30,000 entries load in
#: about 7 s instead of 4 s, 3,000 in the same 2 s.
EXACT_FORMATS: dict[str, TLoaderFileFormat] = {"postgres": "insert_values"}
_dlt_logger = logging.getLogger("dlt")


class _ChosenFormat(logging.Filter):
    """Drops dlt's warning that arrow tables written as INSERT statements load slower: the
    format was chosen for exact values, at a measured cost, and the warning would repeat on
    every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("yielded as arrow" in message and "insert_values native writer" in message)


def exact_format(destination: Destination[Any, Any] | None) -> TLoaderFileFormat | None:
    """The format `destination` needs for exact values, if it needs one (see EXACT_FORMATS)."""
    if destination is None or destination.destination_name not in EXACT_FORMATS:
        return None
    if not any(isinstance(item, _ChosenFormat) for item in _dlt_logger.filters):
        _dlt_logger.addFilter(_ChosenFormat())
    return EXACT_FORMATS[destination.destination_name]


def keep_values_exact(resource: DltResource, pipeline: dlt.Pipeline) -> None:
    """Give an arrow resource the file format its destination needs to keep every value,
    unless one was chosen for it (`pipeline.run(loader_file_format=...)`); called as its
    extraction starts, the first moment the destination is known to a source."""
    chosen = exact_format(pipeline.destination)
    if chosen is not None and not resource.compute_table_schema().get("file_format"):
        resource.apply_hints(file_format=chosen)
