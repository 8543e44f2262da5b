"""CSR sets, exact Jaccard, connected components and verified similar groups."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.config import ScanConfig
from dedup.core import sets
from dedup.core.graph import components
from dedup.core.lsh import band_keys
from dedup.core.minhash import permutations, signatures
from dedup.core.pipeline import analyze
from dedup.core.sets import gather, jaccard, unique_rows
from dedup.core.similar import similar_groups


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def csr(*rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    values = np.array([v for r in rows for v in r], dtype=np.uint32)
    return values, offsets


def rows_of(values: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    return [values[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]


# --- gather / unique_rows ------------------------------------------------------


def test_gather_picks_rows_in_the_asked_order_with_repeats() -> None:
    values, offsets = csr([1, 2], [3], [], [4, 5, 6])
    got_values, got_offsets = gather(values, offsets, i64(3, 0, 2, 0))
    assert got_offsets.tolist() == [0, 3, 5, 5, 7]
    assert rows_of(got_values, got_offsets) == [[4, 5, 6], [1, 2], [], [1, 2]]


def test_gather_no_rows() -> None:
    values, offsets = csr([1, 2])
    got_values, got_offsets = gather(values, offsets, i64())
    assert got_values.tolist() == []
    assert got_offsets.tolist() == [0]


def test_unique_rows_sorts_and_drops_repeats_per_row() -> None:
    values, offsets = csr([3, 1, 3, 2], [], [7, 7], [2**32 - 1, 0])
    got_values, got_offsets = unique_rows(values, offsets)
    assert got_values.dtype == np.uint32
    assert rows_of(got_values, got_offsets) == [[1, 2, 3], [], [7], [0, 2**32 - 1]]


# --- jaccard -------------------------------------------------------------------


def test_jaccard_on_hand_sets() -> None:
    values, offsets = csr([1, 2, 3, 4], [3, 4, 5, 6], [9], [4, 3, 2, 1], [], [])
    left = i64(0, 0, 0, 1, 2, 4)
    right = i64(1, 2, 3, 0, 2, 5)
    got = jaccard(values, offsets, left, right)
    assert got.dtype == np.float64
    # {1,2,3,4} vs {3,4,5,6}: 2 / 6; disjoint: 0; equal in another order: 1;
    # a set with itself: 1; two empty sets: 0 (no union to divide by).
    assert got.tolist() == pytest.approx([2 / 6, 0.0, 1.0, 2 / 6, 1.0, 0.0])


def test_jaccard_subset() -> None:
    values, offsets = csr([1, 2, 3, 4, 5], [2, 4])
    assert jaccard(values, offsets, i64(0), i64(1)).tolist() == pytest.approx([2 / 5])


def test_jaccard_keeps_the_top_bit_of_values_apart_from_the_pair_tag() -> None:
    big = 2**32 - 1
    values, offsets = csr([big, 0], [big], [0, 1])
    got = jaccard(values, offsets, i64(0, 0, 1), i64(1, 2, 2))
    assert got.tolist() == pytest.approx([1 / 2, 1 / 3, 0.0])


def test_jaccard_no_pairs() -> None:
    values, offsets = csr([1])
    assert jaccard(values, offsets, i64(), i64()).tolist() == []


def test_jaccard_in_several_chunks_equals_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    rows = [sorted(set(rng.integers(0, 40, size=rng.integers(1, 20)).tolist())) for _ in range(30)]
    values, offsets = csr(*rows)
    left = rng.integers(0, 30, size=200).astype(np.int64)
    right = rng.integers(0, 30, size=200).astype(np.int64)
    expected = [
        len(set(rows[a]) & set(rows[b])) / len(set(rows[a]) | set(rows[b]))
        for a, b in zip(left.tolist(), right.tolist(), strict=True)
    ]
    monkeypatch.setattr(sets, "_CHUNK", 16)
    assert jaccard(values, offsets, left, right).tolist() == pytest.approx(expected)


# --- components ----------------------------------------------------------------


def test_components_label_by_smallest_member() -> None:
    labels = components(7, i64(5, 3, 6), i64(3, 1, 4))
    assert labels.dtype == np.int64
    assert labels.tolist() == [0, 1, 2, 1, 4, 1, 4]


def test_components_do_not_depend_on_edge_order_or_direction() -> None:
    left, right = i64(0, 2, 4, 3), i64(2, 5, 1, 1)
    expected = components(6, left, right).tolist()
    assert expected == [0, 1, 0, 1, 1, 0]
    assert components(6, right[::-1], left[::-1]).tolist() == expected


def test_components_without_edges_or_nodes() -> None:
    assert components(3, i64(), i64()).tolist() == [0, 1, 2]
    assert components(0, i64(), i64()).tolist() == []


def test_components_ignore_self_loops_and_repeated_edges() -> None:
    assert components(3, i64(1, 1, 2), i64(1, 2, 1)).tolist() == [0, 1, 1]


# --- similar_groups ------------------------------------------------------------


def real_signatures(values: np.ndarray, offsets: np.ndarray, num_perm: int = 64) -> np.ndarray:
    a, b = permutations(num_perm, 1)
    return signatures(values, offsets, a, b)


def test_similar_groups_merge_rows_above_the_threshold() -> None:
    base = list(range(100, 120))
    near = [*base[:19], 999]  # Jaccard 19 / 21 with base
    far = list(range(500, 520))
    values, offsets = csr(base, far, near, [*base[:18], 7, 8])
    sigs = real_signatures(values, offsets)
    group, left, right = similar_groups(values, offsets, sigs, 0.85, 16, 4)
    assert group.tolist() == [0, 1, 0, 3]
    assert pairs_of(left, right) == [(0, 2)]


def test_similar_groups_verify_every_candidate() -> None:
    # Equal signatures make every row a candidate of every other; only the
    # exact Jaccard may join them.
    values, offsets = csr([1, 2, 3], [1, 2, 3, 4], [7, 8, 9])
    sigs = np.zeros((3, 4), dtype=np.uint32)
    group, left, right = similar_groups(values, offsets, sigs, 0.7, 2, 2)
    assert group.tolist() == [0, 0, 2]
    assert pairs_of(left, right) == [(0, 1)]


def test_similar_groups_join_equal_rows_that_share_a_bucket_with_another() -> None:
    # Rows 0 and 2 are the same set and share every band with row 1, which is
    # dissimilar to both. A bucket proposes all three rows as one another's
    # candidates, so the exact check must find 0 ~ 2 (Jaccard 1).
    values, offsets = csr([1, 2, 3, 4], [1, 5, 6, 7], [1, 2, 3, 4])
    sigs = np.zeros((3, 4), dtype=np.uint32)
    group, _, _ = similar_groups(values, offsets, sigs, 0.5, 2, 2)
    assert group.tolist() == [0, 1, 0]


def test_similar_groups_join_a_verified_pair_whatever_lies_between_in_its_buckets() -> None:
    # Real signatures (num_perm=16, seed=1, threshold 0.5 -> 5 bands x 3 rows):
    # J(row 0, row 2) = 1/2 and J(row 1, row 2) = 1/2 reach the threshold,
    # J(row 0, row 1) = 1/3 does not. Every bucket that holds rows 0 and 2
    # also holds row 1, which sits between them in row order.
    values, offsets = csr([1, 5], [3, 5], [5])
    sigs = real_signatures(values, offsets, num_perm=16)
    keys = band_keys(sigs, 5, 3)
    shared = keys[0] == keys[2]
    assert shared.any()
    assert np.all(keys[1][shared] == keys[0][shared])
    group, _, _ = similar_groups(values, offsets, sigs, 0.5, 5, 3)
    assert group.tolist() == [0, 0, 0]


@pytest.mark.parametrize("a_first", [True, False])
def test_analyze_finds_a_similar_line_pair_whatever_the_line_order(a_first: bool) -> None:
    # "beta delta zeta" (doc a) and "alpha beta delta zeta" (doc b) have
    # Jaccard 3/4 >= 0.7 over 1-word shingles, so both are boilerplate. The
    # other line of doc a is similar to neither; its position must not matter.
    # (It is a variant of the boilerplate line at 3/5 of its words: off here.)
    cfg = ScanConfig(ngram=1, variant_threshold=1.0)
    lines = ["beta delta zeta", "alpha delta gamma zeta"]
    doc_a = "\n".join(lines if a_first else lines[::-1])
    doc_b = "alpha beta delta zeta\none two three four"
    result = analyze(["a", "b"], [doc_a, doc_b], cfg)
    blocks = result.blocks
    labelled = {
        (result.ids[d], result.texts[d][s:e]): run >= 0
        for d, s, e, run in zip(
            blocks.doc.tolist(),
            blocks.start.tolist(),
            blocks.end.tolist(),
            result.runs.block_run.tolist(),
            strict=True,
        )
    }
    assert labelled == {
        ("a", "beta delta zeta"): True,
        ("a", "alpha delta gamma zeta"): False,
        ("b", "alpha beta delta zeta"): True,
        ("b", "one two three four"): False,
    }


def test_similar_groups_of_no_rows() -> None:
    values, offsets = csr()
    sigs = np.empty((0, 8), dtype=np.uint32)
    group, left, right = similar_groups(values, offsets, sigs, 0.5, 2, 4)
    assert group.tolist() == []
    assert pairs_of(left, right) == []


def pairs_of(left: np.ndarray, right: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(left.tolist(), right.tolist(), strict=True))


def _content_clusters_over_every_set(
    hashes: np.ndarray, offsets: np.ndarray, first: np.ndarray, keys: np.ndarray, cfg: ScanConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The block matching as it was: every content's set made, signed and compared."""
    values, set_offsets = unique_rows(*gather(hashes, offsets, first))
    group, _, _ = similar_groups(
        values,
        set_offsets,
        signatures(values, set_offsets, *permutations(cfg.num_perm, cfg.seed)),
        cfg.passage_threshold,
        *cfg.passage_lsh,
    )
    representative = np.empty(len(keys), np.int64)
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        representative[members] = members[np.argmin(keys[members])]
    score = np.array(
        [
            jaccard(values, set_offsets, np.array([i]), representative[[i]])[0]
            for i in range(len(keys))
        ]
    )
    return keys[representative], score


@pytest.mark.parametrize("seed", [3, 8])
def test_content_clusters_compare_only_proposed_contents_and_match_every_set_compared(
    seed: int,
) -> None:
    from dedup.core.blockhash import hash_blocks
    from dedup.core.pipeline import _contents, content_clusters
    from dedup.synth import SynthConfig, generate

    cfg = ScanConfig()
    corpus = generate(SynthConfig(seed=seed, sites=4, pages_per_site=5, near_duplicates=2))
    blocks = hash_blocks(corpus.texts, cfg)
    _, keys, first = _contents(blocks)
    cluster, score = content_clusters(blocks.hashes, blocks.offsets, first, keys, cfg)
    want_cluster, want_score = _content_clusters_over_every_set(
        blocks.hashes, blocks.offsets, first, keys, cfg
    )
    np.testing.assert_array_equal(cluster, want_cluster)
    np.testing.assert_array_equal(score, want_score)
    assert (cluster != keys).sum() > 10  # variants were joined
    # Any block of a content stands for it: the last one gives the same.
    last = np.full(len(keys), -1, np.int64)
    last[np.searchsorted(keys, blocks.key)] = np.arange(len(blocks.key))
    again = content_clusters(blocks.hashes, blocks.offsets, last, keys, cfg)
    np.testing.assert_array_equal(again[0], cluster)
    np.testing.assert_array_equal(again[1], score)


def test_drained_rows_join_as_joined_rows_and_empty_the_list() -> None:
    rng = np.random.default_rng(5)
    parts = []
    for _ in range(4):
        lengths = rng.integers(0, 5, size=rng.integers(0, 6))
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        values = rng.integers(0, 1 << 32, size=int(offsets[-1]), dtype=np.uint64)
        parts.append((values.astype(np.uint32), offsets))
    want_values, want_offsets = sets.joined_rows(parts)
    given = list(parts)
    got_values, got_offsets = sets.drained_rows(given)
    assert given == []
    assert np.array_equal(got_values, want_values)
    assert np.array_equal(got_offsets, want_offsets)
    assert got_values.dtype == np.uint32
    # Rows are values[offsets[i]:offsets[i + 1]], wherever the first starts.
    shifted = [(np.concatenate((np.zeros(3, np.uint32), v)), o + 3) for v, o in parts]
    got_values, got_offsets = sets.drained_rows(shifted)
    assert np.array_equal(got_values, want_values)
    assert np.array_equal(got_offsets, want_offsets)


def test_drained_concatenates_and_empties_the_list() -> None:
    parts = [np.arange(3), np.arange(0), np.arange(5, 9)]
    given = list(parts)
    assert np.array_equal(sets.drained(given), np.concatenate(parts))
    assert given == []
    with pytest.raises(ValueError, match="no arrays"):
        sets.drained([])
