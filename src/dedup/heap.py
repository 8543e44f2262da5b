"""Giving the C heap's free memory back to the system, where the C library can.

A scan reads every document as a Python string before it hashes the blocks;
those strings live on the C heap, and once they go (the texts are then read
back from their spilled file) glibc keeps their pages: 0.55 GB of the 406 MB
benchmark corpus stayed resident and free through the whole labelling, since
the analysis' large arrays are mapped apart from the heap and reuse none of
it. `malloc_trim` hands the free pages back.

Freed arrays leave the same kind of free pages all through the analysis:
glibc maps a large allocation apart from the heap (and unmaps it when it is
freed) only above a threshold that it raises, up to 32 MB, each time such a
mapping is freed, so a scan's many arrays of a few MB soon all come from the
heap, and stay resident there once freed (0.56 GB of a 406 MB corpus held
free through the labelling). `map_large_allocations` sets the threshold.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

import pyarrow as pa

# `mallopt`'s parameter for the mmap threshold (glibc's malloc.h).
_M_MMAP_THRESHOLD = -3
# Allocations from this size on are mapped apart: arrays, not Python objects.
# numpy asks the kernel for transparent huge pages for its arrays from 4 MiB
# on (`madvise`), so a fresh mapping of that size costs a page fault per 2 MB;
# a smaller one costs one per 4 KB page, each time: at 1 MiB a 1-worker scan
# of the 406 MB benchmark corpus took 3.7-3.9 M page faults and 55.6-57.1 s,
# at 4 MiB 2.6-2.7 M and 50.9-53.9 s, at 995 and 1008-1013 MB peak (a VM whose
# faults cost about 2-7 us each). Smaller arrays come from the heap, reused.
LARGE_BYTES = 4 << 20


@functools.cache
def _glibc(name: str) -> Callable[..., int] | None:
    """A function of glibc's allocator, or None under another C library (musl, macOS)."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None
    return function


def _trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None under another C library."""
    return _glibc("malloc_trim")


def map_large_allocations(threshold: int = LARGE_BYTES) -> bool:
    """Have glibc map each allocation of `threshold` bytes or more apart from the heap.

    Then a freed array goes back to the system at once. This is set for the
    whole process, for good: glibc has no way back to its moving threshold
    (a program that wants its own threshold sets it after a scan). Costs a
    first touch of fresh pages for each array instead of reused ones: on
    the 406 MB benchmark corpus a scan in ranges took 50-52 s against 49 s,
    at 1.47-1.49 GB peak against 1.62-1.64 GB (at a threshold of 1 MiB;
    `LARGE_BYTES` has the figures at 4). False where not possible.
    """
    mallopt = _glibc("mallopt")
    return mallopt is not None and mallopt(_M_MMAP_THRESHOLD, threshold) == 1


def release_free_heap() -> bool:
    """Return the free pages of the C heap and of this thread's Arrow pool to the system.

    False where the C heap's cannot be (another C library than glibc).
    Arrow's default pool (mimalloc) keeps the pages of freed buffers for
    reuse, per thread: after reading the 406 MB benchmark corpus, 0.12-0.25
    GB of them were resident and free, and the analysis allocates through
    numpy, which never reuses them.
    """
    pa.default_memory_pool().release_unused()
    trim = _trim()
    if trim is None:
        return False
    trim(0)  # 0: keep no free pad at the top of the heap
    return True
