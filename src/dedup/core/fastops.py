"""Compiled versions of array steps that numpy does slowly: per-row work over CSR
arrays and loops over bands. Each equals a plain function elsewhere in the
core (named in its docstring), and `tests/test_core_fastops.py` checks that.
"""

from __future__ import annotations

import numba  # type: ignore[import-untyped, unused-ignore]
import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
U32 = NDArray[np.uint32]
U64 = NDArray[np.uint64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


@numba.njit(cache=True, inline="always")
def _fmix64(h: np.uint64) -> np.uint64:
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    return h ^ (h >> _S33)


@numba.njit(cache=True)
def _band_keys(sigs: U32, bands: int, rows: int, out: U64) -> None:
    for i in range(sigs.shape[0]):
        for band in range(bands):
            h = np.uint64(band + 1) * _GOLDEN
            for col in range(band * rows, (band + 1) * rows):
                h = _fmix64(h ^ np.uint64(sigs[i, col])) + _GOLDEN
            out[i, band] = h


def band_keys(sigs: U32, bands: int, rows: int) -> I64:
    """`lsh.band_keys`, compiled: int64[n, bands]."""
    if bands * rows > sigs.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows exceed {sigs.shape[1]} permutations")
    out = np.empty((sigs.shape[0], bands), dtype=np.uint64)
    _band_keys(np.ascontiguousarray(sigs), bands, rows, out)
    return out.view(np.int64)


@numba.njit(cache=True)
def _unique_rows(values: U32, offsets: I64) -> tuple[U32, I64]:
    n = len(offsets) - 1
    out = np.empty(offsets[n] - offsets[0], dtype=np.uint32)
    out_offsets = np.zeros(n + 1, dtype=np.int64)
    k = 0
    for i in range(n):
        row = np.sort(values[offsets[i] : offsets[i + 1]])
        for j in range(len(row)):
            if j == 0 or row[j] != row[j - 1]:
                out[k] = row[j]
                k += 1
        out_offsets[i + 1] = k
    return out[:k].copy(), out_offsets


def unique_rows(values: U32, offsets: I64) -> tuple[U32, I64]:
    """`sets.unique_rows`, compiled: each CSR row sorted without repeats."""
    return _unique_rows(np.ascontiguousarray(values, dtype=np.uint32), offsets.astype(np.int64))


@numba.njit(cache=True)
def _word_shingle_rows(words: U32, offsets: I64, n: int) -> tuple[U32, I64]:
    rows = len(offsets) - 1
    out = np.empty(offsets[rows] - offsets[0] + rows, dtype=np.uint32)
    out_offsets = np.zeros(rows + 1, dtype=np.int64)
    k = 0
    for r in range(rows):
        lo, hi = offsets[r], offsets[r + 1]
        m = hi - lo
        if m == 0:
            out_offsets[r + 1] = k
            continue
        width = min(n, m)
        count = m - width + 1
        start = k
        for i in range(count):
            acc = np.uint64(0)
            for j in range(width):
                acc = _fmix64(acc ^ _fmix64(np.uint64(words[lo + i + j]) + _GOLDEN)) + _GOLDEN
            out[k] = np.uint32(acc >> np.uint64(32))
            k += 1
        row = np.sort(out[start:k])
        w = start
        for j in range(len(row)):
            if j == 0 or row[j] != row[j - 1]:
                out[w] = row[j]
                w += 1
        k = w
        out_offsets[r + 1] = k
    return out[:k].copy(), out_offsets


def word_shingle_rows(words: U32, offsets: I64, n: int) -> tuple[U32, I64]:
    """`blockhash.word_shingles` of every CSR row at once: (values, offsets)."""
    return _word_shingle_rows(
        np.ascontiguousarray(words, dtype=np.uint32), offsets.astype(np.int64), n
    )


@numba.njit(cache=True)
def _jaccard_sorted(values: U32, offsets: I64, left: I64, right: I64) -> NDArray[np.float64]:
    out = np.empty(len(left), dtype=np.float64)
    for k in range(len(left)):
        a, a_end = offsets[left[k]], offsets[left[k] + 1]
        b, b_end = offsets[right[k]], offsets[right[k] + 1]
        size = (a_end - a) + (b_end - b)
        shared = 0
        while a < a_end and b < b_end:
            if values[a] == values[b]:
                shared += 1
                a += 1
                b += 1
            elif values[a] < values[b]:
                a += 1
            else:
                b += 1
        union = size - shared
        out[k] = shared / union if union > 0 else 0.0
    return out


def jaccard_sorted(values: U32, offsets: I64, left: I64, right: I64) -> NDArray[np.float64]:
    """`sets.jaccard` for rows that are sorted sets (as `unique_rows` makes), compiled."""
    return _jaccard_sorted(
        np.ascontiguousarray(values, dtype=np.uint32),
        offsets.astype(np.int64),
        left.astype(np.int64),
        right.astype(np.int64),
    )
