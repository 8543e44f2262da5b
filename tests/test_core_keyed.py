"""Distinct members per key, counted in hash partitions (`core.keyed`)."""

from __future__ import annotations

from collections.abc import Iterator

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.core import keyed
from dedup.core.keyed import count_by_partitions, partition_bits, summarize_by_partitions
from dedup.core.labels import count_distinct
from dedup.core.lsh import GOLDEN, fmix64


def expected(key: list[int], member: list[int]) -> tuple[list[int], list[int]]:
    """The reference: a set of members per key, its size and its hash sum."""
    members: dict[int, set[int]] = {}
    for k, m in zip(key, member, strict=True):
        members.setdefault(k, set()).add(m)
    sums = {
        k: int(np.sum(fmix64(np.array(sorted(ms), dtype=np.int64).view(np.uint64) + GOLDEN)))
        for k, ms in members.items()
    }
    return [len(members[k]) for k in key], [sums[k] for k in key]


@pytest.fixture
def threads() -> Iterator[None]:
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.integers(-3, 3) | st.integers(-(2**63), 2**63 - 1),
            st.integers(-3, 3) | st.integers(-(2**63), 2**63 - 1),
        ),
        max_size=300,
    ),
    per_partition=st.sampled_from([1, 2, 8, 1 << 13]),
    thread_count=st.sampled_from([1, 2]),
    table_start=st.sampled_from([1, 1 << 15]),
)
def test_counts_do_not_depend_on_partitions_threads_or_table_growth(
    pairs: list[tuple[int, int]], per_partition: int, thread_count: int, table_start: int
) -> None:
    key = [k for k, _ in pairs]
    member = [m for _, m in pairs]
    before = numba.get_num_threads()
    saved = keyed._PER_PARTITION, keyed._TABLE_START
    # A small start makes the tables grow (and be rebuilt) many times.
    keyed._PER_PARTITION, keyed._TABLE_START = per_partition, table_start
    numba.set_num_threads(min(thread_count, numba.config.NUMBA_NUM_THREADS))
    try:
        count, support = count_by_partitions(
            np.array(key, dtype=np.int64), np.array(member, dtype=np.int64)
        )
    finally:
        keyed._PER_PARTITION, keyed._TABLE_START = saved
        numba.set_num_threads(before)
    want_count, want_support = expected(key, member)
    assert count.tolist() == want_count
    assert support.view(np.uint64).tolist() == want_support


def test_many_partitions_with_colliding_slots() -> None:
    # 200 k elements (24 partitions at the default size) over 5,000 keys with
    # up to 40 members each: every partition's tables probe past collisions.
    rng = np.random.default_rng(7)
    key = rng.integers(0, 5_000, 200_000).astype(np.int64) * np.int64(1 << 40)
    member = rng.integers(0, 40, 200_000).astype(np.int64)
    assert partition_bits(len(key)) >= 4
    count, support = count_by_partitions(key, member)
    want_count, want_support = expected(key.tolist(), member.tolist())
    assert count.tolist() == want_count
    assert support.tolist() == want_support


def test_one_frequent_key_keeps_its_tables_small() -> None:
    # 300 k elements, 90 % of them one key: one partition holds most of the
    # elements, its tables grow only with its distinct keys and pairs.
    rng = np.random.default_rng(11)
    key = np.where(rng.random(300_000) < 0.9, 7, rng.integers(0, 10**6, 300_000)).astype(np.int64)
    member = rng.integers(0, 5_000, 300_000).astype(np.int64)
    count, support = count_by_partitions(key, member)
    want_count, want_support = expected(key.tolist(), member.tolist())
    assert count.tolist() == want_count
    assert support.tolist() == want_support
    keys, elements, members, first = summarize_by_partitions(key, member)
    at = int(np.flatnonzero(keys == 7)[0])
    assert elements[at] == int(np.sum(key == 7))
    assert members[at] == len(set(member[key == 7].tolist()))
    assert first[at] == int(np.flatnonzero(key == 7)[0])


def test_count_distinct_takes_any_integer_type(threads: None) -> None:
    numba.set_num_threads(1)
    key = np.array([2**64 - 1, 5, 2**64 - 1, 5, 5], dtype=np.uint64)
    member = np.array([-1, 3, -1, 4, 3], dtype=np.int32)
    count, support = count_distinct(key, member)
    assert count.tolist() == [1, 2, 1, 2, 2]
    want = expected(key.view(np.int64).tolist(), member.astype(np.int64).tolist())[1]
    assert support.tolist() == want
    empty_count, empty_support = count_distinct(key[:0], member[:0])
    assert empty_count.dtype == np.int64 and empty_support.dtype == np.uint64
    assert len(empty_count) == len(empty_support) == 0


def test_partition_bits() -> None:
    per = keyed._PER_PARTITION
    assert partition_bits(0) == 0
    assert partition_bits(2 * per - 1) == 0
    assert partition_bits(2 * per) == 1
    assert partition_bits(1024 * per) == 10


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.integers(-3, 3) | st.integers(-(2**63), 2**63 - 1),
            st.integers(-2, 2),
        ),
        max_size=300,
    ),
    per_partition=st.sampled_from([1, 3, 1 << 13]),
    thread_count=st.sampled_from([1, 2]),
    table_start=st.sampled_from([1, 1 << 15]),
)
def test_summaries_per_key(
    pairs: list[tuple[int, int]], per_partition: int, thread_count: int, table_start: int
) -> None:
    key = np.array([k for k, _ in pairs], dtype=np.int64)
    member = np.array([m for _, m in pairs], dtype=np.int64)
    before = numba.get_num_threads()
    saved = keyed._PER_PARTITION, keyed._TABLE_START
    keyed._PER_PARTITION, keyed._TABLE_START = per_partition, table_start
    numba.set_num_threads(min(thread_count, numba.config.NUMBA_NUM_THREADS))
    try:
        keys, elements, members, first = summarize_by_partitions(key, member)
        again = summarize_by_partitions(key, member)
    finally:
        keyed._PER_PARTITION, keyed._TABLE_START = saved
        numba.set_num_threads(before)
    want: dict[int, tuple[int, set[int], int]] = {}
    for row, (k, m) in enumerate(pairs):
        n, ms, at = want.get(k, (0, set(), row))
        want[k] = (n + 1, ms | {m}, at)
    got = {
        k: (n, d, f)
        for k, n, d, f in zip(
            keys.tolist(), elements.tolist(), members.tolist(), first.tolist(), strict=True
        )
    }
    assert len(got) == len(keys)  # each key once
    assert got == {k: (n, len(ms), at) for k, (n, ms, at) in want.items()}
    for ours, repeat in zip((keys, elements, members, first), again, strict=True):
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours, repeat)  # the same order every time


@settings(max_examples=100, deadline=None)
@given(
    key=st.lists(st.integers(-3, 3) | st.integers(-(2**63), 2**63 - 1), max_size=300),
    bits=st.integers(0, 4),
    chunk=st.sampled_from([1, 7, 1 << 20]),
)
def test_scatter_in_chunks_on_threads_gives_the_rows_of_one_pass(
    key: list[int], bits: int, chunk: int
) -> None:
    keys_in = np.array(key, dtype=np.int64)
    members_in = np.arange(len(key), dtype=np.int64) * 3

    def scatter(threads: int, per_chunk: int) -> list[list[int]]:
        saved, before = keyed._SCATTER_CHUNK, numba.get_num_threads()
        keyed._SCATTER_CHUNK = per_chunk
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            starts = np.empty((1 << bits) + 1, dtype=np.int64)
            out = [np.empty(len(key), dtype=np.int64) for _ in range(3)]
            keyed._scatter(keys_in, members_in, bits, starts, *out)
        finally:
            keyed._SCATTER_CHUNK = saved
            numba.set_num_threads(before)
        return [starts.tolist()] + [a.tolist() for a in out]

    one_pass = scatter(1, 1 << 20)
    starts, order, keys, members = one_pass
    # With `rows`, each element's row: the inverse of the rows' elements.
    element_rows = np.empty(len(key), dtype=np.int64)
    keyed._scatter(
        keys_in,
        members_in,
        bits,
        np.empty_like(np.array(starts)),
        element_rows,
        np.empty(len(key), dtype=np.int64),
        np.empty(len(key), dtype=np.int64),
        rows=True,
    )
    assert [element_rows[i] for i in order] == list(range(len(key)))
    # Partition order, stable within a partition, every element once.
    assert sorted(order) == list(range(len(key)))
    for p in range(1 << bits):
        rows = order[starts[p] : starts[p + 1]]
        assert rows == sorted(rows)
    assert keys == [key[i] for i in order]
    assert members == [3 * i for i in order]
    assert scatter(2, chunk) == one_pass
