"""Shingles, MinHash signatures and LSH banding on small hand-checked inputs."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash

from dedup.core import lsh
from dedup.core.lsh import WINDOW, band_keys, candidate_pairs, fmix64, optimal_params
from dedup.core.minhash import fmix32, permutations, signatures
from dedup.core.shingles import content_key, shingle_hash, shingle_set, shingle_strings


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def u32(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint32)


def pairs(left: np.ndarray, right: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(left.tolist(), right.tolist(), strict=True))


# --- shingles ------------------------------------------------------------------


def test_shingle_hash_is_xxh32_with_seed_zero() -> None:
    # The published xxh32 digest of the empty input.
    assert shingle_hash(b"") == 0x02CC5D05
    assert shingle_hash(b"a b") == xxhash.xxh32_intdigest(b"a b", seed=0)
    assert shingle_hash(b"a b") != shingle_hash(b"a  b")


def test_shingle_strings_are_word_ngrams() -> None:
    words = ["a", "b", "c", "d"]
    assert shingle_strings(words, 2) == ["a b", "b c", "c d"]
    assert shingle_strings(words, 3) == ["a b c", "b c d"]
    assert shingle_strings(words, 1) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(("n_words", "n"), [(1, 5), (3, 5), (5, 5)])
def test_shingle_strings_of_a_short_block_is_one_shingle(n_words: int, n: int) -> None:
    words = ["w0", "w1", "w2", "w3", "w4"][:n_words]
    assert shingle_strings(words, n) == [" ".join(words)]


def test_shingle_set_is_sorted_distinct_hashes_of_utf8_shingles() -> None:
    words = ["é", "b", "é", "b", "é"]
    result = shingle_set(words, 2)
    expected = sorted({shingle_hash("é b".encode()), shingle_hash("b é".encode())})
    assert result.dtype == np.uint32
    assert result.tolist() == expected


def test_shingle_set_of_a_short_block_has_one_hash() -> None:
    assert shingle_set(["only", "two"], 5).tolist() == [shingle_hash(b"only two")]


def test_content_key_is_signed_xxh64_of_the_joined_words() -> None:
    key = content_key(["a", "b"])
    assert key == xxhash.xxh64_intdigest(b"a b") - 2**63
    assert -(2**63) <= key < 2**63
    assert content_key(["a", "b"]) != content_key(["ab"])
    assert content_key(["a", "b"]) != content_key(["b", "a"])


# --- MinHash -------------------------------------------------------------------


def test_fmix32_known_values() -> None:
    # MurmurHash3 fmix32: 0 is a fixed point, 1 maps to 0x514E28B7.
    assert fmix32(u32(0, 1)).tolist() == [0, 0x514E28B7]


def test_fmix32_is_a_bijection_on_a_sample() -> None:
    sample = np.arange(1 << 16, dtype=np.uint32) * np.uint32(65537)
    assert len(np.unique(fmix32(sample))) == len(sample)


def test_permutations_are_odd_a_and_uint32() -> None:
    a, b = permutations(64, 7)
    assert a.dtype == b.dtype == np.uint32
    assert a.shape == b.shape == (64,)
    assert np.all(a % 2 == 1)


def test_permutations_depend_on_the_seed_and_are_read_only() -> None:
    a1, b1 = permutations(16, 1)
    a2, b2 = permutations(16, 2)
    assert not np.array_equal(a1, a2)
    assert not np.array_equal(b1, b2)
    with pytest.raises(ValueError):
        a1[0] = 3


def test_signatures_match_a_hand_computation() -> None:
    a, b = u32(1, 3), u32(0, 5)
    hashes = u32(10, 20, 30)
    mixed = fmix32(hashes).astype(np.uint64)
    col0 = (mixed * 1 + 0) % 2**32
    col1 = (mixed * 3 + 5) % 2**32
    sigs = signatures(hashes, i64(0, 1, 3), a, b)
    assert sigs.dtype == np.uint32
    assert sigs.tolist() == [
        [int(col0[0]), int(col1[0])],
        [int(min(col0[1:])), int(min(col1[1:]))],
    ]


def test_signatures_ignore_repeats_and_order() -> None:
    a, b = permutations(32, 1)
    once = signatures(u32(5, 6, 7), i64(0, 3), a, b)
    again = signatures(u32(7, 5, 5, 6, 7), i64(0, 5), a, b)
    np.testing.assert_array_equal(once, again)


def test_signatures_of_a_union_is_the_minimum_of_the_parts() -> None:
    a, b = permutations(32, 1)
    parts = signatures(u32(1, 2, 3, 4, 5), i64(0, 2, 5), a, b)
    union = signatures(u32(1, 2, 3, 4, 5), i64(0, 5), a, b)
    np.testing.assert_array_equal(union[0], parts.min(axis=0))


def test_signatures_respect_a_non_zero_first_offset() -> None:
    a, b = permutations(8, 1)
    hashes = u32(99, 1, 2)
    np.testing.assert_array_equal(
        signatures(hashes, i64(1, 3), a, b), signatures(u32(1, 2), i64(0, 2), a, b)
    )


def test_signatures_of_no_rows_is_empty() -> None:
    a, b = permutations(8, 1)
    sigs = signatures(u32(), i64(0), a, b)
    assert sigs.shape == (0, 8)


@pytest.mark.parametrize("offsets", [(0, 0), (0, 2, 2, 3), (0, 1, 1)])
def test_signatures_reject_an_empty_row(offsets: tuple[int, ...]) -> None:
    a, b = permutations(8, 1)
    with pytest.raises(ValueError, match="at least one hash"):
        signatures(u32(1, 2, 3), i64(*offsets), a, b)


def test_signatures_combine_a_row_that_spans_chunks() -> None:
    # 70,000 hashes cross the 65,536-value chunk; row 1 straddles the boundary.
    a, b = permutations(4, 3)
    hashes = np.arange(70_000, dtype=np.uint32) * np.uint32(2654435761)
    offsets = i64(0, 60_000, 69_999, 70_000)
    sigs = signatures(hashes, offsets, a, b)
    for row in range(3):
        part = hashes[offsets[row] : offsets[row + 1]]
        expected = (fmix32(part)[:, None] * a[None, :] + b[None, :]).min(axis=0)
        np.testing.assert_array_equal(sigs[row], expected)


# --- LSH parameters and band keys ------------------------------------------------


def test_optimal_params_known_values() -> None:
    # Values of datasketch's MinHashLSH; test_golden_datasketch.py checks a grid.
    assert optimal_params(0.5, 128) == (25, 5)
    assert optimal_params(0.9, 16) == (1, 15)


def test_optimal_params_fit_in_num_perm_and_bands_grow_as_threshold_drops() -> None:
    b_low, r_low = optimal_params(0.3, 128)
    b_high, r_high = optimal_params(0.9, 128)
    assert b_low * r_low <= 128
    assert b_high * r_high <= 128
    assert b_low > b_high
    assert r_low < r_high


def test_fmix64_known_values() -> None:
    # MurmurHash3 fmix64: 0 is a fixed point; distinct inputs stay distinct.
    out = fmix64(np.array([0, 1, 2], dtype=np.uint64))
    assert out[0] == 0
    assert len(set(out.tolist())) == 3


def test_band_keys_equal_exactly_when_the_band_values_are_equal() -> None:
    sigs = np.array(
        [
            [1, 2, 3, 4],
            [1, 2, 9, 9],
            [9, 9, 3, 4],
            [2, 1, 4, 3],
        ],
        dtype=np.uint32,
    )
    keys = band_keys(sigs, bands=2, rows=2)
    assert keys.shape == (4, 2)
    assert keys.dtype == np.int64
    assert keys[0, 0] == keys[1, 0]
    assert keys[0, 1] == keys[2, 1]
    assert keys[0, 0] != keys[2, 0]
    assert keys[0, 1] != keys[1, 1]
    # Order inside a band matters, and equal values in different bands differ.
    assert keys[3, 0] != keys[0, 0]
    assert keys[3, 1] != keys[0, 1]
    same = band_keys(np.array([[5, 5, 5, 5]], dtype=np.uint32), 2, 2)
    assert same[0, 0] != same[0, 1]


def test_band_keys_ignore_columns_past_the_last_band() -> None:
    sigs = np.array([[1, 2, 3], [1, 2, 4]], dtype=np.uint32)
    keys = band_keys(sigs, bands=1, rows=2)
    assert keys[0, 0] == keys[1, 0]


def test_band_keys_reject_too_many_bands() -> None:
    with pytest.raises(ValueError, match="exceed 4 permutations"):
        band_keys(np.zeros((2, 4), dtype=np.uint32), bands=3, rows=2)


# --- candidate pairs -----------------------------------------------------------


def test_candidate_pairs_chain_each_bucket_in_row_order() -> None:
    keys = i64(7, 3, 7, 3, 7, 5).reshape(-1, 1)
    left, right = candidate_pairs(keys, window=1)
    # Bucket 3: rows 1, 3. Bucket 7: rows 0, 2, 4. Row 5 is alone.
    assert pairs(left, right) == [(0, 2), (1, 3), (2, 4)]


def test_candidate_pairs_reach_window_members_ahead_in_each_bucket() -> None:
    keys = i64(7, 3, 7, 3, 7, 7, 5).reshape(-1, 1)
    left, right = candidate_pairs(keys, window=2)
    # Bucket 7 holds rows 0, 2, 4, 5: each meets the next two.
    assert pairs(left, right) == [(0, 2), (0, 4), (1, 3), (2, 4), (2, 5), (4, 5)]
    with pytest.raises(ValueError, match="window"):
        candidate_pairs(keys, window=0)


@pytest.mark.parametrize(
    ("seed", "n"), [(0, 1), (1, 2), (2, 3), (3, 255), (4, 256), (5, 257), (6, 131), (7, 64)]
)
def test_candidate_pairs_tell_apart_keys_that_share_their_top_bits(seed: int, n: int) -> None:
    """Buckets are whole keys, even for keys that agree in all their top bits.

    Row counts at and around powers of two: the rows take the low bits.
    """
    rng = np.random.default_rng(seed)
    bands, window = 3, int(rng.integers(1, 4))
    # Few distinct keys, each also present with its low bits changed (the
    # bits the rows take in the sort) and with its sign flipped.
    base = rng.integers(-(2**63), 2**63 - 1, 6, dtype=np.int64)
    variants = np.concatenate((base, base ^ 1, base ^ 3, base ^ np.int64(-(2**63))))
    keys = rng.choice(variants, size=(n, bands))
    want = set()
    for band in range(bands):
        for key in set(keys[:, band].tolist()):
            rows = np.flatnonzero(keys[:, band] == key).tolist()
            for i, row in enumerate(rows):
                want.update((row, other) for other in rows[i + 1 : i + 1 + window])
    left, right = candidate_pairs(keys, window=window)
    assert pairs(left, right) == sorted(want)


def test_candidate_pairs_are_distinct_across_bands() -> None:
    keys = np.array([[1, 5], [1, 5], [2, 6], [3, 6]], dtype=np.int64)
    left, right = candidate_pairs(keys)
    assert pairs(left, right) == [(0, 1), (2, 3)]
    assert left.dtype == right.dtype == np.int64


def test_candidate_pairs_without_shared_keys_or_rows() -> None:
    left, right = candidate_pairs(i64(1, 2, 3).reshape(-1, 1))
    assert pairs(left, right) == []
    left, right = candidate_pairs(np.empty((0, 4), dtype=np.int64))
    assert pairs(left, right) == []


def test_candidate_pairs_of_a_huge_bucket_are_a_window_not_all_pairs() -> None:
    n = 100_000
    keys = np.full((n, 2), 42, dtype=np.int64)
    left, right = candidate_pairs(keys)
    # Each row meets the next WINDOW rows: linear in the bucket, not quadratic.
    assert len(left) == sum(n - step for step in range(1, WINDOW + 1))
    assert np.all(right - left >= 1) and np.all(right - left <= WINDOW)


def test_blocks_hashed_in_input_order_give_the_same_analysis() -> None:
    # Blocks hashed in the input's order: analyze puts them in id order.
    from dedup import ScanConfig, analyze
    from dedup.core.blockhash import hash_blocks

    cfg = ScanConfig()
    ids = ["c", "a", "d", "b", "e"]
    texts = [f"Menu\nHome\n\nStory {i} of the day, told once.\n\nFooter line\n" for i in ids]
    texts[3] = ""  # a document without blocks keeps its place
    direct = analyze(ids, texts, cfg)
    resumed = analyze(ids, texts, cfg, blocks=hash_blocks(texts, cfg, workers=2))
    for field in ("doc", "start", "end", "run"):
        assert np.array_equal(getattr(resumed.spans, field), getattr(direct.spans, field))
    assert np.array_equal(resumed.blocks.cluster, direct.blocks.cluster)
    assert np.array_equal(resumed.passages.passage, direct.passages.passage)


def _window_reference(keys: np.ndarray, window: int) -> list[tuple[int, int]]:
    found = set()
    for band in range(keys.shape[1]):
        buckets: dict[int, list[int]] = {}
        for row, key in enumerate(keys[:, band].tolist()):
            buckets.setdefault(key, []).append(row)
        for rows in buckets.values():
            for i, left in enumerate(rows):
                found.update((left, right) for right in rows[i + 1 : i + 1 + window])
    return sorted(found)


@pytest.mark.parametrize("seed", range(6))
def test_candidate_pairs_equal_a_plain_reading_of_the_window_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = rng.integers(-3, 4, (int(rng.integers(0, 60)), 3)).astype(np.int64)
    window = int(rng.integers(1, 5))
    left, right = candidate_pairs(keys, window=window)
    assert pairs(left, right) == _window_reference(keys, window)


def _fmix64_by_python(value: int) -> int:
    mask = (1 << 64) - 1
    value ^= value >> 33
    value = (value * 0xFF51AFD7ED558CCD) & mask
    value ^= value >> 33
    value = (value * 0xC4CEB9FE1A85EC53) & mask
    return value ^ (value >> 33)


@pytest.mark.parametrize("compiled_at", [1, 1 << 62], ids=["compiled", "numpy"])
def test_fmix64_of_arrays_is_murmur3s_finalizer_either_way(
    monkeypatch: pytest.MonkeyPatch, compiled_at: int
) -> None:
    monkeypatch.setattr(lsh, "_COMPILED_FMIX_AT", compiled_at)
    values = np.random.default_rng(9).integers(0, 2**64 - 1, 5000, dtype=np.uint64)
    values[:3] = [0, 1, 2**64 - 1]
    got = fmix64(values[::2])  # a strided view too
    assert got.dtype == np.uint64
    assert got.tolist() == [_fmix64_by_python(int(v)) for v in values[::2]]
