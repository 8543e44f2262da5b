"""MinHash signatures, equal value for value to datasketch's default scheme.

datasketch >= 2.0 (scheme "affine32") pre-mixes each 32-bit input hash with the
MurmurHash3 finalizer and applies `a * h + b mod 2**32` per permutation, with
`a` odd and both drawn from `numpy.random.RandomState(seed)`. We do the same
over many rows at once; `tests/test_golden_datasketch.py` compares every value
with datasketch's own `MinHash`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

U32 = NDArray[np.uint32]

# Bounds the (shingles x permutations) matrix held at once: 64k x 128 x 4 B = 32 MiB.
_CHUNK = 1 << 16


@lru_cache(maxsize=16)
def _permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    gen = np.random.RandomState(seed)
    # Same draws in the same order as datasketch: first every `a`, then every `b`.
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    """The (a, b) uint32 parameters of datasketch's `MinHash(num_perm, seed)`."""
    return _permutations(num_perm, seed)


def fmix32(h: U32) -> U32:
    """MurmurHash3's 32-bit finalizer, element-wise (a bijection on uint32)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(hashes: U32, offsets: NDArray[np.int64], a: U32, b: U32) -> U32:
    """MinHash signatures of many sets at once.

    Args:
        hashes: uint32 shingle hashes of all rows, concatenated.
        offsets: int64[n + 1]; row i is `hashes[offsets[i]:offsets[i + 1]]`.
            Every row must be non-empty.
        a, b: permutation parameters from `permutations`.

    Returns:
        uint32[n, len(a)]: row i is the signature of row i's set.

    Raises:
        ValueError: a row is empty (its signature would be undefined).
    """
    n = len(offsets) - 1
    k = len(a)
    out = np.full((n, k), np.iinfo(np.uint32).max, dtype=np.uint32)
    if n == 0:
        return out
    if np.any(np.diff(offsets) <= 0):
        raise ValueError("every row needs at least one hash")
    mixed = fmix32(np.ascontiguousarray(hashes, dtype=np.uint32))
    total = int(offsets[-1])
    lo = int(offsets[0])
    while lo < total:
        hi = min(lo + _CHUNK, total)
        # Rows overlapping [lo, hi): a long row spans chunks and is min-combined.
        r0 = int(np.searchsorted(offsets, lo, side="right")) - 1
        r1 = int(np.searchsorted(offsets, hi, side="left"))
        starts = np.maximum(offsets[r0:r1], lo) - lo
        permuted = mixed[lo:hi, None] * a[None, :] + b[None, :]
        part = np.minimum.reduceat(permuted, starts, axis=0)
        np.minimum(out[r0:r1], part, out=out[r0:r1])
        lo = hi
    return out
