"""Word n-gram shingles hashed with 32-bit xxhash.

A shingle is `n` consecutive normalised words joined by one space, encoded as
UTF-8 and hashed with `xxhash.xxh32_intdigest(..., seed=0)`: the `hashfunc`
that makes our signatures equal datasketch's (see `shingle_hash`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xxhash
from numpy.typing import NDArray

from dedup.core.sorting import distinct


def shingle_hash(shingle: bytes) -> int:
    """The 32-bit hash of one shingle: give this to datasketch as `hashfunc`."""
    return xxhash.xxh32_intdigest(shingle)


def shingle_strings(words: Sequence[str], n: int) -> list[str]:
    """Word n-grams of `words`; fewer than `n` words make one shingle."""
    if len(words) <= n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def shingle_set(words: Sequence[str], n: int) -> NDArray[np.uint32]:
    """Sorted, distinct uint32 hashes of the word n-grams of `words`."""
    hashes = np.fromiter(
        (xxhash.xxh32_intdigest(s.encode("utf-8")) for s in shingle_strings(words, n)),
        dtype=np.uint32,
    )
    return distinct(hashes)


def content_key(words: Sequence[str]) -> int:
    """Signed 64-bit key of a normalised block: equal words, equal key.

    Stored as int64 because Spark and Java have no unsigned 64-bit type.
    """
    return xxhash.xxh64_intdigest(" ".join(words).encode("utf-8")) - (1 << 63)
