"""Pure steps a distributed engine runs per partition give what the one-node steps give."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.core.graph import both_ways, components, large_star, small_star, star_labels
from dedup.core.lsh import GOLDEN, bucket_pairs, candidate_pairs, fmix64, unique_pairs


def _star_components(left: np.ndarray, right: np.ndarray) -> dict[int, int]:
    """Large-star and small-star rounds until the edges stop changing, all in one partition."""
    edges = unique_pairs(left, right)
    while True:
        new = small_star(*both_ways(*large_star(*both_ways(*edges))))
        if len(new[0]) == len(edges[0]) and all(
            np.array_equal(a, b) for a, b in zip(new, edges, strict=True)
        ):
            break
        edges = new
    nodes, labels = star_labels(*both_ways(*edges))
    return dict(zip(nodes.tolist(), labels.tolist(), strict=True))


def test_bucket_pairs_window_and_buckets() -> None:
    band = np.array([0, 0, 0, 1, 1], dtype=np.int64)
    key = np.array([7, 7, 7, 7, 7], dtype=np.int64)
    member = np.array([30, 10, 20, 10, 40], dtype=np.int64)
    left, right = bucket_pairs(band, key, member, window=1)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(10, 20), (10, 40), (20, 30)]


def test_bucket_pairs_tell_apart_buckets_whose_mixes_collide() -> None:
    """Singleton buckets are dropped by a 64-bit mix of (band, band key); two
    buckets with one mix are kept, and their members still never pair."""
    mix_of = fmix64(np.array([0, 1], np.uint64) + GOLDEN)
    key = np.uint64(0x1234_5678_9ABC)
    other = key ^ mix_of[0] ^ mix_of[1]  # (1, other) mixes as (0, key) does
    assert other ^ mix_of[1] == key ^ mix_of[0] and other != key
    band = np.array([0, 1, 0, 0, 2], dtype=np.int64)
    band_key = np.array([key, other, 5, 5, 5], dtype=np.uint64).view(np.int64)
    member = np.array([1, 2, 3, 4, 5], dtype=np.int64)
    left, right = bucket_pairs(band, band_key, member)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(3, 4)]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(0, 2**31),
)
def test_bucket_pairs_equal_candidate_pairs(n: int, bands: int, window: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 4, size=(n, bands)).astype(np.int64)
    # Members stand for rows through any increasing int64 map (content keys).
    members = np.sort(rng.choice(2**40, size=n, replace=False)).astype(np.int64) - 2**39
    left, right = candidate_pairs(keys, window)
    band = np.repeat(np.arange(bands, dtype=np.int64)[None, :], n, axis=0).ravel()
    got_left, got_right = bucket_pairs(band, keys.ravel(), np.repeat(members, bands), window)
    np.testing.assert_array_equal(got_left, members[left])
    np.testing.assert_array_equal(got_right, members[right])


def test_star_rounds_label_a_path_by_its_smallest_node() -> None:
    left = np.array([5, 4, 3, 2, 9], dtype=np.int64)
    right = np.array([4, 3, 2, 1, 8], dtype=np.int64)
    assert _star_components(left, right) == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 8: 8, 9: 8}


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 30), st.integers(0, 60), st.integers(0, 2**31))
def test_star_rounds_equal_components(n: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, m).astype(np.int64)
    right = rng.integers(0, n, m).astype(np.int64)
    labels = components(n, left, right)
    got = _star_components(left, right)
    for node, label in got.items():
        assert label == labels[node]
    linked = set(both_ways(left, right)[0].tolist())
    assert set(got) == linked
