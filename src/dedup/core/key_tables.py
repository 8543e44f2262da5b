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

from dedup.core.lsh import GOLDEN, _fmix64, fmix64
from dedup.core.sorting import dense_ranks, distinct, lexsort2, stable_sorted
from dedup.core.xxh import _compiled

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
        return self.look_up(keys)[0]

    def look_up(self, keys: I64) -> tuple[I64, U64]:
        """The count and support of each of `keys` (0 and 0 for a key not in the table)."""
        rows = table_rows(self.key, keys)
        found = rows >= 0
        rows = np.maximum(rows, 0)
        if not len(self.key):
            return np.zeros(len(keys), np.int64), np.zeros(len(keys), np.uint64)
        count: I64 = np.where(found, self.count[rows], 0)
        support: U64 = np.where(found, self.support[rows], np.uint64(0))
        return count, support


@_compiled
def _walk(table: I64, ordered: I64, order: I64, out: I64) -> None:
    j, n = 0, len(table)
    for i in range(len(ordered)):
        key = ordered[i]
        while j < n and table[j] < key:
            j += 1
        out[order[i]] = j if j < n and table[j] == key else -1


def table_rows(table: I64, keys: I64) -> I64:
    """The row of each of `keys` in `table` (sorted, distinct), or -1.

    The keys are sorted, then walked along the table in one pass: a binary
    search per key (`np.searchsorted`) took 1.5 s for 0.9 M hash keys in a
    table of 3.1 M, the sort and the walk 0.09 s, since every search misses
    the cache where the walk reads both arrays in order.
    """
    ordered, order = stable_sorted(np.ascontiguousarray(keys, dtype=np.int64))
    out = np.empty(len(keys), dtype=np.int64)
    _walk(np.ascontiguousarray(table, dtype=np.int64), ordered, order, out)
    return out


def distinct_pairs(key: I64, member: I64) -> tuple[I64, I64]:
    """The distinct (key, member) pairs of two equally long int64 arrays, sorted.

    Members are near-duplicate groups or documents (small and not
    negative): each pair is packed as key rank * (largest member + 1) +
    member and the packed values sorted, one sort instead of `lexsort2`'s
    three.
    """
    if not len(key):
        return _EMPTY, _EMPTY
    lowest, highest = int(member.min()), int(member.max())
    ranks, keys = dense_ranks(key)
    span = highest + 1
    if lowest < 0 or len(keys) * span >= 1 << 62:
        order = lexsort2(member, key)
        key, member = key[order], member[order]
        new = np.empty(len(key), dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        new[1:] |= member[1:] != member[:-1]
        return key[new], member[new]
    packed = distinct(ranks * np.int64(span) + member)
    return keys[packed // span], packed % span


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


def distinct_dense_pairs(key: I64, member: I64, n_members: int) -> tuple[I64, I64]:
    """The distinct (key, member) pairs, sorted, of keys and members in 0..n - 1 (one sort)."""
    if not len(key):
        return _EMPTY, _EMPTY
    if (int(key.max()) + 1) * n_members >= 1 << 62:  # would not pack into an int64
        return distinct_pairs(key, member)
    packed = distinct(key * np.int64(n_members) + member)
    return packed // n_members, packed % n_members


@_compiled
def _add_pairs(key: I64, member: I64, count: I64, support: U64) -> None:
    for i in range(len(key)):
        count[key[i]] += 1
        support[key[i]] += _fmix64(np.uint64(member[i]) + GOLDEN)


def dense_pair_counts(
    parts: Sequence[tuple[I64, I64]], n_keys: int, shared: NDArray[np.bool_]
) -> tuple[I64, U64]:
    """Per key 0..n_keys - 1: its distinct members and their support, over every range.

    `parts` are each range's distinct (key, member) pairs. A pair comes from
    two ranges only when its member lies in both (`shared[member]`, a
    near-duplicate group with documents in two ranges): the other pairs are
    counted as they come, and only the shared ones are made distinct
    again, which spares a sort of every pair.
    """
    count = np.zeros(n_keys, dtype=np.int64)
    support = np.zeros(n_keys, dtype=np.uint64)
    shared_keys, shared_members = [], []
    for key, member in parts:
        mask = shared[member]
        _add_pairs(key[~mask], member[~mask], count, support)
        shared_keys.append(key[mask])
        shared_members.append(member[mask])
    if shared_keys:
        _add_pairs(
            *distinct_pairs(np.concatenate(shared_keys), np.concatenate(shared_members)),
            count,
            support,
        )
    return count, support
