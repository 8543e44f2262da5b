"""Groups of similar sets: MinHash LSH candidates, exact verification, components."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from dedup.core.fastops import band_keys, gather, jaccard_sorted, signatures_kernel
from dedup.core.graph import components
from dedup.core.lsh import candidate_pairs

I64 = NDArray[np.int64]


def similar_groups(
    values: NDArray[np.uint32],
    offsets: I64,
    sigs: NDArray[np.uint32],
    threshold: float,
    bands: int,
    rows: int,
) -> tuple[I64, I64, I64]:
    """Connected components of rows whose exact Jaccard reaches `threshold`.

    Args:
        values, offsets: CSR rows of sorted distinct uint32 shingle hashes.
        sigs: uint32[n, k] MinHash signatures of the same rows.
        threshold: verification cut on exact Jaccard similarity.
        bands, rows: LSH banding (see `lsh.optimal_params`).

    Returns:
        (group, left, right): group[i] is the smallest row index of row i's
        component; left/right are the verified pairs that built it.

    LSH only proposes pairs; every pair is checked on the exact sets, so a
    false positive of the banding never merges unrelated rows.
    """
    return groups_from_keys(values, offsets, band_keys(sigs, bands, rows), threshold)


def groups_from_keys(
    values: NDArray[np.uint32], offsets: I64, keys: I64, threshold: float
) -> tuple[I64, I64, I64]:
    """`similar_groups` from band keys already computed (`set_band_keys`)."""
    n = keys.shape[0]
    left, right = candidate_pairs(keys)
    if len(left):
        keep = jaccard_sorted(values, offsets, left, right) >= threshold
        left, right = left[keep], right[keep]
    return components(n, left, right), left, right


# Rows whose MinHash signatures exist at once: 65,536 x 128 x 4 B = 32 MiB.
_SKETCH_ROWS = 1 << 16


def signature_chunks(
    values: NDArray[np.uint32],
    offsets: I64,
    perms: tuple[NDArray[np.uint32], NDArray[np.uint32]],
) -> Iterator[tuple[int, int, NDArray[np.uint32]]]:
    """(lo, hi, signatures of rows lo..hi-1) of CSR sets, `_SKETCH_ROWS` rows at a time.

    Every chunk is signed into one buffer (a fresh 32 MiB per chunk was
    memory the system had to zero each time): a chunk's signatures are only
    valid until the next one is yielded.
    """
    n = len(offsets) - 1
    buffer = np.empty(min(n, _SKETCH_ROWS) * len(perms[0]), dtype=np.uint32)
    for lo in range(0, n, _SKETCH_ROWS):
        hi = min(n, lo + _SKETCH_ROWS)
        yield lo, hi, signatures_kernel(values, offsets[lo : hi + 1], *perms, out=buffer)


def set_band_keys(
    values: NDArray[np.uint32],
    offsets: I64,
    perms: tuple[NDArray[np.uint32], NDArray[np.uint32]],
    bands: int,
    rows: int,
) -> I64:
    """int64[n, bands] band keys of CSR sets, without keeping their signatures.

    Signatures serve only to band (candidates are verified on the exact
    sets), so they are computed a chunk of rows at a time and dropped: memory
    holds bands x 8 bytes per row instead of num_perm x 4.
    """
    keys = np.empty((len(offsets) - 1, bands), dtype=np.int64)
    for lo, hi, sigs in signature_chunks(values, offsets, perms):
        band_keys(sigs, bands, rows, out=keys[lo:hi])
    return keys


def row_signature_chunks(
    hashes: NDArray[np.uint32],
    offsets: I64,
    rows: I64,
    perms: tuple[NDArray[np.uint32], NDArray[np.uint32]],
) -> Iterator[tuple[int, int, NDArray[np.uint32]]]:
    """`signature_chunks` of the CSR rows `rows`, taken as they are.

    A MinHash is a minimum over the set, so a row of hashes in any order and
    with repeats signs as its sorted distinct set does: the rows are signed
    without a set made of each (a sort per row), a chunk of rows gathered
    at a time. Every row must be non-empty.
    """
    buffer = np.empty(min(len(rows), _SKETCH_ROWS) * len(perms[0]), dtype=np.uint32)
    for lo in range(0, len(rows), _SKETCH_ROWS):
        hi = min(len(rows), lo + _SKETCH_ROWS)
        values, chunk_offsets = gather(hashes, offsets, rows[lo:hi])
        yield lo, hi, signatures_kernel(values, chunk_offsets, *perms, out=buffer)


def row_band_keys(
    hashes: NDArray[np.uint32],
    offsets: I64,
    rows: I64,
    perms: tuple[NDArray[np.uint32], NDArray[np.uint32]],
    bands: int,
    r: int,
) -> I64:
    """int64[len(rows), bands]: `set_band_keys` of the CSR rows `rows`, taken as they are."""
    keys = np.empty((len(rows), bands), dtype=np.int64)
    for lo, hi, sigs in row_signature_chunks(hashes, offsets, rows, perms):
        band_keys(sigs, bands, r, out=keys[lo:hi])
    return keys
