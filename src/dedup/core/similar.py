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
    picked: I64 | None = None,
) -> Iterator[tuple[int, int, NDArray[np.uint32]]]:
    """(lo, hi, signatures of rows lo..hi-1) of CSR rows, `_SKETCH_ROWS` rows at a time.

    Every chunk is signed into one buffer (a fresh 32 MiB per chunk was
    memory the system had to zero each time): a chunk's signatures are only
    valid until the next one is yielded. With `picked`, the rows signed are
    `picked[lo:hi]`, a chunk of them gathered at a time. A MinHash is a
    minimum over the set, so a row of hashes in any order and with repeats
    signs as its sorted distinct set does: picked rows need not be sets.
    Every row signed must be non-empty.
    """
    n = len(offsets) - 1 if picked is None else len(picked)
    buffer = np.empty(min(n, _SKETCH_ROWS) * len(perms[0]), dtype=np.uint32)
    for lo in range(0, n, _SKETCH_ROWS):
        hi = min(n, lo + _SKETCH_ROWS)
        if picked is None:
            chunk = values, offsets[lo : hi + 1]
        else:
            chunk = gather(values, offsets, picked[lo:hi])
        yield lo, hi, signatures_kernel(*chunk, *perms, out=buffer)


def _band_major(n: int, bands: int) -> I64:
    """An int64[n, bands] matrix laid out band after band.

    Every reader takes the keys a band at a time (`lsh.band_column`), which
    is then a view; from rows laid out one after another it was a strided
    copy reading the whole matrix once per band (a fifth of the variant
    lines' look-up, 32 bands).
    """
    return np.empty((bands, n), dtype=np.int64).T


def band_key_groups(
    values: NDArray[np.uint32],
    offsets: I64,
    perms: tuple[NDArray[np.uint32], NDArray[np.uint32]],
    bands: int,
    rows: int,
    picked: I64 | None = None,
    group: int = 4,
) -> Iterator[I64]:
    """`set_band_keys`, `group` bands at a time: int64[n, group] (the last group may be narrower).

    Each band's keys are contiguous (`_band_major`).

    Each group is signed with its bands' permutations only, so the groups
    together cost what one signing of the bands' permutations costs (plus
    reading the rows once per group), and memory holds `group` x 8 bytes per
    row instead of `bands` x 8: the band keys were the largest array of block
    matching (12 M contents x 20 bands, 1.9 GB, on a 1 GB generated corpus).
    A group is valid until the next one is made.
    """
    if group < 1:
        raise ValueError(f"group must be at least 1, got {group}")
    if picked is not None and group < bands:
        # Gathered once rather than chunk by chunk in every group's signing.
        values, offsets = gather(values, offsets, picked)
        picked = None
    n = len(offsets) - 1 if picked is None else len(picked)
    keys = _band_major(n, min(group, bands))
    for first in range(0, bands, group):
        width = min(group, bands - first)
        cols = slice(first * rows, (first + width) * rows)
        part = (perms[0][cols], perms[1][cols])
        out = keys if width == keys.shape[1] else _band_major(n, width)
        for lo, hi, sigs in signature_chunks(values, offsets, part, picked):
            band_keys(sigs, width, rows, out=out[lo:hi], first_band=first)
        yield out


def set_band_keys(
    values: NDArray[np.uint32],
    offsets: I64,
    perms: tuple[NDArray[np.uint32], NDArray[np.uint32]],
    bands: int,
    rows: int,
    picked: I64 | None = None,
) -> I64:
    """int64[n, bands] band keys of CSR rows (of rows `picked` when given), without
    keeping their signatures; each band's keys contiguous (`_band_major`).

    Signatures serve only to band (candidates are verified on the exact
    sets), so they are computed a chunk of rows at a time and dropped: memory
    holds bands x 8 bytes per row instead of num_perm x 4.
    """
    # All bands as one group: signed with the bands' permutations only.
    return next(band_key_groups(values, offsets, perms, bands, rows, picked, group=bands))
