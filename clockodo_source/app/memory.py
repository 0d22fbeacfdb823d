"""Memory settings for the command line's process (a library user's process is left alone).

A run fetches and decodes pages in many threads. Arrow's default allocator (mimalloc) and
glibc's per-thread arenas keep much of what those threads freed, so the resident size grew with
the load (836 MB for a million entries) while the live data stayed small. Arrow on the system
allocator, at most two glibc arenas and a fixed mmap threshold (so that page-sized buffers go
back to the system when freed instead of fragmenting the heap) keep it near what is live, for
a few percent of the load's time.

dlt writes extracted rows in batches of `data_writer.buffer_max_items` (5,000) and normalizes a
batch at a time; 5,000 work-time days of a dense account carry 350,000 nested intervals, about
200 MB as Python objects. Unless configured, the CLI uses batches of 500 rows (dlt's Airflow
helper lowers it for the same reason). Entries are unaffected: they go as arrow tables. The CLI
also has dlt extract resources one after another ("fifo") rather than round-robin, so the peak
is that of the largest table rather than the sum of entries and work times; each resource
still fetches its pages in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Mapping

import dlt
import pyarrow as pa

#: glibc's `mallopt` parameters: number of malloc arenas; size from which allocations are
#: mapped (setting it also stops glibc from raising it after large frees)
M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024
#: dlt config keys and the values the CLI uses unless the user configured them
DLT_DEFAULTS = {"data_writer.buffer_max_items": 500, "extract.next_item_mode": "fifo"}


def bound_allocators() -> None:
    """Call before the run starts its threads: arenas are created on a thread's first malloc."""
    pa.set_memory_pool(pa.system_memory_pool())
    name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    if mallopt is not None:  # glibc; other C libraries keep their defaults
        mallopt(M_ARENA_MAX, ARENAS)
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def bound_dlt_buffers() -> None:
    """DLT_DEFAULTS for every key the user did not configure."""
    config_defaults(DLT_DEFAULTS)


def config_defaults(defaults: Mapping[str, object]) -> None:
    """Set each dlt config key of `defaults` the user did not configure."""
    for key, value in defaults.items():
        if dlt.config.get(key) is None:
            dlt.config[key] = value
