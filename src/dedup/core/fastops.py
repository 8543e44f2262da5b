"""Compiled versions of array steps that numpy does slowly: per-row work over CSR
arrays and loops over bands. Each equals a plain function elsewhere in the
core or a numpy reference in the tests (named in its docstring), and
`tests/test_core_fastops.py` (`test_core_edges.py` for `best_pairs`) checks that.
"""

from __future__ import annotations

from typing import TypeVar

import numba  # type: ignore[import-untyped, unused-ignore]
import numpy as np
from numpy.typing import NDArray

from dedup.core.lsh import GOLDEN, _fmix64
from dedup.core.xxh import _M32, _compiled, _compiled_inline, _compiled_parallel

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
_T = TypeVar("_T", bound=np.generic)
U32 = NDArray[np.uint32]
U64 = NDArray[np.uint64]

# The kernels below work in fixed chunks of rows, each row computed whole by
# one thread: the result never depends on the number of threads.
_CHUNKS = 64
# Rows up to this long are sorted by insertion (half of all rows have 6 words).
_INSERTION_SORT_MAX = 16
# Rows at least this long are radix sorted: a document's shingles, 40 M in
# rows of a median 477 values, sort 3.5 times faster than by quicksort.
_RADIX_SORT_MIN = 128


@_compiled_parallel
def _band_keys(sigs: U32, bands: int, rows: int, out: U64, first_band: int) -> None:
    n = sigs.shape[0]
    n_chunks = min(n, _CHUNKS)
    for c in numba.prange(n_chunks):
        keys = np.empty(bands, dtype=np.uint64)
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            # The bands' hash chains advance side by side: each step of one
            # chain waits on its last multiply, the other chains fill the wait
            # (1.8 times faster than one band after the other).
            for band in range(bands):
                keys[band] = np.uint64(first_band + band + 1) * GOLDEN
            for r in range(rows):
                for band in range(bands):
                    keys[band] = _fmix64(keys[band] ^ np.uint64(sigs[i, band * rows + r])) + GOLDEN
            for band in range(bands):
                out[i, band] = keys[band]


def band_keys(sigs: U32, bands: int, rows: int, out: I64 | None = None, first_band: int = 0) -> I64:
    """`lsh.band_keys`, compiled: int64[n, bands], written to `out` when given.

    With `first_band`, `sigs` holds the permutations of bands `first_band`
    onwards only (their `bands * rows` columns), and the keys are those
    bands' keys of the whole signature.
    """
    if first_band < 0:
        raise ValueError(f"first_band must be at least 0, got {first_band}")
    if bands * rows > sigs.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows exceed {sigs.shape[1]} permutations")
    if out is None:
        out = np.empty((sigs.shape[0], bands), dtype=np.int64)
    elif out.shape != (sigs.shape[0], bands) or out.dtype != np.int64:
        raise ValueError(f"out must be int64[{sigs.shape[0]}, {bands}], got {out.shape}")
    _band_keys(np.ascontiguousarray(sigs), bands, rows, out.view(np.uint64), first_band)
    return out


# The CSR kernels below write each row into a scratch array laid out like
# the input (no row gets longer), then pack it.


@_compiled
def _pack(scratch: U32, offsets: I64, lengths: I64) -> tuple[U32, I64]:
    """Rows scratch[offsets[i]:offsets[i] + lengths[i]] packed into one CSR."""
    rows = len(lengths)
    out_offsets = np.zeros(rows + 1, dtype=np.int64)
    for r in range(rows):
        out_offsets[r + 1] = out_offsets[r] + lengths[r]
    out = np.empty(out_offsets[rows], dtype=np.uint32)
    for r in range(rows):
        out[out_offsets[r] : out_offsets[r + 1]] = scratch[offsets[r] : offsets[r] + lengths[r]]
    return out, out_offsets


@_compiled
def _radix_sort_u32(values: U32, spare: U32) -> None:
    """`values` sorted in place by an LSD radix sort of four 8-bit digits, through `spare`.

    Not `sorting._radix`: that one sorts whole 64-bit columns and returns
    their order in new arrays; this one sorts one row of a CSR array where it
    lies, with 256-bucket counts that are cheap to clear for every row.
    """
    n = len(values)
    counts = np.zeros((4, 256), dtype=np.int64)
    for i in range(n):
        v = values[i]
        for d in range(4):
            counts[d, (v >> np.uint32(8 * d)) & np.uint32(255)] += 1
    source, target = values, spare[:n]
    for d in range(4):
        total = 0
        for b in range(256):
            c = counts[d, b]
            counts[d, b] = total
            total += c
        shift = np.uint32(8 * d)
        for i in range(n):
            v = source[i]
            b = (v >> shift) & np.uint32(255)
            target[counts[d, b]] = v
            counts[d, b] += 1
        source, target = target, source
    # Four passes: the sorted values are back in `values`.


@_compiled
def _sort_distinct_in_place(scratch: U32, at: int, count: int, spare: U32) -> int:
    """scratch[at:at + count] sorted, repeats dropped, in place; how many values are left.

    `spare` has room for `count` values (used for long rows).
    """
    if count == 0:
        return 0
    if count >= _RADIX_SORT_MIN:
        # Four linear passes beat quicksort's n log n comparisons.
        _radix_sort_u32(scratch[at : at + count], spare)
    elif count <= _INSERTION_SORT_MAX:
        # Most rows are a line's few words: a plain insertion sort beats
        # the call into numba's quicksort by about three times.
        for j in range(at + 1, at + count):
            value = scratch[j]
            i = j - 1
            while i >= at and scratch[i] > value:
                scratch[i + 1] = scratch[i]
                i -= 1
            scratch[i + 1] = value
    else:
        scratch[at : at + count].sort()
    k = 1
    for j in range(at + 1, at + count):
        if scratch[j] != scratch[at + k - 1]:
            scratch[at + k] = scratch[j]
            k += 1
    return k


@_compiled_parallel
def _rows_into(values: U32, offsets: I64, rows: I64, starts: I64, out: U32) -> None:
    n = len(rows)
    n_chunks = min(n, _CHUNKS)
    for c in numba.prange(n_chunks):
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            r = rows[i]
            size = offsets[r + 1] - offsets[r]
            out[starts[i] : starts[i] + size] = values[offsets[r] : offsets[r + 1]]


def rows_into(values: U32, offsets: I64, rows: I64, starts: I64, out: U32) -> None:
    """Rows `rows` of a CSR array copied into `out`, row i from `starts[i]` on."""
    if len(rows):
        _rows_into(
            np.ascontiguousarray(values),
            np.ascontiguousarray(offsets, dtype=np.int64),
            np.ascontiguousarray(rows, dtype=np.int64),
            np.ascontiguousarray(starts, dtype=np.int64),
            out,
        )


def gather(values: NDArray[_T], offsets: I64, rows: I64) -> tuple[NDArray[_T], I64]:
    """`sets.gather`, compiled: rows `rows` of a CSR array, concatenated, and their offsets.

    The numpy version builds two index arrays of 8 bytes per gathered value;
    this copies row by row, on numba's threads.
    """
    picked = np.ascontiguousarray(rows, dtype=np.int64)
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    lengths = offs[picked + 1] - offs[picked]
    new_offsets = np.zeros(len(picked) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    out = np.empty(int(new_offsets[-1]), dtype=values.dtype)
    if len(out):
        _rows_into(np.ascontiguousarray(values), offs, picked, new_offsets[:-1], out)
    return out, new_offsets


@_compiled
def _set_row(
    words: U32, lo: int, hi: int, n: int, mixed: U64, spare: U32, scratch: U32, at: int
) -> int:
    """Sorted distinct hashes of row words[lo:hi], written to scratch[at:]; how many.

    n = 0: the row's own values; n >= 1: the hashes of its word n-grams
    (`blockhash.word_shingles`). `mixed` is room for one uint64 per word of
    the row: each word is mixed once there, not once per n-gram holding it;
    `spare` has room for one uint32 per word, for sorting. Everything
    happens in scratch[at:at + hi - lo], which no row outgrows.
    """
    m = hi - lo
    if n == 0 or m == 0:
        scratch[at : at + m] = words[lo:hi]
        return _sort_distinct_in_place(scratch, at, m, spare)
    width = min(n, m)
    count = m - width + 1
    for j in range(m):
        mixed[j] = _fmix64(np.uint64(words[lo + j]) + GOLDEN)
    for i in range(count):
        acc = np.uint64(0)
        for j in range(width):
            acc = _fmix64(acc ^ mixed[i + j]) + GOLDEN
        scratch[at + i] = np.uint32(acc >> np.uint64(32))
    return _sort_distinct_in_place(scratch, at, count, spare)


@_compiled_parallel
def _set_rows(words: U32, offsets: I64, n: int) -> tuple[U32, I64]:
    rows = len(offsets) - 1
    # A row of m values has at most m distinct values and m shingles (one when m < n).
    base = offsets - offsets[0]
    scratch = np.empty(base[rows], dtype=np.uint32)
    lengths = np.zeros(rows, dtype=np.int64)
    longest = 0
    for r in range(rows):
        longest = max(longest, offsets[r + 1] - offsets[r])
    n_chunks = min(rows, _CHUNKS)
    for c in numba.prange(n_chunks):
        mixed = np.empty(longest if n > 0 else 0, dtype=np.uint64)
        spare = np.empty(longest, dtype=np.uint32)
        for r in range(c * rows // n_chunks, (c + 1) * rows // n_chunks):
            lengths[r] = _set_row(
                words, offsets[r], offsets[r + 1], n, mixed, spare, scratch, base[r]
            )
    return _pack(scratch, base, lengths)


def unique_rows(values: U32, offsets: I64) -> tuple[U32, I64]:
    """`sets.unique_rows`, compiled: each CSR row sorted without repeats."""
    return _set_rows(
        np.ascontiguousarray(values, dtype=np.uint32),
        np.ascontiguousarray(offsets, dtype=np.int64),
        0,
    )


def word_shingle_rows(words: U32, offsets: I64, n: int) -> tuple[U32, I64]:
    """`blockhash.word_shingles` of every CSR row at once: (values, offsets).

    Raises:
        ValueError: n < 1.
    """
    if n < 1:
        raise ValueError(f"shingles need n >= 1 words, got {n}")
    return _set_rows(
        np.ascontiguousarray(words, dtype=np.uint32),
        np.ascontiguousarray(offsets, dtype=np.int64),
        n,
    )


@_compiled
def _jaccard_pair(values: U32, offsets: I64, left: int, right: int) -> float:
    a, a_end = offsets[left], offsets[left + 1]
    b, b_end = offsets[right], offsets[right + 1]
    size = (a_end - a) + (b_end - b)
    shared = 0
    # Branch-free steps: which side advances is data (a random hash order),
    # so a branch on it is mispredicted about half the time.
    while a < a_end and b < b_end:
        x, y = values[a], values[b]
        shared += x == y
        a += x <= y
        b += y <= x
    union = size - shared
    return shared / union if union > 0 else 0.0


@_compiled_parallel
def _jaccard_sorted(values: U32, offsets: I64, left: I64, right: I64) -> NDArray[np.float64]:
    n = len(left)
    out = np.empty(n, dtype=np.float64)
    n_chunks = min(n, _CHUNKS)
    for c in numba.prange(n_chunks):
        for k in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            out[k] = _jaccard_pair(values, offsets, left[k], right[k])
    return out


def jaccard_sorted(values: U32, offsets: I64, left: I64, right: I64) -> NDArray[np.float64]:
    """`sets.jaccard` for rows that are sorted sets (as `unique_rows` makes), compiled."""
    return _jaccard_sorted(
        np.ascontiguousarray(values, dtype=np.uint32),
        np.ascontiguousarray(offsets, dtype=np.int64),
        np.ascontiguousarray(left, dtype=np.int64),
        np.ascontiguousarray(right, dtype=np.int64),
    )


# Buckets of the per-row counts that bound a Jaccard similarity from above
# (`jaccard_at_least`): a row's counts fill one 16-byte vector.
_BOUND_BUCKETS = 16
# Rows longer than this are always compared: their counts would not fit a byte.
_BOUND_MAX_ROW = 255


@_compiled_parallel
def _bucket_counts(values: U32, offsets: I64) -> NDArray[np.uint8]:
    n = len(offsets) - 1
    counts = np.zeros((n, _BOUND_BUCKETS), dtype=np.uint8)
    n_chunks = min(n, _CHUNKS)
    for c in numba.prange(n_chunks):
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            if offsets[i + 1] - offsets[i] <= _BOUND_MAX_ROW:
                for p in range(offsets[i], offsets[i + 1]):
                    # The values are hashes: their top bits are as good as any.
                    counts[i, values[p] >> np.uint32(28)] += np.uint8(1)
    return counts


@_compiled_parallel
def _jaccard_at_least(
    values: U32, offsets: I64, counts: NDArray[np.uint8], left: I64, right: I64, threshold: float
) -> NDArray[np.float64]:
    n = len(left)
    out = np.empty(n, dtype=np.float64)
    n_chunks = min(n, _CHUNKS)
    for c in numba.prange(n_chunks):
        for k in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            a, b = left[k], right[k]
            size_a = offsets[a + 1] - offsets[a]
            size_b = offsets[b + 1] - offsets[b]
            if size_a <= _BOUND_MAX_ROW and size_b <= _BOUND_MAX_ROW:
                # Shared values share a bucket: at most the smaller count of each.
                most = 0
                for j in range(_BOUND_BUCKETS):
                    most += min(counts[a, j], counts[b, j])
                union = size_a + size_b - most
                # i / (size - i) grows with i, and rounding keeps the order:
                # below the threshold here, the exact value is too.
                if union > 0 and most / union < threshold:
                    out[k] = -1.0
                    continue
            out[k] = _jaccard_pair(values, offsets, a, b)
    return out


def bucket_counts(values: U32, offsets: I64) -> NDArray[np.uint8]:
    """Per CSR row, its values counted in 16 buckets (`jaccard_at_least` bounds with them)."""
    return _bucket_counts(
        np.ascontiguousarray(values, dtype=np.uint32), np.ascontiguousarray(offsets, dtype=np.int64)
    )


def jaccard_at_least(
    values: U32,
    offsets: I64,
    left: I64,
    right: I64,
    threshold: float,
    counts: NDArray[np.uint8] | None = None,
) -> NDArray[np.float64]:
    """`jaccard_sorted` of the pairs at or above `threshold`; -1.0 for the others.

    Most candidate pairs of an LSH fall short (six in seven among the
    variant lines of a 406 MB corpus). Counts of each row's values in 16
    buckets bound how many values a pair can share: a pair whose bound is
    below `threshold` is not merged (four in five of those that fall short).
    `counts` are `bucket_counts(values, offsets)`, made here when not given
    (a caller with many batches of pairs over one CSR makes them once).
    """
    values = np.ascontiguousarray(values, dtype=np.uint32)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    return _jaccard_at_least(
        values,
        offsets,
        bucket_counts(values, offsets) if counts is None else counts,
        np.ascontiguousarray(left, dtype=np.int64),
        np.ascontiguousarray(right, dtype=np.int64),
        float(threshold),
    )


# --- MinHash --------------------------------------------------------------------


@_compiled_inline
def _fmix32(value: np.uint32) -> np.uint32:
    """murmur3's 32-bit finaliser: spreads a shingle hash before the permutations."""
    h = np.uint64(value)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & _M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _M32
    h ^= h >> np.uint64(16)
    return np.uint32(h)


# Rows of at least this many hashes are signed one permutation at a time
# (a minimum over the row's hashes); shorter rows one hash at a time (a
# minimum into every permutation's slot). Both loops vectorise; the first
# pays a horizontal minimum per permutation, which only long rows amortise.
# Measured crossover on AVX2: 32-64 hashes.
_LONG_ROW = 64


@_compiled
def _signature_rows(hashes: U32, offsets: I64, a: U32, b: U32, out: U32, lo: int, hi: int) -> None:
    """out[i] = MinHash of row i, for rows lo <= i < hi.

    `(a * h + b) mod 2**32` is computed as a product truncated to 32 bits:
    the same value as in 64-bit arithmetic, but 32-bit lanes let the
    compiler multiply eight permutations per instruction instead of
    emulating 64-bit products on AVX2 (with the loop orders below, 3.6-4.6
    times faster on rows of 1-40 hashes and 13 times on rows of hundreds).
    """
    k = len(a)
    mixed = np.empty(0, dtype=np.uint32)
    for i in range(lo, hi):
        first, stop = offsets[i], offsets[i + 1]
        row = out[i]
        if stop - first < _LONG_ROW:
            h = _fmix32(hashes[first])
            for j in range(k):
                row[j] = np.uint32(a[j] * h + b[j])
            for p in range(first + 1, stop):
                h = _fmix32(hashes[p])
                for j in range(k):
                    row[j] = min(row[j], np.uint32(a[j] * h + b[j]))
            continue
        n = stop - first
        if n > len(mixed):
            mixed = np.empty(max(n, 2 * len(mixed)), dtype=np.uint32)
        for p in range(n):
            mixed[p] = _fmix32(hashes[first + p])
        for j in range(k):
            aj, bj = a[j], b[j]
            low = np.uint32(0xFFFFFFFF)
            for p in range(n):
                low = min(low, np.uint32(aj * mixed[p] + bj))
            row[j] = low


@_compiled_parallel
def _signatures_parallel(
    hashes: U32, offsets: I64, a: U32, b: U32, out: U32, n_chunks: int
) -> None:
    # Fixed chunks, each row computed whole by one thread: results never
    # depend on the number of threads.
    n = len(offsets) - 1
    for c in numba.prange(n_chunks):
        _signature_rows(hashes, offsets, a, b, out, c * n // n_chunks, (c + 1) * n // n_chunks)


# Below this many (hash, permutation) pairs, waking threads costs more than it saves.
_PARALLEL_WORK = 1 << 22


def signatures_kernel(hashes: U32, offsets: I64, a: U32, b: U32, out: U32 | None = None) -> U32:
    """MinHash signatures of many sets: same contract and values as `minhash.signatures`.

    Args:
        hashes: uint32 shingle hashes of all rows, concatenated.
        offsets: int64[n + 1]; row i is `hashes[offsets[i]:offsets[i + 1]]`.
            Every row must be non-empty.
        a, b: permutation parameters from `minhash.permutations`.
        out: a C-contiguous uint32 array of at least n * len(a) items to
            write the signatures to (a caller signing chunk after chunk
            reuses one; fresh memory costs more than signing); the result
            is then a view of it.

    Returns:
        uint32[n, len(a)]: row i is the signature of row i's set.

    Raises:
        ValueError: a row is empty (its signature would be undefined), or
            `out` is too small.
    """
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    n, k = max(len(offs) - 1, 0), len(a)
    if out is None:
        out = np.empty((n, k), dtype=np.uint32)
    elif (
        out.dtype != np.uint32
        or not out.flags.c_contiguous
        or not out.flags.writeable
        or out.size < n * k
    ):
        raise ValueError(f"out must be writeable C-contiguous uint32 of {n * k} items or more")
    else:
        out = out.reshape(-1)[: n * k].reshape(n, k)
    if n == 0:
        return out
    if np.any(np.diff(offs) <= 0):
        raise ValueError("every row needs at least one hash")
    values = np.ascontiguousarray(hashes, dtype=np.uint32)
    a32 = np.ascontiguousarray(a, dtype=np.uint32)
    b32 = np.ascontiguousarray(b, dtype=np.uint32)
    if (offs[-1] - offs[0]) * len(a32) < _PARALLEL_WORK:
        _signature_rows(values, offs, a32, b32, out, 0, n)
    else:
        _signatures_parallel(values, offs, a32, b32, out, min(n, 64))
    return out


@_compiled
def _tile(
    doc: I64,
    start: I64,
    end: I64,
    run: I64,
    doc_len: I64,
    out_doc: I64,
    out_start: I64,
    out_end: I64,
    out_run: I64,
) -> int:
    """Spans of `labels.tile_spans`, written to the out arrays when they are long enough; how many.

    Each document is walked as gap, block, gap, ..., block, gap; a piece that
    is not empty extends the open span when its run is the same and opens a
    new one otherwise. One pass, no piece arrays: the numpy version holds
    four int64 arrays of 2B + D pieces and their filtered copies.
    """
    write = len(out_doc) > 0
    n = 0
    b = 0
    for d in range(len(doc_len)):
        is_open = False
        s_start = s_end = s_run = 0
        prev_end = 0
        prev_run = -2  # -2: the document's start
        while True:
            if b < len(doc) and doc[b] == d:
                lo, hi, r = start[b], end[b], run[b]
                # The gap before a boilerplate block joins the run before it,
                # or this block's run at the document's start.
                gap = -1
                if r >= 0:
                    gap = r if prev_run == -2 else (prev_run if prev_run >= 0 else -1)
                pieces = ((prev_end, lo, gap), (lo, hi, r))
                prev_end, prev_run = hi, r
                b += 1
                last = False
            else:
                tail = prev_run if prev_run != -2 else -1
                pieces = ((prev_end, doc_len[d], tail), (0, 0, -1))
                last = True
            for p_start, p_end, p_run in pieces:
                if p_end <= p_start:
                    continue
                if is_open and p_run == s_run:
                    s_end = p_end
                    continue
                if is_open:
                    if write:
                        out_doc[n], out_start[n], out_end[n], out_run[n] = d, s_start, s_end, s_run
                    n += 1
                is_open, s_start, s_end, s_run = True, p_start, p_end, p_run
            if last:
                break
        if is_open:
            if write:
                out_doc[n], out_start[n], out_end[n], out_run[n] = d, s_start, s_end, s_run
            n += 1
    return n


def tile_spans(
    doc: I64, start: I64, end: I64, block_run: I64, doc_len: I64
) -> tuple[I64, I64, I64, I64]:
    """`labels.tile_spans`, compiled: (doc, start, end, run) of every span.

    Two passes over the blocks, no piece arrays. Blocks must be sorted by
    (doc, start), as there; blocks of documents out of order or out of range
    raise ValueError (the walk would pass over them).
    """
    doc, start, end, block_run, doc_len = (
        np.ascontiguousarray(a, dtype=np.int64) for a in (doc, start, end, block_run, doc_len)
    )
    if len(doc) and (doc[0] < 0 or doc[-1] >= len(doc_len) or np.any(doc[1:] < doc[:-1])):
        raise ValueError("tile_spans: blocks must be sorted by document, each below len(doc_len)")
    none = np.empty(0, np.int64)
    n = _tile(doc, start, end, block_run, doc_len, none, none, none, none)
    out = tuple(np.empty(n, np.int64) for _ in range(4))
    _tile(doc, start, end, block_run, doc_len, *out)
    return out[0], out[1], out[2], out[3]


@_compiled
def _span_sums(
    span_doc: I64,
    span_start: I64,
    doc: I64,
    start: I64,
    end: I64,
    block_score: F64,
    total: F64,
    scored: F64,
) -> None:
    """Per span, the summed lengths and length-weighted scores of the blocks starting in it.

    One merge walk over spans and blocks, both sorted by (doc, start); the
    sums are made in block order, as `np.bincount` makes them.
    """
    s = 0
    last = len(span_doc) - 1
    for b in range(len(doc)):
        d, a = doc[b], start[b]
        while s < last and (
            span_doc[s + 1] < d or (span_doc[s + 1] == d and span_start[s + 1] <= a)
        ):
            s += 1
        # A block out of order walks back (the pipeline's never do).
        while s > 0 and (span_doc[s] > d or (span_doc[s] == d and span_start[s] > a)):
            s -= 1
        if span_doc[s] > d or (span_doc[s] == d and span_start[s] > a):
            continue  # before the first span: in no span
        weight = np.float64(end[b] - a)
        total[s] += weight
        scored[s] += weight * block_score[b]


def span_scores(
    span_doc: I64,
    span_start: I64,
    span_run: I64,
    doc: I64,
    start: I64,
    end: I64,
    block_score: F64,
) -> F64:
    """`labels.span_scores`, compiled: a merge walk instead of a binary search per block.

    On 9 M blocks the searches' random reads cost 0.3 s and grew 30-fold
    for a tenfold corpus; the walk reads both arrays once, in order.
    """
    scores = np.full(len(span_doc), np.nan)
    if not len(doc) or not len(span_doc):
        return scores
    total = np.zeros(len(span_doc))
    scored = np.zeros(len(span_doc))
    as_i64 = np.ascontiguousarray
    _span_sums(
        as_i64(span_doc, dtype=np.int64),
        as_i64(span_start, dtype=np.int64),
        as_i64(doc, dtype=np.int64),
        as_i64(start, dtype=np.int64),
        as_i64(end, dtype=np.int64),
        np.ascontiguousarray(block_score, dtype=np.float64),
        total,
        scored,
    )
    boiler = span_run >= 0
    scores[boiler] = scored[boiler] / np.maximum(total[boiler], 1.0)
    return scores


@_compiled
def _run_ids_kernel(
    doc: I64, repeated: NDArray[np.bool_], support: U64, alone: NDArray[np.bool_], ids: I64
) -> None:
    run = -1
    for i in range(len(doc)):
        if not repeated[i]:
            ids[i] = -1
            continue
        if (
            i == 0
            or alone[i]
            or not repeated[i - 1]
            or doc[i] != doc[i - 1]
            or support[i] != support[i - 1]
        ):
            run += 1
        ids[i] = run


def run_ids(doc: I64, repeated: NDArray[np.bool_], support: U64, alone: NDArray[np.bool_]) -> I64:
    """`labels._run_ids`, compiled: one pass, no temporaries the size of the corpus."""
    ids = np.empty(len(doc), dtype=np.int64)
    _run_ids_kernel(
        np.ascontiguousarray(doc, dtype=np.int64),
        np.ascontiguousarray(repeated, dtype=np.bool_),
        np.ascontiguousarray(support, dtype=np.uint64),
        np.ascontiguousarray(alone, dtype=np.bool_),
        ids,
    )
    return ids


@_compiled
def _run_keys_kernel(block_run: I64, cluster: I64, first: I64, length: I64, keys: I64) -> int:
    """The runs of `labels._run_keys`, written to the out arrays when they are
    long enough; how many there are."""
    write = len(first) > 0
    n = 0
    previous = np.int64(-1)
    head = 0
    count = 0
    total = np.uint64(0)
    for b in range(len(block_run)):
        r = block_run[b]
        if r < 0:
            continue
        if n == 0 or r != previous:
            if write and n > 0:
                keys[n - 1] = np.int64(_fmix64(total + np.uint64(count) * GOLDEN))
                length[n - 1] = count
            previous = r
            head = b
            count = 0
            total = np.uint64(0)
            if write:
                first[n] = b
            n += 1
        position = np.uint64(b - head) + np.uint64(1)
        total += _fmix64(np.uint64(cluster[b]) ^ _fmix64(position * GOLDEN))
        count += 1
    if write and n > 0:
        keys[n - 1] = np.int64(_fmix64(total + np.uint64(count) * GOLDEN))
        length[n - 1] = count
    return n


def run_keys(block_run: I64, cluster: I64) -> tuple[I64, I64, I64]:
    """`labels._run_keys`, compiled: (first block, length, passage key) of every run."""
    block_run = np.ascontiguousarray(block_run, dtype=np.int64)
    cluster = np.ascontiguousarray(cluster, dtype=np.int64)
    none = np.empty(0, np.int64)
    n = _run_keys_kernel(block_run, cluster, none, none, none)
    first, length, keys = (np.empty(n, np.int64) for _ in range(3))
    if n:
        _run_keys_kernel(block_run, cluster, first, length, keys)
    return first, length, keys


@_compiled
def _best_pairs(
    block: I64, candidate: I64, similarity: F64, candidate_key: I64, best: I64, score: F64
) -> None:
    """For each block the pair of highest similarity, then smallest key, then first.

    Similarities are never NaN (`_jaccard_pair` gives 0.0 for two empty
    sets): a NaN would never be replaced here, where a sort puts it last.
    """
    key = np.empty(len(best), dtype=np.int64)
    for i in range(len(block)):
        b = block[i]
        s = similarity[i]
        if best[b] < 0 or s > score[b] or (s == score[b] and candidate_key[i] < key[b]):
            best[b] = candidate[i]
            score[b] = s
            key[b] = candidate_key[i]


def best_pairs(
    block: I64, candidate: I64, similarity: F64, candidate_key: I64, n_blocks: int
) -> tuple[I64, F64]:
    """`edges.best_variant`'s choice in one pass over the pairs.

    Equal to a stable `np.lexsort((candidate_key, -similarity, block))` and
    the first pair of each block (the reference in `tests/test_core_edges.py`).
    """
    best = np.full(n_blocks, -1, dtype=np.int64)
    score = np.zeros(n_blocks)
    as_i64 = np.ascontiguousarray
    _best_pairs(
        as_i64(block, dtype=np.int64),
        as_i64(candidate, dtype=np.int64),
        np.ascontiguousarray(similarity, dtype=np.float64),
        as_i64(candidate_key, dtype=np.int64),
        best,
        score,
    )
    return best, score
