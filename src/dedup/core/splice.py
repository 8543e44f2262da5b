"""Block arrays with some rows replaced by others, in one pass per column."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from dedup.core.xxh import _compiled

I64 = NDArray[np.int64]
_T = TypeVar("_T", bound=np.generic)


@_compiled
def _splice(
    column: NDArray[_T], removed: I64, at: I64, added: NDArray[_T], out: NDArray[_T]
) -> None:
    # Runs of kept rows are copied as slices, a plain copy once compiled:
    # with a test per row whether it is added or removed, 9 M rows with
    # 90 k changes took 34 ms, now 19 ms.
    i = r = k = o = 0
    while o < len(out):
        next_at = at[k] if k < len(at) else len(out)
        if o == next_at:
            out[o] = added[k]
            k += 1
            o += 1
            continue
        while r < len(removed) and removed[r] == i:
            i += 1
            r += 1
        next_removed = removed[r] if r < len(removed) else len(column)
        run = min(next_at - o, next_removed - i)
        out[o : o + run] = column[i : i + run]
        o += run
        i += run


def splice(column: NDArray[_T], removed: I64, at: I64, added: NDArray[_T]) -> NDArray[_T]:
    """`column` without its rows `removed`, with `added[k]` at position `at[k]` of the result.

    `removed` holds distinct ascending rows of `column`; `at` distinct
    ascending positions in the result, of `len(column) - len(removed) +
    len(added)` rows. A compiled merge: the numpy way (`np.delete`, then two
    masked assignments) passes over the 9 M rows of a large scan three times
    a column.

    Raises:
        ValueError: the lengths or orders do not fit together.
    """
    n_out = len(column) - len(removed) + len(added)
    if len(at) != len(added):
        raise ValueError(f"{len(at)} positions for {len(added)} added rows")
    for name, rows, top in (("removed", removed, len(column)), ("at", at, n_out)):
        if len(rows) and (
            int(rows[0]) < 0 or int(rows[-1]) >= top or bool(np.any(np.diff(rows) <= 0))
        ):
            raise ValueError(f"{name} must be distinct ascending rows below {top}")
    out = np.empty(n_out, dtype=column.dtype)
    _splice(
        np.ascontiguousarray(column),
        np.ascontiguousarray(removed, dtype=np.int64),
        np.ascontiguousarray(at, dtype=np.int64),
        np.ascontiguousarray(added, dtype=column.dtype),
        out,
    )
    return out
