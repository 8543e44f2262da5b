"""Sets stored as CSR rows (values, offsets) and exact Jaccard between rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from dedup.core.sorting import distinct

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
_T = TypeVar("_T", bound=np.generic)

# Bounds the values gathered per verification step.
_CHUNK = 1 << 22


def gather(values: U32, offsets: I64, rows: I64) -> tuple[U32, I64]:
    """Rows `rows` of a CSR array, concatenated, with their new offsets."""
    lengths = offsets[rows + 1] - offsets[rows]
    new_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    total = int(new_offsets[-1])
    within = np.arange(total, dtype=np.int64) - np.repeat(new_offsets[:-1], lengths)
    return values[np.repeat(offsets[rows], lengths) + within], new_offsets


def joined_rows(parts: Sequence[tuple[NDArray[_T], I64]]) -> tuple[NDArray[_T], I64]:
    """The rows of several CSR arrays, one after the other, as one."""
    values = np.concatenate([v for v, _ in parts])
    offsets = np.zeros(1 + sum(len(o) - 1 for _, o in parts), dtype=np.int64)
    at, base = 1, 0
    for _, o in parts:
        offsets[at : at + len(o) - 1] = o[1:] - o[0] + base
        at += len(o) - 1
        base += int(o[-1] - o[0])
    return values, offsets


def drained(parts: list[NDArray[_T]]) -> NDArray[_T]:
    """`np.concatenate(parts)`, emptying `parts` as each is copied.

    When the list holds the only references, each part goes once copied:
    the joined array and all its parts are never held at once.
    """
    if not parts:
        raise ValueError("drained: no arrays to join")
    out = np.empty(sum(len(p) for p in parts), dtype=parts[0].dtype)
    at = 0
    while parts:
        part = parts.pop(0)
        out[at : at + len(part)] = part
        at += len(part)
        del part
    return out


def drained_rows(parts: list[tuple[NDArray[_T], I64]]) -> tuple[NDArray[_T], I64]:
    """`joined_rows(parts)`, emptying `parts` as each is copied (as `drained`)."""
    if not parts:
        raise ValueError("drained_rows: no rows to join")
    values = np.empty(sum(int(o[-1] - o[0]) for _, o in parts), dtype=parts[0][0].dtype)
    offsets = np.zeros(1 + sum(len(o) - 1 for _, o in parts), dtype=np.int64)
    at, base = 1, 0
    while parts:
        part_values, o = parts.pop(0)
        size = int(o[-1] - o[0])
        values[base : base + size] = part_values[o[0] : o[-1]]
        offsets[at : at + len(o) - 1] = o[1:] - o[0] + base
        at += len(o) - 1
        base += size
        del part_values, o
    return values, offsets


def expand_rows(values: U32, offsets: I64, rows: I64, n: int) -> tuple[U32, I64]:
    """A CSR of `n` rows holding the given rows at positions `rows` (ascending), empty elsewhere."""
    lengths = np.zeros(n, dtype=np.int64)
    lengths[rows] = np.diff(offsets)
    new = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=new[1:])
    return values, new


def unique_rows(values: U32, offsets: I64) -> tuple[U32, I64]:
    """Each row sorted with repeats removed (a CSR of sets)."""
    n = len(offsets) - 1
    row = np.repeat(np.arange(n, dtype=np.uint64), np.diff(offsets))
    packed = distinct((row << np.uint64(32)) | values[offsets[0] : offsets[-1]].astype(np.uint64))
    new_rows = (packed >> np.uint64(32)).astype(np.int64)
    counts = np.bincount(new_rows, minlength=n)
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    return (packed & np.uint64(0xFFFFFFFF)).astype(np.uint32), new_offsets


def jaccard(values: U32, offsets: I64, left: I64, right: I64) -> NDArray[np.float64]:
    """Exact Jaccard similarity of set rows `left[i]` and `right[i]`.

    Rows must be sets (sorted or not, without repeats), as `unique_rows` makes.
    """
    out = np.empty(len(left), dtype=np.float64)
    sizes = np.diff(offsets)
    pair_cost = sizes[left] + sizes[right]
    start = 0
    while start < len(left):
        # Take pairs until the gathered values would exceed the chunk (at least one).
        budget = np.cumsum(pair_cost[start:])
        stop = start + max(1, int(np.searchsorted(budget, _CHUNK, side="right")))
        out[start:stop] = _jaccard_chunk(values, offsets, left[start:stop], right[start:stop])
        start = stop
    return out


def _jaccard_chunk(values: U32, offsets: I64, left: I64, right: I64) -> NDArray[np.float64]:
    m = len(left)
    a_vals, a_off = gather(values, offsets, left)
    b_vals, b_off = gather(values, offsets, right)
    pair = np.arange(m, dtype=np.uint64)
    tagged = np.concatenate(
        (
            (np.repeat(pair, np.diff(a_off)) << np.uint64(32)) | a_vals.astype(np.uint64),
            (np.repeat(pair, np.diff(b_off)) << np.uint64(32)) | b_vals.astype(np.uint64),
        )
    )
    tagged.sort()
    # Each row is a set, so a value seen twice under one pair tag is shared.
    shared = tagged[1:][tagged[1:] == tagged[:-1]] >> np.uint64(32)
    inter = np.bincount(shared.astype(np.int64), minlength=m).astype(np.float64)
    union = np.diff(a_off) + np.diff(b_off) - inter
    return np.divide(inter, union, out=np.zeros(m), where=union > 0)
