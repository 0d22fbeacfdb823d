"""Allocator settings for the command line's process (a library user's process is left alone).

A run fetches and decodes pages in many threads. Arrow's default allocator (mimalloc) and
glibc's per-thread arenas keep much of what those threads freed, so the resident size grew with
the load (836 MB for a million entries) while the live data stayed small. Arrow on the system
allocator, at most two glibc arenas and a fixed mmap threshold (so that page-sized buffers go
back to the system when freed instead of fragmenting the heap) keep it near what is live, for
a few percent of the load's time.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa

#: glibc's `mallopt` parameters: number of malloc arenas; size from which allocations are
#: mapped (setting it also stops glibc from raising it after large frees)
M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024


def bound_allocators() -> None:
    """Call before the run starts its threads: arenas are created on a thread's first malloc."""
    pa.set_memory_pool(pa.system_memory_pool())
    name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    if mallopt is not None:  # glibc; other C libraries keep their defaults
        mallopt(M_ARENA_MAX, ARENAS)
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
