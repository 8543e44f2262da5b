"""Groups of similar sets: MinHash LSH candidates, exact verification, components."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dedup.core.fastops import band_keys, jaccard_sorted
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
    n = sigs.shape[0]
    keys = band_keys(sigs, bands, rows)
    left, right = candidate_pairs(keys)
    if len(left):
        keep = jaccard_sorted(values, offsets, left, right) >= threshold
        left, right = left[keep], right[keep]
    return components(n, left, right), left, right
