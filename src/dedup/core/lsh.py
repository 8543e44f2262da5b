"""LSH banding: band parameters, band keys, candidate pairs.

`optimal_params` chooses (b, r) exactly as datasketch's `MinHashLSH(threshold,
num_perm)` does. Candidates come from sorting band keys, never from an
all-pairs join inside a bucket: each member of a bucket meets the next
`WINDOW` members, so a bucket of m members yields fewer than m * WINDOW pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache, partial

import numba  # type: ignore[import-untyped, unused-ignore]
import numpy as np
from numpy.typing import NDArray

from dedup.core.sorting import distinct, lexsort2, stable_sorted
from dedup.core.threads import map_in_threads
from dedup.core.xxh import _compiled

I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]


def _false_positive_area(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad  # here: importing scipy costs ~1 s at start-up

    area, _ = quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)
    return float(area)


def _false_negative_area(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad

    area, _ = quad(lambda s: (1 - s ** float(r)) ** float(b), threshold, 1.0)
    return float(area)


@lru_cache(maxsize=64)
def optimal_params(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and negative areas.

    Scans b = 1..num_perm and r = 1..num_perm // b in the same order as
    datasketch, keeping the first minimum, so ties resolve the same way.
    """
    best = float("inf")
    chosen = (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            error = (
                _false_positive_area(threshold, b, r) * fp_weight
                + _false_negative_area(threshold, b, r) * fn_weight
            )
            if error < best:
                best = error
                chosen = (b, r)
    return chosen


_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)

# Arrays at least this long are mixed by the compiled loop: numpy's five
# passes and four temporaries cost 5 times as much on millions of values.
_COMPILED_FMIX_AT = 1 << 12


# Compiled callers in other modules (fastops, keyed) inline this and cache their
# machine code keyed on their own file only: after changing it, delete the
# numba cache files (__pycache__/*.nbi, *.nbc) or those callers keep the old.
@numba.njit(cache=True, inline="always")
def _fmix64(h: np.uint64) -> np.uint64:
    """MurmurHash3's 64-bit finalizer of one value, for compiled code."""
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    return h ^ (h >> _S33)


@_compiled
def _fmix64_array(h: NDArray[np.uint64], out: NDArray[np.uint64]) -> None:
    # One thread: callers include the service's request threads, and a
    # parallel region launched from several threads at once is not safe
    # under every numba threading layer.
    for i in range(len(h)):
        out[i] = _fmix64(h[i])


def fmix64(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """MurmurHash3's 64-bit finalizer, element-wise (a new array for an array)."""
    big = isinstance(h, np.ndarray) and h.ndim == 1 and len(h) >= _COMPILED_FMIX_AT
    if big and h.dtype == np.uint64:
        out = np.empty(len(h), dtype=np.uint64)
        _fmix64_array(np.ascontiguousarray(h), out)
        return out
    h = h ^ (h >> _S33)
    h = h * _M1
    h = h ^ (h >> _S33)
    h = h * _M2
    return h ^ (h >> _S33)


# The golden-ratio constant: an odd 64-bit seed/increment for the hash mixes
# used by banding, passage keys and document shingles.
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MASK64 = (1 << 64) - 1


def band_keys(sigs: NDArray[np.uint32], bands: int, rows: int) -> I64:
    """int64[n, bands]: one 64-bit key per band of r signature values.

    Equal band values give equal keys; unequal ones collide with chance
    ~2**-64, and candidates are verified anyway.
    """
    n = sigs.shape[0]
    if bands * rows > sigs.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows exceed {sigs.shape[1]} permutations")
    keys = np.empty((n, bands), dtype=np.uint64)
    wide = sigs.astype(np.uint64)
    for band in range(bands):
        h = np.full(n, ((band + 1) * int(GOLDEN)) & _MASK64, dtype=np.uint64)
        for col in range(band * rows, (band + 1) * rows):
            h = fmix64(h ^ wide[:, col]) + GOLDEN
        keys[:, band] = h
    return keys.view(np.int64)


# How many following bucket members each member is compared with.
WINDOW = 8


def candidate_pairs(keys: I64, window: int = WINDOW) -> tuple[I64, I64]:
    """Distinct pairs (left < right) of rows that share a key in some band.

    Within each bucket, members sorted by row index are paired with the next
    `window` members. A bucket of m rows gives fewer than m * window pairs, so
    a passage shared by 100,000 pages costs under 800,000 pairs per band
    rather than 5 billion. A window rather than a plain chain matters because
    pairs are verified afterwards: with a chain, one unrelated row between two
    similar ones would break both links and the similar pair would never be
    compared. Now that takes `window` unrelated rows between them in every
    band they share.

    Keys are hashes (`band_keys`): rows are sorted on their keys' top bits,
    and keys that share those (rare among hashes, common among small
    integers) are told apart by a walk over all of them.
    """
    keys = np.asarray(keys, dtype=np.int64)
    return candidate_pairs_of([keys], keys.shape[0], window)


def candidate_pairs_of(groups: Iterable[I64], n: int, window: int = WINDOW) -> tuple[I64, I64]:
    """`candidate_pairs` of the bands of int64[n, k] key matrices made one after another.

    The bands of one matrix are done before the next is asked for
    (`similar.band_key_groups` makes each in the same memory), so only one
    group of bands is held at a time. Pairs are the same however the bands
    are grouped.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    # Rows in the low bits of a sort key, the band key's top bits above them.
    shift = np.uint64(max(n - 1, 1).bit_length())

    def band_pairs(keys: I64, band: int) -> I64:
        # Sorting keys alone is four times faster than sorting them with
        # their rows (numpy's vectorised sort: 3.2 M in 0.02 s), so each
        # row rides in the low bits of its key's top bits. Rows of one
        # bucket end up side by side in ascending order; the few rows of
        # other keys that share those top bits are told apart on `keys`.
        column = band_column(keys, band)  # read in order once, then at random
        packed = _packed_rows(column.view(np.uint64), shift)
        packed.sort()
        return _window_pairs(packed, shift, column, window, np.int64(n))

    packed: list[I64] = []
    for keys in groups:
        if keys.shape[0] != n:
            raise ValueError(f"band keys of {keys.shape[0]} rows, expected {n}")
        done = map_in_threads(partial(band_pairs, keys), range(keys.shape[1]))
        packed += [p for p in done if len(p)]
    if not packed:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pairs = distinct(np.concatenate(packed))
    return pairs // n, pairs % n


@_compiled
def _packed_rows(keys: U64, shift: np.uint64) -> U64:
    """Each row under the top bits of its key (those above `shift`)."""
    out = np.empty(len(keys), dtype=np.uint64)
    for row in range(len(keys)):
        out[row] = (keys[row] >> shift << shift) | np.uint64(row)
    return out


@_compiled
def _walk_windows(
    packed: U64,
    shift: np.uint64,
    keys: I64,
    window: int,
    n: np.int64,
    out: I64,
    write: bool,
) -> int:
    """Pairs of each row with the next `window` rows of its bucket; written to `out` if `write`.

    `packed` holds each row under its key's top bits, sorted: a bucket's rows
    lie within one run of equal top bits, ascending. `keys` (by row) tells
    the buckets of a run apart. Returns how many pairs there are.
    """
    mask = (np.uint64(1) << shift) - np.uint64(1)
    m = len(packed)
    at = 0
    i = 0
    while i < m:
        top = packed[i] >> shift
        end = i + 1
        while end < m and packed[end] >> shift == top:
            end += 1
        # A run of one row (most rows: a key of its own) pairs with nothing.
        for p in range(i, end - 1):
            row = np.int64(packed[p] & mask)
            key = keys[row]
            found = 0
            q = p + 1
            while q < end and found < window:
                other = np.int64(packed[q] & mask)
                if keys[other] == key:
                    if write:
                        out[at] = row * n + other
                    at += 1
                    found += 1
                q += 1
        i = end
    return at


@_compiled
def _window_pairs(packed: U64, shift: np.uint64, keys: I64, window: int, n: np.int64) -> I64:
    """Each row paired with the next `window` rows of its bucket, packed as left * n + right.

    One walk counts the pairs, a second writes them (instead of a comparison
    of the whole band and two gathers per step of the window).
    """
    total = _walk_windows(packed, shift, keys, window, n, np.empty(0, np.int64), False)
    out = np.empty(total, dtype=np.int64)
    _walk_windows(packed, shift, keys, window, n, out, True)
    return out


def band_column(keys: I64, band: int) -> I64:
    """One band's keys of int64[n, bands] band keys, as a contiguous array.

    A view when the matrix is laid out band after band, as
    `similar.set_band_keys` makes it. Otherwise a copy: gathering
    `keys[order, band]` from a matrix of rows reads one cache line per row
    at random (a row is `bands` keys long); copying the column out first
    reads the matrix once in order, and the gather then stays within an
    array `bands` times smaller. On 956 k rows of 32 bands the band walks
    of `query_pairs` (now `query_sorted_bands`) took 0.82 s instead of 1.38 s.
    """
    return np.ascontiguousarray(keys[:, band])


@dataclass(frozen=True)
class SortedBands:
    """Index rows' band keys sorted band by band, for looking up many batches of queries.

    `keys[b]` is band b's column sorted (stably) and `rows[b]` the index
    rows in that order; `n_index` counts the rows.
    """

    keys: list[I64]
    rows: list[I64]
    n_index: int


def sorted_bands(index_keys: I64) -> SortedBands:
    """The sorted bands of int64[n, bands] index band keys (`query_sorted_bands` walks them)."""
    n_index, bands = index_keys.shape
    # Stable: the first members of a bucket are its smallest rows.
    columns = map_in_threads(
        lambda band: stable_sorted(band_column(index_keys, band)), list(range(bands))
    )
    return SortedBands([c[0] for c in columns], [c[1] for c in columns], n_index)


def query_pairs(index_keys: I64, query_keys: I64, cap: int = WINDOW) -> tuple[I64, I64]:
    """Distinct (query row, index row) pairs that share a key in some band.

    The one-sided counterpart of `candidate_pairs`, for looking rows up in an
    index rather than pairing rows among themselves. Per band, a query row
    meets at most `cap` index rows of its bucket (the smallest rows), so a
    crowded bucket costs at most `cap` pairs per query. Pairs come sorted by
    query, then index row.
    """
    return query_sorted_bands(sorted_bands(index_keys), query_keys, cap)


def query_sorted_bands(index: SortedBands, query_keys: I64, cap: int = WINDOW) -> tuple[I64, I64]:
    """`query_pairs` against index rows sorted once (`sorted_bands`).

    A query's pairs do not depend on the other queries: queries looked up
    in batches, each batch's rows offset by its start, give the pairs of
    all of them at once, in the same order.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    bands = query_keys.shape[1]
    if bands != len(index.keys):
        raise ValueError(f"queries have {bands} bands, the index {len(index.keys)}")
    width = np.int64(max(index.n_index, 1))

    def band_hits(band: int) -> I64:
        # Queries in key order, so that one merge walk meets every bucket.
        # (Their own order among equal keys does not matter: pairs are sorted.)
        query_column = band_column(query_keys, band)
        by_key = np.argsort(query_column).astype(np.int64, copy=False)
        return _bucket_hits(
            index.keys[band], index.rows[band], query_column[by_key], by_key, cap, width
        )

    packed = [p for p in map_in_threads(band_hits, range(bands)) if len(p)]
    if not packed:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pairs = distinct(np.concatenate(packed))
    return pairs // width, pairs % width


@_compiled
def _walk_buckets(
    index_keys: I64,
    index_order: I64,
    query_keys: I64,
    query_order: I64,
    cap: int,
    width: np.int64,
    out: I64,
    write: bool,
) -> int:
    """The pairs of `_bucket_hits`, written to `out` if `write`; how many there are."""
    at = 0
    i = 0
    for q in range(len(query_keys)):
        while i < len(index_keys) and index_keys[i] < query_keys[q]:
            i += 1
        j = i
        while j < len(index_keys) and j - i < cap and index_keys[j] == query_keys[q]:
            if write:
                out[at] = query_order[q] * width + index_order[j]
            at += 1
            j += 1
    return at


@_compiled
def _bucket_hits(
    index_keys: I64, index_order: I64, query_keys: I64, query_order: I64, cap: int, width: np.int64
) -> I64:
    """(query, index row) pairs of one band packed as query * width + row, `cap` rows a query.

    Both key arrays are sorted: one walk along both finds each query's
    bucket (instead of two binary searches a query and four gathers); a
    first walk counts the pairs.
    """
    none = np.empty(0, dtype=np.int64)
    total = _walk_buckets(index_keys, index_order, query_keys, query_order, cap, width, none, False)
    packed = np.empty(total, dtype=np.int64)
    _walk_buckets(index_keys, index_order, query_keys, query_order, cap, width, packed, True)
    return packed


def bucket_pairs(band: I64, band_key: I64, member: I64, window: int = WINDOW) -> tuple[I64, I64]:
    """Distinct pairs (left < right) of members sharing a bucket, as `candidate_pairs` pairs rows.

    A bucket is a (band, band key) value; `band`, `band_key` and `member`
    are parallel int64 arrays with one entry per member and band. Within a
    bucket, members sorted ascending are each paired with the next `window`
    members. When `member` is the row index of `candidate_pairs(keys)` (or any
    int64 that sorts the rows the same way, such as the sorted content keys
    the rows stand for), the pairs are the same; a distributed engine calls
    this on each partition of a shuffle by bucket, every bucket whole in one
    partition.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    band, band_key, member = _shared_buckets(band, band_key, member)
    order = np.lexsort((member, band_key, band))
    b, k, m = band[order], band_key[order], member[order]
    lefts: list[I64] = []
    rights: list[I64] = []
    for step in range(1, min(window, len(m) - 1) + 1):
        same = (b[step:] == b[:-step]) & (k[step:] == k[:-step])
        lefts.append(m[:-step][same])
        rights.append(m[step:][same])
    return unique_pairs(
        np.concatenate(lefts) if lefts else np.empty(0, np.int64),
        np.concatenate(rights) if rights else np.empty(0, np.int64),
    )


def _shared_buckets(band: I64, band_key: I64, member: I64) -> tuple[I64, I64, I64]:
    """The entries of buckets with two members or more (and maybe a few others), in any order.

    Most buckets hold one member and give no pair (99.8 % of the 24 M
    entries of a 100 MB corpus): they are found by sorting one 64-bit mix
    of (band, band key) instead of sorting every entry on three keys (3 M
    entries: 0.3 s against 2 s). Two buckets whose mixes are equal only
    keep both; pairs are made from the exact keys afterwards.
    """
    if len(band) < 2:
        return band, band_key, member
    mixed = np.asarray(band_key, dtype=np.int64).view(np.uint64) ^ fmix64(
        np.asarray(band, dtype=np.int64).view(np.uint64) + GOLDEN
    )
    ordered, order = stable_sorted(mixed)
    repeated = np.zeros(len(ordered), dtype=bool)
    same = ordered[1:] == ordered[:-1]
    repeated[1:] |= same
    repeated[:-1] |= same
    kept = order[repeated]
    return band[kept], band_key[kept], member[kept]


def unique_pairs(left: I64, right: I64) -> tuple[I64, I64]:
    """Distinct (left, right) pairs of int64 values, sorted by left then right."""
    if not len(left):
        return left.astype(np.int64), right.astype(np.int64)
    order = lexsort2(right, left)
    left, right = left[order], right[order]
    first = np.ones(len(left), dtype=bool)
    first[1:] = (left[1:] != left[:-1]) | (right[1:] != right[:-1])
    return left[first].astype(np.int64), right[first].astype(np.int64)
