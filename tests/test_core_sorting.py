"""The fast sorting steps give exactly what the numpy calls they replace give."""

from __future__ import annotations

from collections.abc import Callable
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dedup.core import sorting
from dedup.core.sorting import (
    dense_ranks,
    distinct,
    lexsort2,
    stable_argsort,
    stable_sorted,
    unique_first_inverse,
)

# Small value ranges make many ties, the case the tie repair handles.
ints = st.one_of(
    hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-5, 5)),
    hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-(2**63), 2**63 - 1)),
)


@settings(max_examples=200, deadline=None)
@given(values=ints)
def test_distinct_is_np_unique(values: np.ndarray) -> None:
    np.testing.assert_array_equal(distinct(values), np.unique(values))
    as_u32 = values.astype(np.uint32)
    np.testing.assert_array_equal(distinct(as_u32), np.unique(as_u32))
    assert distinct(as_u32).dtype == np.uint32


@settings(max_examples=200, deadline=None)
@given(values=ints)
def test_stable_argsort_is_numpy_stable(values: np.ndarray) -> None:
    np.testing.assert_array_equal(stable_argsort(values), np.argsort(values, kind="stable"))
    floats = values.astype(np.float64)
    np.testing.assert_array_equal(stable_argsort(floats), np.argsort(floats, kind="stable"))
    for array in (values, floats):
        ordered, order = stable_sorted(array)
        np.testing.assert_array_equal(order, np.argsort(array, kind="stable"))
        np.testing.assert_array_equal(ordered, np.sort(array))
        assert ordered.dtype == array.dtype


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(0, 300))
def test_lexsort2_is_np_lexsort(data: st.DataObject, n: int) -> None:
    small = st.integers(-4, 4)
    wide = st.integers(-(2**63), 2**63 - 1)
    minor = data.draw(hnp.arrays(np.int64, n, elements=st.one_of(small, wide)))
    major = data.draw(hnp.arrays(np.int64, n, elements=st.one_of(small, wide)))
    np.testing.assert_array_equal(lexsort2(minor, major), np.lexsort((minor, major)))


def test_a_large_array_with_long_runs_of_ties() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1000, 200_000)
    np.testing.assert_array_equal(stable_argsort(values), np.argsort(values, kind="stable"))
    # Sorted in pieces on the threads and merged, by numpy and by the radix
    # sort: the values come sorted with their stable order.
    wide_keys = values * np.int64(2**40) + rng.integers(0, 3, len(values))
    for radix_at in (sorting.RADIX_AT, 1 << 40):
        saved = sorting.RADIX_AT, sorting.SPLIT_AT
        sorting.RADIX_AT, sorting.SPLIT_AT = radix_at, 1000
        try:
            ordered, order = stable_sorted(wide_keys)
        finally:
            sorting.RADIX_AT, sorting.SPLIT_AT = saved
        np.testing.assert_array_equal(order, np.argsort(wide_keys, kind="stable"))
        np.testing.assert_array_equal(ordered, wide_keys[order])
    minor = rng.integers(0, 50, len(values))
    np.testing.assert_array_equal(lexsort2(minor, values), np.lexsort((minor, values)))
    # Wide values (no counting), ties, sorted in pieces by numpy and by the
    # radix sort: each distinct value's first occurrence.
    wide = values * np.int64(2**40) - np.int64(2**62)
    _, first = np.unique(wide, return_index=True)
    for radix_at in (sorting.RADIX_AT, 1):
        before, sorting.RADIX_AT = sorting.RADIX_AT, radix_at
        try:
            np.testing.assert_array_equal(unique_first_inverse(wide)[1], first)
        finally:
            sorting.RADIX_AT = before


# Every integer width and signedness, extremes included (uint64 above 2**63).
any_ints = st.sampled_from(
    [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
).flatmap(lambda dtype: hnp.arrays(dtype, st.integers(0, 300)))


@settings(max_examples=300, deadline=None)
@given(values=any_ints)
def test_every_integer_type_gives_what_numpy_gives(values: np.ndarray) -> None:
    unique, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    np.testing.assert_array_equal(distinct(values), unique)
    ranks, seen = dense_ranks(values)
    np.testing.assert_array_equal(seen, unique)
    assert seen.dtype == values.dtype
    np.testing.assert_array_equal(ranks, inverse.reshape(-1))
    np.testing.assert_array_equal(unique_first_inverse(values)[1], first)
    np.testing.assert_array_equal(stable_argsort(values), np.argsort(values, kind="stable"))
    np.testing.assert_array_equal(
        lexsort2(values, values[::-1]), np.lexsort((values, values[::-1]))
    )


def test_other_shapes_are_refused() -> None:
    square = np.zeros((3, 3), dtype=np.int64)
    for fn in (distinct, stable_argsort, dense_ranks, unique_first_inverse):
        with pytest.raises(ValueError, match="1-d"):
            fn(square)
    with pytest.raises(ValueError, match="one length"):
        lexsort2(np.zeros(1, np.int64), np.zeros(3, np.int64))


@settings(max_examples=200, deadline=None)
@given(values=ints)
def test_dense_ranks_are_np_unique_inverse(values: np.ndarray) -> None:
    ranks, seen = dense_ranks(values)
    unique, inverse = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(seen, unique)
    np.testing.assert_array_equal(ranks, inverse.reshape(-1))


@settings(max_examples=200, deadline=None)
@given(values=ints)
def test_unique_first_inverse_is_np_unique(values: np.ndarray) -> None:
    seen, first, inverse = unique_first_inverse(values)
    expected = np.unique(values, return_index=True, return_inverse=True)
    for ours, theirs in zip((seen, first, inverse), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs.reshape(-1))


@settings(max_examples=300, deadline=None)
@given(values=any_ints)
def test_the_radix_sort_gives_what_numpy_gives(values: np.ndarray) -> None:
    before = sorting.RADIX_AT
    sorting.RADIX_AT = 1  # every 64-bit array, however short
    try:
        expected = np.argsort(values, kind="stable")
        np.testing.assert_array_equal(stable_argsort(values), expected)
        ranks, seen = dense_ranks(values)
        unique, first, inverse = np.unique(values, return_index=True, return_inverse=True)
        np.testing.assert_array_equal(seen, unique)
        assert seen.dtype == values.dtype
        np.testing.assert_array_equal(ranks, inverse.reshape(-1))
        np.testing.assert_array_equal(unique_first_inverse(values)[1], first)
        wide = values.astype(np.int64) * np.int64(2**40) - np.int64(2**62)
        np.testing.assert_array_equal(stable_argsort(wide), np.argsort(wide, kind="stable"))
    finally:
        sorting.RADIX_AT = before


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
@pytest.mark.parametrize(
    "make",
    [
        lambda rng: np.full(5000, 7),  # every digit constant: no pass
        lambda rng: rng.integers(0, 2000, 5000),  # one pass
        lambda rng: rng.integers(0, 2**22, 5000),  # two passes
        lambda rng: rng.integers(0, 2**62, 5000),  # every pass
    ],
    ids=["no-pass", "one-pass", "two-passes", "all-passes"],
)
def test_the_radix_sort_leaves_its_input_alone_whatever_the_passes(
    monkeypatch: pytest.MonkeyPatch, dtype: type, make: Callable[[np.random.Generator], np.ndarray]
) -> None:
    monkeypatch.setattr(sorting, "RADIX_AT", 1)
    values = make(np.random.default_rng(3)).astype(dtype)
    kept = values.copy()
    ordered, order, stable = sorting._sorted_piece(values)
    np.testing.assert_array_equal(values, kept)
    assert stable and ordered.dtype == values.dtype
    np.testing.assert_array_equal(order, np.argsort(kept, kind="stable"))
    np.testing.assert_array_equal(ordered, np.sort(kept))


def _digit_counts(keys: np.ndarray) -> np.ndarray:
    bits = sorting._DIGIT_BITS
    passes = -(-64 // bits)
    digits = [(keys >> np.uint64(p * bits)) & np.uint64((1 << bits) - 1) for p in range(passes)]
    return np.stack([np.bincount(d.astype(np.int64), minlength=1 << bits) for d in digits])


@pytest.mark.parametrize("prefixes", [40_000, 1_500], ids=["few-shared", "many-shared"])
def test_hash_keys_sorted_on_their_top_digits_then_in_runs_give_a_stable_sort(
    prefixes: int,
) -> None:
    """Keys that take the top-digits path, with runs sharing the top bits and full repeats."""
    rng = np.random.default_rng(prefixes)
    n = 40_000
    shift = np.uint64((-(-64 // sorting._DIGIT_BITS) - sorting._TOP_PASSES) * sorting._DIGIT_BITS)
    top = rng.integers(0, 2**64 - 1, prefixes, dtype=np.uint64) >> shift << shift
    low = rng.integers(0, 1 << 20, n, dtype=np.uint64)
    keys = top[rng.integers(0, prefixes, n)] | low
    keys[rng.integers(0, n, n // 4)] = keys[rng.integers(0, n, n // 4)]  # whole keys repeat
    assert sorting._spread_over_top(_digit_counts(keys), n)
    ordered, order = sorting._radix(keys.copy())
    expected = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(ordered, keys[expected])


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.integers(-1, 10**5, 40_000).view(np.uint64) ^ np.uint64(1 << 63),
        lambda rng: rng.integers(0, 2**40, 40_000).astype(np.uint64),
        lambda rng: rng.integers(0, 2**64 - 1, 1_000, dtype=np.uint64),
    ],
    ids=["small-signed", "narrow", "short"],
)
def test_keys_unlike_hashes_are_not_sorted_on_their_top_digits_alone(
    make: Callable[[np.random.Generator], np.ndarray],
) -> None:
    keys = make(np.random.default_rng(5))
    assert not sorting._spread_over_top(_digit_counts(keys), len(keys))


@pytest.mark.parametrize("radix_at", [1, 2**62], ids=["radix", "numpy"])
@pytest.mark.parametrize("pieces", [2, 3, 5])
def test_sorting_in_pieces_on_threads_gives_the_same(
    monkeypatch: pytest.MonkeyPatch, pieces: int, radix_at: int
) -> None:
    # Every array is cut into `pieces` sorted runs and merged (an odd count
    # leaves a run over for the next round of merges).
    monkeypatch.setattr(sorting, "SPLIT_AT", 1)
    monkeypatch.setattr(sorting, "RADIX_AT", radix_at)
    monkeypatch.setattr(sorting, "thread_count", lambda: pieces)
    rng = np.random.default_rng(pieces)
    for n in (0, 1, 2, 7, 1000):
        for values in (
            rng.integers(-3, 3, n),  # ties everywhere
            rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64),
            rng.integers(0, 2**64 - 1, n, dtype=np.uint64),
            rng.integers(0, 10, n).astype(np.float64),
        ):
            expected = np.argsort(values, kind="stable")
            np.testing.assert_array_equal(stable_argsort(values), expected)
            ranks, seen = dense_ranks(values)
            unique, inverse = np.unique(values, return_inverse=True)
            np.testing.assert_array_equal(seen, unique)
            np.testing.assert_array_equal(ranks, inverse.reshape(-1))
        minor, major = rng.integers(0, 4, n), rng.integers(-(2**62), 2**62, n)
        np.testing.assert_array_equal(lexsort2(minor, major), np.lexsort((minor, major)))


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.sampled_from([-2.5, -0.0, 0.0, 1.0, 1.5, 7.25]), max_size=60),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_floats_rank_as_np_unique_does(values: list[float], dtype: type) -> None:
    array = np.array(values, dtype=dtype)
    seen, first, inverse = unique_first_inverse(array)
    expected = np.unique(array, return_index=True, return_inverse=True)
    for ours, theirs in zip((seen, first, inverse), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs.reshape(-1))
    assert seen.dtype == array.dtype


def test_each_nan_is_a_value_of_its_own_and_bools_rank_too() -> None:
    # np.not_equal sees every NaN apart, as the numpy code this pass replaced did.
    values = np.array([2.0, np.nan, 1.0, np.nan, 2.0])
    seen, first, inverse = unique_first_inverse(values)
    np.testing.assert_array_equal(seen, [1.0, 2.0, np.nan, np.nan])
    assert inverse.tolist() == [1, 2 if first[2] == 1 else 3, 0, 3 if first[2] == 1 else 2, 1]
    assert sorted(first[2:].tolist()) == [1, 3] and first[:2].tolist() == [2, 0]
    ranks, seen_bools = dense_ranks(np.array([True, False, True]))
    assert ranks.tolist() == [1, 0, 1] and seen_bools.tolist() == [False, True]


@settings(max_examples=100, deadline=None)
@given(values=ints, parts=st.integers(2, 8))
def test_distinct_in_pieces_is_np_unique(values: np.ndarray, parts: int) -> None:
    # Sorted in one piece per thread and merged pairwise (an odd count too).
    saved = sorting.SPLIT_AT
    sorting.SPLIT_AT = 1
    try:
        with patch.object(sorting, "thread_count", return_value=parts):
            np.testing.assert_array_equal(distinct(values), np.unique(values))
            as_u64 = values.view(np.uint64)
            np.testing.assert_array_equal(distinct(as_u64), np.unique(as_u64))
    finally:
        sorting.SPLIT_AT = saved
