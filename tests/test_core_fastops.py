"""Each compiled helper equals its plain counterpart, on random and edge inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.core import fastops, labels, lsh, sets, similar
from dedup.core.blockhash import word_shingles
from dedup.core.minhash import permutations, signatures


def random_csr(rng: np.random.Generator, rows: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = rng.integers(0, 40, rows)
    lengths[::7] = 0  # empty rows too
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(0, top, int(offsets[-1]), dtype=np.uint64).astype(np.uint32)
    return values, offsets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_band_keys_equal_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 2**32, (500, 128), dtype=np.uint64).astype(np.uint32)
    for bands, rows in ((20, 6), (14, 9), (1, 128)):
        np.testing.assert_array_equal(
            fastops.band_keys(sigs, bands, rows), lsh.band_keys(sigs, bands, rows)
        )
    with pytest.raises(ValueError, match="exceed"):
        fastops.band_keys(sigs, 20, 7)
    # Written into a slice of a bigger array, as set_band_keys does by chunks.
    out = np.zeros((700, 20), dtype=np.int64)
    fastops.band_keys(sigs, 20, 6, out=out[100:600])
    np.testing.assert_array_equal(out[100:600], lsh.band_keys(sigs, 20, 6))
    assert not out[:100].any() and not out[600:].any()
    with pytest.raises(ValueError, match="out must be"):
        fastops.band_keys(sigs, 20, 6, out=out[:10])


@pytest.mark.parametrize("top", [5, 2**32])
def test_unique_rows_equal_numpy(top: int) -> None:
    values, offsets = random_csr(np.random.default_rng(top % 97), 300, top)
    ours = fastops.unique_rows(values, offsets)
    plain = sets.unique_rows(values, offsets)
    np.testing.assert_array_equal(ours[0], plain[0])
    np.testing.assert_array_equal(ours[1], plain[1])


@pytest.mark.parametrize("fill", ["descending", "equal", "random"])
def test_set_rows_sort_rows_on_both_sides_of_each_sort_limit(fill: str) -> None:
    """Rows by insertion sort, quicksort and radix sort, worst orders included."""
    limit, radix = fastops._INSERTION_SORT_MAX, fastops._RADIX_SORT_MIN
    rng = np.random.default_rng(limit)
    rows = []
    for length in [*range(3 * limit), radix - 1, radix, radix + 1, 5 * radix]:
        if fill == "descending":
            rows.append(np.arange(length, 0, -1))
        elif fill == "equal":
            rows.append(np.full(length, 7))
        else:
            rows.append(rng.integers(0, 2**32, length))
    values = np.concatenate(rows).astype(np.uint32)
    offsets = np.r_[0, np.cumsum([len(r) for r in rows])].astype(np.int64)
    for got, want in (
        (fastops.unique_rows(values, offsets), sets.unique_rows(values, offsets)),
        (
            fastops.word_shingle_rows(values, offsets, 3),
            (
                np.concatenate([word_shingles(r.astype(np.uint32), 3) for r in rows]),
                np.r_[0, np.cumsum([len(word_shingles(r.astype(np.uint32), 3)) for r in rows])],
            ),
        ),
    ):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("n", [1, 3, 5])
def test_word_shingle_rows_equal_word_shingles(n: int) -> None:
    values, offsets = random_csr(np.random.default_rng(n), 200, 30)
    out, out_offsets = fastops.word_shingle_rows(values, offsets, n)
    for i in range(len(offsets) - 1):
        row = values[offsets[i] : offsets[i + 1]]
        np.testing.assert_array_equal(
            out[out_offsets[i] : out_offsets[i + 1]], word_shingles(row, n)
        )


def test_jaccard_sorted_equals_numpy() -> None:
    rng = np.random.default_rng(4)
    values, offsets = fastops.unique_rows(*random_csr(rng, 200, 25))
    left = rng.integers(0, 200, 3000).astype(np.int64)
    right = rng.integers(0, 200, 3000).astype(np.int64)
    np.testing.assert_allclose(
        fastops.jaccard_sorted(values, offsets, left, right),
        sets.jaccard(values, offsets, left, right),
    )


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_jaccard_at_least_is_exact_at_or_above_the_threshold(threshold: float) -> None:
    rng = np.random.default_rng(int(threshold * 10))
    # Variants of a few base rows, so that similarities spread over [0, 1];
    # values are hashes, spread over the 32 bits as the buckets expect.
    alphabet = rng.integers(0, 2**32, 60, dtype=np.uint64).astype(np.uint32)
    bases = [rng.choice(alphabet, size=int(rng.integers(1, 15)), replace=False) for _ in range(6)]
    rows = []
    for _ in range(300):
        row = set(bases[int(rng.integers(0, 6))].tolist())
        row ^= set(rng.choice(alphabet, size=int(rng.integers(0, 5))).tolist())
        rows.append(sorted(row))
    rows.append(sorted(set(rng.integers(0, 2**32, 400).tolist())))  # too long to bound
    rows.append([])
    offsets = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    values = np.array([v for r in rows for v in r], dtype=np.uint32)
    left = rng.integers(0, len(rows), 20_000).astype(np.int64)
    right = rng.integers(0, len(rows), 20_000).astype(np.int64)
    left[:300], right[:300] = len(rows) - 2, np.arange(300)  # the long row with the others
    left[300] = right[300] = len(rows) - 2  # and with itself
    exact = fastops.jaccard_sorted(values, offsets, left, right)
    got = fastops.jaccard_at_least(values, offsets, left, right, threshold)
    above = exact >= threshold
    assert above.any() and (~above).any()
    # Bit for bit where it counts; below, either exact or marked -1.
    np.testing.assert_array_equal(got[above], exact[above])
    below = got[~above]
    assert np.all((below == -1.0) | (below == exact[~above]))
    assert (below == -1.0).mean() > 0.5  # the bound does prune


def test_jaccard_at_least_keeps_equality_and_compares_rows_too_long_to_bound() -> None:
    # Rows of 255 and 256 values all in one bucket (same top four bits):
    # the longer one's count would not fit a byte, so it is always compared.
    one_bucket = (np.arange(1, 300, dtype=np.uint32) | np.uint32(0x7 << 28)).tolist()
    rows = [
        [1, 2, 3, 4],
        [1, 2, 3, 5],  # 3 shared of 5: exactly 0.6
        one_bucket[:255],
        one_bucket[:256],
        one_bucket[1:257],
    ]
    offsets = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    values = np.array([v for r in rows for v in r], dtype=np.uint32)
    left, right = np.array([0, 2, 3, 3, 2]), np.array([1, 2, 3, 4, 3])
    exact = fastops.jaccard_sorted(values, offsets, left, right)
    got = fastops.jaccard_at_least(values, offsets, left, right, 0.6)
    assert exact[0] == 0.6 and got[0] == 0.6  # at the threshold: kept, exact
    np.testing.assert_array_equal(got[1:], exact[1:])
    assert exact[1:].min() >= 0.6


def nonempty_csr(seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Random CSR rows of 32-bit hashes, the empty rows left out (a signature needs one)."""
    values, offsets = random_csr(np.random.default_rng(seed), rows, 2**32)
    return sets.gather(values, offsets, np.flatnonzero(np.diff(offsets) > 0))


def test_signatures_kernel_equals_numpy() -> None:
    values, offsets = nonempty_csr(5, 100)
    a, b = permutations(64, 3)
    np.testing.assert_array_equal(
        fastops.signatures_kernel(values, offsets, a, b), signatures(values, offsets, a, b)
    )


def test_signatures_kernel_equals_numpy_on_short_and_long_rows_and_in_parallel() -> None:
    # Rows shorter than `_LONG_ROW` are signed a hash at a time, longer ones
    # a permutation at a time; enough work takes the threaded path.
    rng = np.random.default_rng(11)
    edge = fastops._LONG_ROW
    lengths = np.array([1, 2, edge - 1, edge, edge + 1, 3 * edge] * 400)
    rng.shuffle(lengths)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(0, 2**32, int(offsets[-1]), dtype=np.uint64).astype(np.uint32)
    a, b = permutations(128, 7)
    assert int(offsets[-1]) * len(a) >= fastops._PARALLEL_WORK
    expected = signatures(values, offsets, a, b)
    np.testing.assert_array_equal(fastops.signatures_kernel(values, offsets, a, b), expected)
    few = offsets[:7]  # a single thread's work
    np.testing.assert_array_equal(fastops.signatures_kernel(values, few, a, b), expected[:6])


def test_signatures_kernel_writes_into_a_reused_buffer() -> None:
    values, offsets = nonempty_csr(6, 100)
    a, b = permutations(64, 3)
    buffer = np.zeros(200 * 64, dtype=np.uint32)
    got = fastops.signatures_kernel(values, offsets, a, b, out=buffer)
    np.testing.assert_array_equal(got, signatures(values, offsets, a, b))
    assert np.shares_memory(got, buffer)
    with pytest.raises(ValueError, match="out must be"):
        fastops.signatures_kernel(values, offsets, a, b, out=buffer[: 64 * 10])
    frozen = buffer.copy()
    frozen.setflags(write=False)
    with pytest.raises(ValueError, match="out must be"):
        fastops.signatures_kernel(values, offsets, a, b, out=frozen)
    # No rows: still an (0, k) array, and `out` is checked all the same.
    assert fastops.signatures_kernel(values, offsets[:1], a, b, out=buffer).shape == (0, 64)
    with pytest.raises(ValueError, match="out must be"):
        fastops.signatures_kernel(values, offsets[:1], a, b, out=np.empty(3, np.int8))


@pytest.mark.parametrize("chunk", [7, 64, 1 << 16])
def test_set_band_keys_by_chunks_equal_the_signatures_banded(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    values, offsets = fastops.unique_rows(*nonempty_csr(8, 300))
    perms = permutations(128, 1)
    monkeypatch.setattr(similar, "_SKETCH_ROWS", chunk)
    keys = similar.set_band_keys(values, offsets, perms, 20, 6)
    np.testing.assert_array_equal(keys, lsh.band_keys(signatures(values, offsets, *perms), 20, 6))
    # Laid out band after band: a band's keys are taken without a copy.
    for band in (0, 19):
        column = lsh.band_column(keys, band)
        assert column.flags.c_contiguous and np.shares_memory(column, keys)


@pytest.mark.parametrize("group", [1, 3, 4, 20, 25])
@pytest.mark.parametrize("picked", [False, True])
def test_band_key_groups_are_the_columns_of_set_band_keys(
    group: int, picked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    values, offsets = fastops.unique_rows(*nonempty_csr(8, 300))
    rows = np.random.default_rng(2).integers(0, len(offsets) - 1, 250) if picked else None
    perms = permutations(128, 1)
    monkeypatch.setattr(similar, "_SKETCH_ROWS", 64)
    whole = similar.set_band_keys(values, offsets, perms, 20, 6, rows)
    groups = similar.band_key_groups(values, offsets, perms, 20, 6, rows, group)
    # Copied as they come: a group is made in the memory of the one before.
    parts = [keys.copy() for keys in groups]
    assert [p.shape[1] for p in parts] == [min(group, 20 - b) for b in range(0, 20, group)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    np.testing.assert_array_equal(
        np.stack(
            lsh.candidate_pairs_of(
                similar.band_key_groups(values, offsets, perms, 20, 6, rows, group), len(whole)
            )
        ),
        np.stack(lsh.candidate_pairs(whole)),
    )


def test_band_key_groups_and_first_bands_refuse_bad_arguments() -> None:
    values, offsets = fastops.unique_rows(*nonempty_csr(8, 30))
    with pytest.raises(ValueError, match="group must be"):
        next(similar.band_key_groups(values, offsets, permutations(128, 1), 20, 6, group=0))
    sigs = signatures(values, offsets, *permutations(128, 1))
    with pytest.raises(ValueError, match="first_band"):
        fastops.band_keys(sigs, 4, 6, first_band=-1)
    with pytest.raises(ValueError, match="rows, expected"):
        lsh.candidate_pairs_of([np.zeros((3, 2), np.int64)], 4)


@pytest.mark.parametrize("chunk", [5, 64, 1 << 16])
def test_rows_taken_as_they_are_band_as_their_sets(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows with repeated hashes in any order (as blocks hash their shingles),
    # picked in any order and more than once.
    raw, offsets = nonempty_csr(8, 300)
    rng = np.random.default_rng(4)
    raw = raw.copy()
    for i in range(len(offsets) - 1):
        row = raw[offsets[i] : offsets[i + 1]]
        row[:] = rng.permutation(np.r_[row[: len(row) // 2 + 1], row][: len(row)])
    rows = rng.integers(0, len(offsets) - 1, 200)
    perms = permutations(128, 1)
    monkeypatch.setattr(similar, "_SKETCH_ROWS", chunk)
    as_sets = fastops.unique_rows(*fastops.gather(raw, offsets, rows))
    np.testing.assert_array_equal(
        similar.set_band_keys(raw, offsets, perms, 20, 6, picked=rows),
        similar.set_band_keys(*as_sets, perms, 20, 6),
    )
    assert not len(similar.set_band_keys(raw, offsets, perms, 20, 6, picked=rows[:0]))


def test_csr_kernels_give_the_same_rows_with_any_number_of_threads() -> None:
    import numba

    values, offsets = random_csr(np.random.default_rng(11), 5000, 1000)
    pairs = np.random.default_rng(12).integers(0, 5000, (2, 3000))
    sigs = np.random.default_rng(13).integers(0, 2**32, (5000, 128), dtype=np.uint64)
    sigs = sigs.astype(np.uint32)
    runs = []
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            rows = fastops.unique_rows(values, offsets)
            runs.append(
                (
                    *rows,
                    *fastops.word_shingle_rows(values, offsets, 5),
                    fastops.jaccard_sorted(*rows, pairs[0], pairs[1]),
                    fastops.band_keys(sigs, 16, 8),
                )
            )
    finally:
        numba.set_num_threads(before)
    for ours, first in zip(runs[-1], runs[0], strict=True):
        np.testing.assert_array_equal(ours, first)
    np.testing.assert_array_equal(runs[0][0], sets.unique_rows(values, offsets)[0])


@pytest.mark.parametrize("dtype", [np.uint32, np.int64])
def test_gather_equals_numpy(dtype: type) -> None:
    values, offsets = random_csr(np.random.default_rng(21), 400, 1000)
    values = values.astype(dtype)
    rng = np.random.default_rng(22)
    for rows in (rng.integers(0, 400, 900), np.arange(400)[::-1], np.empty(0, np.int64)):
        ours = fastops.gather(values, offsets, rows.astype(np.int64))
        plain = sets.gather(values, offsets, rows.astype(np.int64))
        assert ours[0].dtype == plain[0].dtype
        np.testing.assert_array_equal(ours[0], plain[0])
        np.testing.assert_array_equal(ours[1], plain[1])
    # A slice of a bigger CSR: offsets need not start at 0.
    shifted = offsets[100:201]
    np.testing.assert_array_equal(
        fastops.gather(values, shifted, np.arange(100))[0],
        sets.gather(values, shifted, np.arange(100))[0],
    )


def random_tiling(rng: np.random.Generator, n_docs: int) -> tuple[np.ndarray, ...]:
    """Blocks sorted by (doc, start): gaps, touching blocks, unique and boilerplate runs."""
    doc, start, end, run, doc_len = [], [], [], [], []
    for d in range(n_docs):
        at = int(rng.integers(0, 3))
        for _ in range(int(rng.integers(0, 6))):
            width = int(rng.integers(0, 5))  # empty blocks too
            doc.append(d)
            start.append(at)
            end.append(at + width)
            run.append(int(rng.choice([-1, -1, 0, 1, 2])))
            at += width + int(rng.integers(0, 3))  # touching blocks too
        doc_len.append(at + int(rng.integers(0, 3)))
    return tuple(np.array(a, dtype=np.int64) for a in (doc, start, end, run, doc_len))


@pytest.mark.parametrize("seed", range(6))
def test_tile_spans_equals_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n_docs in (0, 1, 2, 40):
        args = random_tiling(rng, n_docs)
        ours, plain = fastops.tile_spans(*args), labels.tile_spans(*args)
        for column, field in zip(ours, ("doc", "start", "end", "run"), strict=True):
            np.testing.assert_array_equal(column, getattr(plain, field))
            assert column.dtype == np.int64


@pytest.mark.parametrize("seed", range(6))
def test_span_scores_equal_numpy_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n_docs in (0, 1, 2, 40):
        doc, start, end, run, doc_len = random_tiling(rng, n_docs)
        spans = labels.tile_spans(doc, start, end, run, doc_len)
        # Scores with many bits set, so that a sum in another order would differ.
        block_score = np.where(run >= 0, rng.random(len(doc)), 0.0)
        plain = labels.span_scores(spans, doc, start, end, block_score)
        orders = [np.arange(len(doc)), rng.permutation(len(doc))]  # the walk steps back too
        for order in orders:
            ours = fastops.span_scores(
                spans.doc,
                spans.start,
                spans.run,
                doc[order],
                start[order],
                end[order],
                block_score[order],
            )
            if order is orders[0]:
                np.testing.assert_array_equal(ours, plain)
            else:  # the same sums, added in another order
                np.testing.assert_allclose(ours, plain, rtol=1e-12)


def test_tile_spans_refuses_blocks_out_of_document_order() -> None:
    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    with pytest.raises(ValueError, match="sorted by document"):
        fastops.tile_spans(i64(1, 0), i64(0, 0), i64(1, 1), i64(-1, -1), i64(2, 2))
    with pytest.raises(ValueError, match="below len"):
        fastops.tile_spans(i64(0, 2), i64(0, 0), i64(1, 1), i64(-1, -1), i64(2, 2))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 3),  # document step
            st.booleans(),  # repeated
            st.integers(0, 2),  # support
            st.booleans(),  # alone
            st.integers(-(2**63), 2**63 - 1) | st.integers(-2, 2),  # cluster
        ),
        max_size=80,
    )
)
def test_run_ids_and_keys_equal_numpy(rows: list[tuple[int, bool, int, bool, int]]) -> None:
    doc = np.cumsum([step for step, *_ in rows], dtype=np.int64)
    repeated = np.array([r[1] for r in rows], dtype=bool)
    support = np.array([r[2] for r in rows], dtype=np.uint64)
    alone = np.array([r[3] for r in rows], dtype=bool)
    cluster = np.array([r[4] for r in rows], dtype=np.int64)
    ids = fastops.run_ids(doc, repeated, support, alone)
    np.testing.assert_array_equal(ids, labels._run_ids(doc, repeated, support, alone))
    assert ids.dtype == np.int64
    # Run ids as the pipeline makes them, and any order of them: with gaps,
    # and an id that comes back after another (a new run each time).
    shuffled = np.where(ids >= 0, (ids * 7) % 3, -1)
    for block_run in (ids, shuffled):
        ours = fastops.run_keys(block_run, cluster)
        plain = labels._run_keys(block_run, cluster)
        for a, b in zip(ours, plain, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == np.int64
