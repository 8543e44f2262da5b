"""Independent numpy steps (one per LSH band, say) spread over threads.

numpy's sorts, searches and element-wise loops release the GIL, so steps on
separate arrays run side by side in threads. How many threads: numba's
thread count, which the runner sets from `--workers` (`runner.use_workers`)
for the compiled kernels too, so one setting governs both. Results come back
in the order of the items, whatever the thread count, so nothing downstream
depends on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numba  # type: ignore[import-untyped, unused-ignore]

_T = TypeVar("_T")
_R = TypeVar("_R")


def thread_count() -> int:
    """The number of threads the compiled kernels use in this thread."""
    count: int = numba.get_num_threads()
    return count


def map_in_threads(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """[fn(item) for item in items], on up to `thread_count()` threads, in item order."""
    workers = min(thread_count(), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    # The pool's threads run single-threaded inside (numba's count is kept
    # per thread): the pool already uses the workers.
    with ThreadPoolExecutor(workers, initializer=numba.set_num_threads, initargs=(1,)) as pool:
        return list(pool.map(fn, items))


def kernels_thread_safe() -> bool:
    """Whether the compiled parallel kernels may run from several threads at once.

    numba's `workqueue` threading layer (where neither TBB nor OpenMP is
    found) aborts the process on concurrent entry; `omp` and `tbb` do not.
    Before any parallel kernel has run, the layer is unknown: no.
    """
    try:
        layer: str = numba.threading_layer()  # type: ignore[attr-defined]
    except ValueError:
        return False
    return layer in ("omp", "tbb")


def map_steps_in_threads(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """`map_in_threads` for steps that call parallel kernels: one thread where that is unsafe."""
    if not kernels_thread_safe():
        return [fn(item) for item in items]
    return map_in_threads(fn, items)
