"""Distinct members per key, counted in hash partitions of the keys.

`labels.count_distinct` asks, for every element, how many distinct members
share its key and for an order-free hash of those members. Over the
whole corpus (9 M blocks and more) any global sort or table of that is
far larger than the CPU's caches, and its random reads and writes cost
more than the arithmetic: a tenfold corpus took 16 times as long. Here the
elements are first scattered into partitions by a hash of their key, each
small enough for its tables to stay in cache, and each partition is counted
on its own, on up to `threads.thread_count()` threads. Every key lies in one
partition, so the counts do not depend on the partitioning, and a
distributed engine does the same after a shuffle by key.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dedup.core.lsh import GOLDEN, _fmix64
from dedup.core.threads import map_in_threads, thread_count
from dedup.core.xxh import _compiled, _compiled_inline

I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]
U32 = NDArray[np.uint32]

# Elements per partition, on average, so that its tables (about 100 bytes
# an element with the per-key arrays) stay in cache: from 2^10 to 2^16
# measured the same on 9 M elements (0.26-0.28 s on one thread, against
# 1.4 s for one global sort).
_PER_PARTITION = 1 << 13
# Tables start with room for this many entries at most (a partition
# usually fits) and double when half full: a key that holds most of the
# elements (a "}" line of source code) makes one large partition, and its
# tables grow only as far as its distinct keys and (key, member) pairs.
_TABLE_START = 1 << 15
# Elements per chunk of the scatter into partitions, at least: below, a
# thread costs more than it saves.
_SCATTER_CHUNK = 1 << 20
_EMPTY = np.int64(-1)
_PAIR_MIX = np.uint64(0xD6E8FEB86659FD93)


def partition_bits(n: int) -> int:
    """log2 of the number of partitions for `n` elements (0: one partition)."""
    return max(0, int(n // _PER_PARTITION).bit_length() - 1)


@_compiled
def _partitions_of(key: I64, bits: int, lo: int, hi: int, part: U32, counts: I64) -> None:
    """part[i] = partition of element i for lo <= i < hi; counts[p] += elements of p among them."""
    # With one partition every element is in partition 0 (a shift by 64 is undefined).
    shift = np.uint64(64 - bits) if bits > 0 else np.uint64(0)
    keep = np.uint64(0xFFFFFFFFFFFFFFFF) if bits > 0 else np.uint64(0)
    for i in range(lo, hi):
        where = (_fmix64(np.uint64(key[i])) & keep) >> shift
        part[i] = np.uint32(where)
        counts[np.int64(where)] += 1


@_compiled
def _place(
    key: I64,
    member: I64,
    part: U32,
    lo: int,
    hi: int,
    at: I64,
    order: I64,
    keys: I64,
    members: I64,
    rows: bool,
) -> None:
    """Elements lo..hi-1 to their partitions' next rows (`at`, advanced as they fill).

    `order` gets each row's element, or with `rows` each element's row.
    """
    for i in range(lo, hi):
        p = np.int64(part[i])
        j = at[p]
        at[p] = j + 1
        if rows:
            order[i] = j
        else:
            order[j] = i
        keys[j] = key[i]
        members[j] = member[i]


@_compiled
def _gather_back(
    counts: I64, supports: I64, row: I64, lo: int, hi: int, count: I64, support: U64
) -> None:
    """Per element i in lo..hi-1: the count and support `_count_partitions` left at its row."""
    for i in range(lo, hi):
        j = row[i]
        count[i] = counts[j]
        support[i] = np.uint64(supports[j])


def _chunks(n: int) -> list[int]:
    """Bounds of the consecutive chunks of n elements that the threads take."""
    chunks = max(1, min(thread_count(), n // _SCATTER_CHUNK))
    return [n * c // chunks for c in range(chunks + 1)]


def _scatter(
    key: I64,
    member: I64,
    bits: int,
    starts: I64,
    order: I64,
    keys: I64,
    members: I64,
    rows: bool = False,
) -> None:
    """Elements in partition order: partition p holds rows starts[p]:starts[p + 1].

    `order` gets the element at each row, or with `rows` the row of each
    element. Within a partition elements keep their order. With more than
    one thread the elements are cut into consecutive chunks, each counted
    per partition and then placed on its thread after the chunks before it:
    the same rows as one pass.
    """
    n = len(key)
    parts = len(starts) - 1
    bounds = _chunks(n)
    chunks = len(bounds) - 1
    part = np.empty(n, dtype=np.uint32)
    counts = np.zeros((chunks, parts), dtype=np.int64)
    map_in_threads(
        lambda c: _partitions_of(key, bits, bounds[c], bounds[c + 1], part, counts[c]),
        range(chunks),
    )
    starts[0] = 0
    np.cumsum(counts.sum(axis=0), out=starts[1:])
    # Each chunk's first row in every partition: after the partition's start
    # and the elements the chunks before it put there.
    at = starts[:-1] + np.cumsum(counts, axis=0) - counts
    map_in_threads(
        lambda c: _place(
            key, member, part, bounds[c], bounds[c + 1], at[c], order, keys, members, rows
        ),
        range(chunks),
    )


@_compiled_inline
def _table_size(entries: int) -> int:
    """The power of two at least twice `entries` (at least 16)."""
    size = 16
    while size < 2 * entries:
        size *= 2
    return size


@_compiled_inline
def _key_id(table_key: I64, table_id: I64, mask: np.uint64, k: int) -> tuple[Any, Any]:
    """(slot, id) of key `k`: its id, or -1 with the empty slot to take."""
    s = np.int64(_fmix64(np.uint64(k)) & mask)
    while table_id[s] >= 0 and table_key[s] != k:
        s = (s + 1) & np.int64(mask)
    return s, table_id[s]


@_compiled_inline
def _pair_slot(ids: I64, members: I64, mask: np.uint64, i: int, m: int) -> tuple[Any, bool]:
    """(slot, found) of the pair (key id `i`, member `m`): found, or the empty slot."""
    t = np.int64(_fmix64(np.uint64(i) * _PAIR_MIX + np.uint64(m)) & mask)
    while True:
        if ids[t] < 0:
            return t, False
        if ids[t] == i and members[t] == m:
            return t, True
        t = (t + 1) & np.int64(mask)


@_compiled
def _count_partitions(
    keys: I64,
    members: I64,
    order: I64,
    starts: I64,
    lo: int,
    hi: int,
    per_element: bool,
    summary: I64,
    found: I64,
    table_start: int,
) -> None:
    """Count the elements of partitions lo..hi-1.

    With `per_element`, per element, in place of its row's key and member
    (read by then): the distinct members of its key, and their hash sum (a
    uint64's bits). Per distinct key, in the order keys first
    occur in the partition, at rows starts[p] onwards of the 4-column
    `summary`: the key, its elements, its distinct members and its first
    (smallest) row; `found[p]` says how many keys partition p has. A caller
    counting per element only passes both empty.

    `order` holds each row's element when counting per key (its first
    row is an element), and is not read when counting per element only.

    Keys are numbered in the order they first occur (their id); the key
    table maps a key to its id, the pair table holds the distinct (id,
    member) pairs. Both are open-addressing tables of ids, with room for
    `table_start` entries at first (`_TABLE_START`, an argument so that
    tests can make them grow), rebuilt twice as large when half full.
    """
    per_key = len(found) > 0
    widest = 1
    for p in range(lo, hi):
        widest = max(widest, starts[p + 1] - starts[p])
    # Per key id: its key, distinct members, their hash, elements, first row.
    key_value = np.empty(widest, dtype=np.int64)
    key_count = np.empty(widest, dtype=np.int64)
    key_hash = np.empty(widest, dtype=np.uint64)
    key_elements = np.empty(widest, dtype=np.int64)
    key_first = np.empty(widest, dtype=np.int64)
    id_of = np.empty(widest, dtype=np.int64)  # each element's key id
    # Room for the largest partition's tables, allocated once: np.empty maps
    # pages lazily, so only the part the tables grow into becomes resident.
    # (Arrays allocated anew inside the loop made numba count references
    # there: the loop ran at half speed.)
    capacity = _table_size(widest)
    table_key = np.empty(capacity, dtype=np.int64)  # the key table: key and id per slot
    table_id = np.empty(capacity, dtype=np.int64)
    pair_ids = np.empty(capacity, dtype=np.int64)  # the pair table: key id and member
    pair_members = np.empty(capacity, dtype=np.int64)
    spare_ids = np.empty(capacity, dtype=np.int64)  # the pair table while it is rebuilt
    spare_members = np.empty(capacity, dtype=np.int64)
    for p in range(lo, hi):
        a, b = starts[p], starts[p + 1]
        key_size = pair_size = _table_size(min(b - a, table_start))
        key_mask = pair_mask = np.uint64(key_size - 1)
        table_id[:key_size] = _EMPTY
        pair_ids[:pair_size] = _EMPTY
        n_keys = n_pairs = 0
        for j in range(a, b):
            k = keys[j]
            s, i = _key_id(table_key, table_id, key_mask, k)
            if i < 0:
                i = n_keys
                n_keys += 1
                table_key[s] = k
                table_id[s] = i
                key_value[i] = k
                key_count[i] = 0
                key_hash[i] = 0
                key_elements[i] = 0
                key_first[i] = order[j]  # the scatter kept rows ascending
                if 2 * n_keys > key_size:
                    key_size *= 2
                    key_mask = np.uint64(key_size - 1)
                    table_id[:key_size] = _EMPTY
                    for e in range(n_keys):
                        u = _key_id(table_key, table_id, key_mask, key_value[e])[0]
                        table_key[u] = key_value[e]
                        table_id[u] = e
            key_elements[i] += 1
            id_of[j - a] = i
            m = members[j]
            t, seen = _pair_slot(pair_ids, pair_members, pair_mask, i, m)
            if not seen:
                pair_ids[t] = i
                pair_members[t] = m
                n_pairs += 1
                key_count[i] += 1
                key_hash[i] += _fmix64(np.uint64(m) + GOLDEN)
                if 2 * n_pairs > pair_size:
                    spare_ids[:pair_size] = pair_ids[:pair_size]
                    spare_members[:pair_size] = pair_members[:pair_size]
                    pair_ids[: 2 * pair_size] = _EMPTY
                    pair_mask = np.uint64(2 * pair_size - 1)
                    for x in range(pair_size):
                        if spare_ids[x] >= 0:
                            e, mx = spare_ids[x], spare_members[x]
                            u = _pair_slot(pair_ids, pair_members, pair_mask, e, mx)[0]
                            pair_ids[u] = e
                            pair_members[u] = mx
                    pair_size *= 2
        if per_key:
            for i in range(n_keys):
                summary[a + i, 0] = key_value[i]
                summary[a + i, 1] = key_elements[i]
                summary[a + i, 2] = key_count[i]
                summary[a + i, 3] = key_first[i]
            found[p] = n_keys
        if per_element:
            # In row order: written to each element's own place instead, the
            # rows of a partition fall one to a cache line all over the
            # outputs, and those writes took 60 % of the counting (0.27 of
            # 0.45 s for 9 M elements on one thread); reading them back at
            # each element's row (`_gather_back`) takes about a quarter of that.
            for j in range(a, b):
                i = id_of[j - a]
                keys[j] = key_count[i]
                members[j] = np.int64(key_hash[i])


def _count_on_threads(
    keys: I64, members: I64, order: I64, starts: I64, per_element: bool, summary: I64, found: I64
) -> None:
    """`_count_partitions` of every partition, in runs of them on the threads."""
    n, parts = len(keys), len(starts) - 1
    pieces = min(thread_count(), parts)
    # Pieces of about equal elements (a partition holding a frequent key
    # is larger than the others), each a run of whole partitions.
    inner = np.searchsorted(starts[:-1], np.arange(1, pieces) * n / pieces, side="left")
    cuts = [0, *np.minimum(inner, parts).tolist(), parts]

    def piece(i: int) -> None:
        _count_partitions(
            keys,
            members,
            order,
            starts,
            cuts[i],
            cuts[i + 1],
            per_element,
            summary,
            found,
            _TABLE_START,
        )

    map_in_threads(piece, range(pieces))


def _partitioned(
    key: I64, member: I64, per_element: bool, per_key: bool
) -> tuple[I64, U64, I64, I64, I64]:
    """Scatter into partitions and count them on the threads (see `_count_partitions`).

    One of `per_element` and `per_key`: each scatters its own way.
    """
    if per_element == per_key:
        raise ValueError("count per element or per key, not both nor neither")
    n = len(key)
    bits = partition_bits(n)
    starts = np.empty((1 << bits) + 1, dtype=np.int64)
    # Per element its row when counting per element, else each row's element.
    order = np.empty(n, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    members = np.empty(n, dtype=np.int64)
    _scatter(key, member, bits, starts, order, keys, members, rows=per_element)
    parts = 1 << bits
    summary = np.empty((n if per_key else 0, 4), dtype=np.int64)
    found = np.zeros(parts if per_key else 0, dtype=np.int64)
    _count_on_threads(keys, members, order, starts, per_element, summary, found)
    count = np.empty(n if per_element else 0, dtype=np.int64)
    support = np.empty(n if per_element else 0, dtype=np.uint64)
    if per_element:  # `keys` and `members` now hold each row's count and support
        bounds = _chunks(n)
        map_in_threads(
            lambda c: _gather_back(keys, members, order, bounds[c], bounds[c + 1], count, support),
            range(len(bounds) - 1),
        )
    return count, support, summary, found, starts


def count_by_partitions(key: I64, member: I64) -> tuple[I64, U64]:
    """Per element: distinct `member`s sharing its `key` (int64), and the wrapping
    sum of `fmix64(member + GOLDEN)` over them (uint64). `key` and `member`
    are int64 arrays of one length."""
    count, support, _, _, _ = _partitioned(key, member, per_element=True, per_key=False)
    return count, support


def summarize_by_partitions(key: I64, member: I64) -> tuple[I64, I64, I64, I64]:
    """Per distinct key: (key, elements, distinct members, first row), int64 arrays.

    Keys come in no particular order (partitions in turn, each in the order
    its keys first occur); the same input gives the same order.
    """
    _, _, summary, found, starts = _partitioned(key, member, per_element=False, per_key=True)
    if not len(summary):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, empty
    rows = np.repeat(starts[:-1] - np.cumsum(found) + found, found) + np.arange(int(found.sum()))
    picked = summary[rows]
    return picked[:, 0].copy(), picked[:, 1].copy(), picked[:, 2].copy(), picked[:, 3].copy()
