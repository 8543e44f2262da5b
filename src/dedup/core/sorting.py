"""Sorting steps that numpy offers, done the fast way for the arrays the core has.

Measured on this project's machine (numpy 2.4, 9 M random int64): `np.unique`
without return arrays takes 6.6 s (it goes through a hash table, then sorts
the distinct values) where a sort and a comparison of neighbours take 0.1 s;
`np.argsort(kind="stable")` takes 0.92 s where the unstable (SIMD) argsort
takes 0.39 s; `np.lexsort` of two int64 keys 2.6 s; a compiled LSD radix
sort, stable, 0.45 s with the sorted values. Each function here gives
exactly what the numpy call it names gives (`tests/test_core_sorting.py`),
for the inputs the core has: 1-d arrays of integers, or of floats without
NaN (numpy counts every NaN as one value; these would not). Other shapes
raise ValueError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from dedup.core.threads import map_in_threads, thread_count
from dedup.core.xxh import _compiled

I64 = NDArray[np.int64]
_T = TypeVar("_T", bound=np.generic)
_Run = TypeVar("_Run")

# Arrays at least this long are sorted in one piece per thread, then merged:
# numpy's sorts release the GIL, and on two cores two halves sort in half
# the time (9 M int64: 0.21 s instead of 0.58 s). Results do not depend on
# the thread count: every caller either ignores the order of ties or
# repairs it.
SPLIT_AT = 1 << 20

# 64-bit integers at least this many are sorted by a compiled LSD radix sort:
# 9.1 M int64 sorted with their order in 0.45 s, against 0.65 s for numpy's
# (SIMD, unstable) argsort and the gather of the sorted values.
RADIX_AT = 1 << 16


def _one_dimensional(*arrays: NDArray[np.generic]) -> int:
    """The common length of 1-d arrays; ValueError for any other shape or unequal lengths."""
    if any(a.ndim != 1 for a in arrays) or len({len(a) for a in arrays}) > 1:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"expected 1-d arrays of one length, got shapes {shapes}")
    return len(arrays[0])


@_compiled
def _merge(
    left: NDArray[_T], left_order: I64, right: NDArray[_T], right_order: I64
) -> tuple[NDArray[_T], I64]:
    """Two sorted runs (values and the rows they came from) merged, left first on ties."""
    n = len(left) + len(right)
    values = np.empty(n, dtype=left.dtype)
    order = np.empty(n, dtype=np.int64)
    i = j = 0
    for k in range(n):
        if j == len(right) or (i < len(left) and not right[j] < left[i]):
            values[k], order[k] = left[i], left_order[i]
            i += 1
        else:
            values[k], order[k] = right[j], right_order[j]
            j += 1
    return values, order


_DIGIT_BITS = 11  # 2,048 buckets: the counts stay in the L1 cache


@_compiled
def _scatter(
    keys: NDArray[np.uint64],
    out: NDArray[np.uint64],
    order: I64,
    out_order: I64,
    at: I64,
    shift: np.uint64,
    mask: np.uint64,
    first: bool,
) -> None:
    """One LSD pass: keys to out by digit, their order along (the identity when `first`)."""
    for i in range(len(keys)):
        k = keys[i]
        digit = (k >> shift) & mask
        j = at[digit]
        at[digit] = j + 1
        out[j] = k
        out_order[j] = i if first else order[i]


# Hash-like keys are sorted by their top _TOP_PASSES digits only (bits 33-63),
# then the few runs that share those bits but differ below are sorted whole:
# 9.1 M keys in 0.27 s instead of 0.37 s, 13,000 of them in such runs.
_TOP_PASSES = 3


@_compiled
def _spread_over_top(counts: I64, n: int) -> bool:
    """Whether the top digits look uniform, as those of hashes do.

    Each top digit must use at least half of its buckets (the highest has
    9 bits: 512) and none may hold more than 8 times its share: then keys
    sharing all top bits are rare, and so are the runs to sort afterwards.
    Narrow ranges and small signed values (constant top digits) fail.
    """
    passes, buckets = counts.shape
    if n < 16 * buckets:
        return False
    for p in range(passes - _TOP_PASSES, passes):
        bits = min(_DIGIT_BITS, 64 - p * _DIGIT_BITS)
        possible = 1 << bits
        used = 0
        most = 0
        for b in range(possible):
            if counts[p, b] > 0:
                used += 1
            most = max(most, counts[p, b])
        if 2 * used < possible or most > 8 * n // possible:
            return False
    return True


@_compiled
def _sort_runs_below(keys: NDArray[np.uint64], order: I64, shift: np.uint64) -> None:
    """Within each run of keys equal above bit `shift`, sort by the whole key (stably)."""
    n = len(keys)
    i = 0
    while i < n:
        j = i + 1
        mixed = False
        while j < n and (keys[j] >> shift) == (keys[i] >> shift):
            mixed = mixed or keys[j] != keys[i]
            j += 1
        if mixed:
            by_key = np.argsort(keys[i:j], kind="mergesort")
            keys[i:j] = keys[i:j][by_key]
            order[i:j] = order[i:j][by_key]
        i = j


@_compiled
def _radix(keys: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], I64]:
    """`keys` sorted (LSD radix, stable) and the order that sorts them.

    `keys` is overwritten (the caller's own copy): with it and one spare
    array, plus two order arrays, a sort makes 32 bytes a row of new memory,
    or 24 with one pass; zeroing new memory costs as much as a pass. Passes
    whose digit is the same in every key are skipped, so keys of a narrow
    range (packed ranks) take fewer passes. Keys that look like hashes are
    sorted on their top digits, then runs sharing those are sorted whole
    (stably: the result is the same).
    """
    n = len(keys)
    buckets = 1 << _DIGIT_BITS
    mask = np.uint64(buckets - 1)
    passes = (64 + _DIGIT_BITS - 1) // _DIGIT_BITS
    counts = np.zeros((passes, buckets), dtype=np.int64)
    for i in range(n):
        k = keys[i]
        for p in range(passes):
            counts[p, (k >> np.uint64(p * _DIGIT_BITS)) & mask] += 1
    lowest = passes - _TOP_PASSES if _spread_over_top(counts, n) else 0
    current, spare = keys, np.empty(n, dtype=np.uint64)
    # The first pass done writes the identity order itself; a second order
    # array is made only when a second pass comes.
    order, spare_order = np.empty(0, dtype=np.int64), np.empty(n, dtype=np.int64)
    at = np.empty(buckets, dtype=np.int64)
    done = 0
    for p in range(lowest, passes):
        shift = np.uint64(p * _DIGIT_BITS)
        if n == 0 or counts[p, (current[0] >> shift) & mask] == n:
            continue
        total = 0
        for b in range(buckets):
            at[b] = total
            total += counts[p, b]
        if len(spare_order) < n:
            spare_order = np.empty(n, dtype=np.int64)
        _scatter(current, spare, order, spare_order, at, shift, mask, done == 0)
        done += 1
        current, spare = spare, current
        order, spare_order = spare_order, order
    if done == 0:
        order = np.arange(n)
    if lowest > 0:
        _sort_runs_below(current, order, np.uint64(lowest * _DIGIT_BITS))
    return current, order


def _piece_bounds(values: NDArray[np.generic]) -> list[int] | None:
    """Where to cut `values` into one piece per thread, or None to keep it whole.

    Only long arrays of integers are cut: the merges' `<` would misplace
    NaN, which numpy sorts last.
    """
    parts = min(thread_count(), 8)
    if parts < 2 or len(values) < SPLIT_AT or values.dtype.kind not in "iu":
        return None
    bounds: list[int] = np.linspace(0, len(values), parts + 1).astype(np.int64).tolist()
    return bounds


def _merged_pairwise(runs: list[_Run], merge: Callable[[_Run, _Run], _Run]) -> _Run:
    """`runs` merged two at a time, neighbours with neighbours, each round on the threads."""
    while len(runs) > 1:
        pairs = list(zip(runs[0::2], runs[1::2], strict=False))
        merged = map_in_threads(lambda pair: merge(*pair), pairs)
        runs = merged + ([runs[-1]] if len(runs) % 2 else [])
    return runs[0]


def _sorted_with_order(values: NDArray[_T]) -> tuple[NDArray[_T], I64, bool]:
    """(values sorted, an order that sorts them, whether that order is stable).

    Long arrays of integers are cut into one piece per thread, each sorted
    on its thread, and the sorted pieces merged pairwise (left first on
    ties, so stable pieces give a stable whole).
    """
    bounds = _piece_bounds(values)
    if bounds is None:
        return _sorted_piece(values)

    def piece(i: int) -> tuple[NDArray[_T], I64, bool]:
        lo, hi = bounds[i], bounds[i + 1]
        ordered, order, stable = _sorted_piece(values[lo:hi])
        return ordered, order + np.int64(lo), stable

    def merge(
        left: tuple[NDArray[_T], I64], right: tuple[NDArray[_T], I64]
    ) -> tuple[NDArray[_T], I64]:
        return _merge(*left, *right)

    pieces = map_in_threads(piece, range(len(bounds) - 1))
    ordered, order = _merged_pairwise([(o, rows) for o, rows, _ in pieces], merge)
    return ordered, order, all(stable for _, _, stable in pieces)


def _sorted_piece(values: NDArray[_T]) -> tuple[NDArray[_T], I64, bool]:
    """(values sorted, an order that sorts them, whether it is stable) on this thread."""
    if values.dtype in (np.int64, np.uint64) and len(values) >= RADIX_AT:
        return (*_radix_sorted(values), True)
    order = np.argsort(values).astype(np.int64, copy=False)
    return values[order], order, False


def _radix_sorted(values: NDArray[_T]) -> tuple[NDArray[_T], I64]:
    """`_sorted_with_order` of 64-bit integers by `_radix` (signed: sign bit flipped)."""
    flip = np.uint64(1 << 63) if values.dtype == np.int64 else np.uint64(0)
    # A new array, which `_radix` may overwrite; its result is ours to flip back.
    keys, order = _radix(values.view(np.uint64) ^ flip)
    if flip:
        keys ^= flip
    return keys.view(values.dtype), order


def distinct(values: NDArray[_T]) -> NDArray[_T]:
    """`np.unique(values)`: the sorted distinct values of a 1-d array.

    Long arrays of integers are sorted in one piece per thread and the
    distinct values of the sorted pieces merged pairwise: sorted whole on
    one thread, the band pairs of the variant lines' look-up and the index's
    holders kept a 2-worker scan of the 406 MB benchmark corpus on one core
    (the look-up 3.7 s instead of 3.0 s, the index's tables 2.5 s instead
    of 1.9 s).
    """
    _one_dimensional(values)
    bounds = _piece_bounds(values)
    if bounds is None:
        return _distinct_piece(values)
    runs = map_in_threads(
        lambda i: _distinct_piece(values[bounds[i] : bounds[i + 1]]), range(len(bounds) - 1)
    )
    return _merged_pairwise(runs, _merge_distinct)


def _distinct_piece(values: NDArray[_T]) -> NDArray[_T]:
    """`distinct` of `values` on this thread: numpy's sort, then neighbours compared."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


@_compiled
def _walk_distinct(left: NDArray[_T], right: NDArray[_T], out: NDArray[_T], write: bool) -> int:
    """How many distinct values two sorted distinct runs hold; written to `out` if `write`."""
    i = j = k = 0
    while i < len(left) or j < len(right):
        if j == len(right) or (i < len(left) and left[i] < right[j]):
            value = left[i]
            i += 1
        elif i == len(left) or right[j] < left[i]:
            value = right[j]
            j += 1
        else:
            value = left[i]
            i += 1
            j += 1
        if write:
            out[k] = value
        k += 1
    return k


def _merge_distinct(left: NDArray[_T], right: NDArray[_T]) -> NDArray[_T]:
    """The distinct values of two sorted runs of distinct values, sorted.

    Counted first, then written into an array of that size, so that no
    larger buffer outlives the merge.
    """
    out = np.empty(_walk_distinct(left, right, left[:0], False), dtype=left.dtype)
    _walk_distinct(left, right, out, True)
    return out


def stable_argsort(values: NDArray[np.generic]) -> I64:
    """`np.argsort(values, kind="stable")` of a 1-d numeric array (no NaN)."""
    return stable_sorted(values)[1]


def stable_sorted(values: NDArray[_T]) -> tuple[NDArray[_T], I64]:
    """(values sorted, `stable_argsort(values)`): the sorted values come with the order.

    The radix sort of 64-bit keys is stable already; after numpy's faster
    unstable sort, the rows of each run of equal values (rare among hashes:
    only repeated keys) are put back in ascending order. A caller that needs
    `values[order]` takes it from here instead of gathering it at random.
    """
    n = _one_dimensional(values)
    ordered, order, stable = _sorted_with_order(values)
    if n < 2 or stable:
        return ordered, order
    tie = ordered[1:] == ordered[:-1]
    if not tie.any():
        return ordered, order
    # Positions inside a run of equal values: the run's first and the rest.
    inside = np.zeros(n, dtype=bool)
    inside[1:] = tie
    inside[:-1] |= tie
    at = np.flatnonzero(inside)
    run = np.cumsum(~np.r_[False, tie])[at]
    # (run, row) packed in one int64: run and row are both below n.
    packed = np.sort(run.astype(np.int64) * np.int64(n) + order[at])
    order[at] = packed % np.int64(n)
    return ordered, order


def dense_ranks(values: NDArray[_T]) -> tuple[I64, NDArray[_T]]:
    """Each value's rank among the distinct values (int64[n]), and those distinct values.

    `np.unique(values, return_inverse=True)`, inverse first, with an unstable
    sort (the ranks do not depend on how ties are ordered), for 1-d arrays of
    integers, floats (each NaN distinct, as `np.not_equal` sees them) and
    bools: the compiled pass takes no other dtype.
    """
    ranks, seen, _ = _dense_ranks(values, with_first=False)
    return ranks, seen


def _dense_ranks(values: NDArray[_T], with_first: bool) -> tuple[I64, NDArray[_T], I64 | None]:
    """`dense_ranks`, and when `with_first` and the values were sorted, the
    index of each distinct value's first occurrence (else None)."""
    n = _one_dimensional(values)
    if n == 0:
        return np.empty(0, dtype=np.int64), values[:0], None
    if values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        if high - low <= n:
            # A narrow range (document numbers, group numbers): counting, no
            # sort. Offsets are taken in int64 (a narrow signed type could
            # wrap) or in the unsigned type itself (every value >= low).
            present = np.zeros(high - low + 1, dtype=bool)
            if values.dtype.kind == "i":
                offset = values.astype(np.int64) - np.int64(low)
                present[offset] = True
                seen = (np.flatnonzero(present) + np.int64(low)).astype(values.dtype)
            else:
                offset = (values - values.dtype.type(low)).astype(np.int64)  # type: ignore[operator]
                present[offset] = True
                seen = np.flatnonzero(present).astype(values.dtype) + values.dtype.type(low)
            rank_of = np.cumsum(present) - 1
            return rank_of[offset], seen, None
    ordered, order, _ = _sorted_with_order(values)
    # One pass over the sorted values instead of a mask, its cumulative sum
    # and three gathers: each whole-corpus temporary is fresh memory, which
    # costs more than the arithmetic here.
    seen = np.empty(_distinct_count(ordered), dtype=values.dtype)
    ranks = np.empty(n, dtype=np.int64)
    first = np.empty(len(seen), dtype=np.int64)
    _rank_runs(ordered, order, ranks, seen, first)
    return ranks, seen, first if with_first else None


@_compiled
def _distinct_count(ordered: NDArray[_T]) -> int:
    """How many distinct values a sorted array holds (NaN, unequal to itself, each count)."""
    count = 1 if len(ordered) else 0
    for i in range(1, len(ordered)):
        count += ordered[i] != ordered[i - 1]
    return count


@_compiled
def _rank_runs(ordered: NDArray[_T], order: I64, ranks: I64, seen: NDArray[_T], first: I64) -> None:
    """Ranks by row, distinct values and first rows of the runs of sorted `ordered`.

    `order[i]` is the row of `ordered[i]`. A run of equal values lies
    together in `order`: its first occurrence is the smallest row in it
    (the run's first one when the sort was stable).
    """
    rank = -1
    for i in range(len(ordered)):
        row = order[i]
        if i == 0 or ordered[i] != ordered[i - 1]:
            rank += 1
            seen[rank] = ordered[i]
            first[rank] = row
        elif row < first[rank]:
            first[rank] = row
        ranks[row] = rank


def lexsort2(minor: I64, major: I64) -> I64:
    """`np.lexsort((minor, major))`: rows ordered by major, then minor, then row.

    Both are 1-d integer arrays of one length; each is replaced by its dense
    rank and the two ranks are packed in one int64, so any int64 values work.
    """
    n = _one_dimensional(minor, major)
    if n < 2:
        return np.arange(n, dtype=np.int64)
    major_rank = dense_ranks(major)[0]
    minor_rank, minor_values = dense_ranks(minor)
    return stable_argsort(major_rank * np.int64(len(minor_values)) + minor_rank)


def unique_first_inverse(values: NDArray[_T]) -> tuple[NDArray[_T], I64, I64]:
    """`np.unique(values, return_index=True, return_inverse=True)` of a 1-d array.

    Returns (distinct sorted values, index of each one's first occurrence,
    rank of each element), all but the first int64. Dtypes as `dense_ranks`.
    """
    ranks, seen, first = _dense_ranks(values, with_first=True)
    if first is None:
        first = np.full(len(seen), len(values), dtype=np.int64)
        np.minimum.at(first, ranks, np.arange(len(values), dtype=np.int64))
    return seen, first, ranks
