"""Counts per key, merged from what each range of documents contributes.

The labelling counts, for a key (a block cluster, a passage, a word
n-gram), the distinct near-duplicate groups or documents that hold it. Over
the whole corpus at once that is `labels.count_distinct`. Labelled one range
of documents at a time (`core.label_parts`), each range gives its distinct
(key, member) pairs; the pairs of every range, made distinct again, give the
same counts, held here as a table sorted by key that each range then looks
its blocks up in. The table grows with the distinct pairs, not with the
blocks: a cluster held by a thousand pages of one site is one pair per
near-duplicate group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dedup.core.lsh import GOLDEN, fmix64
from dedup.core.sorting import lexsort2

I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]

_EMPTY = np.empty(0, np.int64)


@dataclass(frozen=True)
class KeyCounts:
    """Per distinct key (ascending): its distinct members and their order-free hash.

    `support` is the wrapping sum of `fmix64(member + GOLDEN)` over the
    members, as `labels.count_distinct` gives it.
    """

    key: I64
    count: I64
    support: U64

    def counts_of(self, keys: I64) -> I64:
        """The count of each of `keys` (0 for a key not in the table)."""
        at, found = self._rows(keys)
        result: I64 = np.where(found, self.count[at], 0)
        return result

    def supports_of(self, keys: I64) -> U64:
        """The support of each of `keys` (0 for a key not in the table)."""
        at, found = self._rows(keys)
        result: U64 = np.where(found, self.support[at], np.uint64(0))
        return result

    def _rows(self, keys: I64) -> tuple[I64, NDArray[np.bool_]]:
        at = np.searchsorted(self.key, keys)
        if not len(self.key):
            return np.zeros(len(keys), np.int64), np.zeros(len(keys), bool)
        np.minimum(at, len(self.key) - 1, out=at)
        return at, self.key[at] == keys


def distinct_pairs(key: I64, member: I64) -> tuple[I64, I64]:
    """The distinct (key, member) pairs of two equally long int64 arrays, sorted."""
    if not len(key):
        return _EMPTY, _EMPTY
    order = lexsort2(member, key)
    key, member = key[order], member[order]
    new = np.empty(len(key), dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    new[1:] |= member[1:] != member[:-1]
    return key[new], member[new]


def pair_counts(parts: Sequence[tuple[I64, I64]]) -> KeyCounts:
    """The counts of keys over (key, member) pairs from several ranges (pairs may repeat)."""
    key, member = distinct_pairs(
        np.concatenate([k for k, _ in parts]) if parts else _EMPTY,
        np.concatenate([m for _, m in parts]) if parts else _EMPTY,
    )
    if not len(key):
        return KeyCounts(_EMPTY, _EMPTY, np.empty(0, np.uint64))
    heads = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    count = np.diff(np.append(heads, len(key)))
    terms = fmix64(member.view(np.uint64) + GOLDEN)
    return KeyCounts(key[heads], count.astype(np.int64), np.add.reduceat(terms, heads))


def summed(parts: Sequence[tuple[I64, I64]]) -> KeyCounts:
    """Per distinct key, the sum of its values over (key, value) rows from several ranges.

    For counts that add up across ranges (documents: no two ranges share
    one). The supports are not made (zeros).
    """
    key = np.concatenate([k for k, _ in parts]) if parts else _EMPTY
    value = np.concatenate([v for _, v in parts]) if parts else _EMPTY
    if not len(key):
        return KeyCounts(_EMPTY, _EMPTY, np.empty(0, np.uint64))
    order = np.argsort(key, kind="stable")
    key, value = key[order], value[order]
    heads = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sums = np.add.reduceat(value, heads).astype(np.int64)
    return KeyCounts(key[heads], sums, np.zeros(len(heads), np.uint64))
