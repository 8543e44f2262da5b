"""Giving the C heap's free memory back to the system, where the C library can.

A scan reads every document as a Python string before it hashes the blocks;
those strings live on the C heap, and once they go (the texts are then read
back from their spilled file) glibc keeps their pages: 0.55 GB of the 406 MB
benchmark corpus stayed resident and free through the whole labelling, since
the analysis' large arrays are mapped apart from the heap and reuse none of
it. `malloc_trim` hands the free pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None under another C library (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_heap() -> bool:
    """Return the C heap's free pages to the system; False where that is not possible."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)  # 0: keep no free pad at the top of the heap
    return True
