"""Template-line variants and glued passages on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import ScanConfig
from dedup.core.edges import (
    VARIANT_MIN_WORDS,
    GluedRuns,
    best_variant,
    edge_blocks,
    glued_cuts,
    glued_runs,
    variant_pairs,
)
from dedup.core.lsh import query_pairs, query_sorted_bands, sorted_bands
from dedup.core.sets import unique_rows
from dedup.core.splice import splice
from dedup.core.text import tokens


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def word_rows(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """CSR rows of word hashes, in order, as `BlockHashes.words` holds them."""
    rows = [
        [xxhash.xxh32_intdigest(w.encode()) for w in tokens(t, ScanConfig().normalize)]
        for t in texts
    ]
    offsets = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    return np.array([h for r in rows for h in r], dtype=np.uint32), offsets


def word_sets(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return unique_rows(*word_rows(texts))


def test_edge_blocks_are_unique_blocks_next_to_boilerplate_in_the_same_document() -> None:
    doc = i64(0, 0, 0, 0, 1, 1)
    boiler = np.array([True, False, False, True, False, False])
    # Block 4 follows boilerplate block 3, but in another document.
    assert edge_blocks(doc, boiler).tolist() == [1, 2]


def test_query_pairs_finds_shared_buckets_and_caps_each_band() -> None:
    index = np.array([[1, 9], [1, 8], [2, 7], [1, 6]], dtype=np.int64)
    queries = np.array([[1, 7], [5, 5]], dtype=np.int64)
    query, hit = query_pairs(index, queries, cap=8)
    assert list(zip(query.tolist(), hit.tolist(), strict=True)) == [(0, 0), (0, 1), (0, 2), (0, 3)]
    query, hit = query_pairs(index, queries, cap=1)
    assert list(zip(query.tolist(), hit.tolist(), strict=True)) == [(0, 0), (0, 2)]
    with pytest.raises(ValueError):
        query_pairs(index, queries, cap=0)


BANNER = "The Valley Gazette, independent news from the northern valleys"


def test_a_changed_word_is_a_variant_and_another_line_is_not() -> None:
    queries = [
        BANNER.replace("independent", "indepandent"),
        "weather for the coming week in the hills",
    ]
    query, hit, similarity = variant_pairs(
        word_sets(queries), word_sets([BANNER, "sports and games tonight"]), 0.5, 128, 1
    )
    assert query.tolist() == [0] and hit.tolist() == [0]
    assert similarity[0] == pytest.approx(7 / 9)  # 8 distinct words each, 7 shared


def test_short_lines_are_never_variants() -> None:
    short = "posted by ann"
    assert len(short.split()) < VARIANT_MIN_WORDS
    query, _, _ = variant_pairs(word_sets([short]), word_sets([short]), 0.5, 128, 1)
    assert not len(query)


def test_best_variant_prefers_similarity_then_the_smaller_key() -> None:
    block = i64(0, 0, 0, 2)
    candidate = i64(5, 6, 7, 5)
    similarity = np.array([0.6, 0.9, 0.9, 0.7])
    key = i64(50, 60, 40, 50)
    best, score = best_variant(block, candidate, similarity, key, 3)
    assert best.tolist() == [7, -1, 5]
    assert score.tolist() == [0.9, 0.0, 0.7]


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.integers(0, 4),  # block
            st.integers(0, 9),  # candidate
            st.sampled_from([0.5, 0.75, 0.9, 1.0]),  # similarity: ties are common
            st.integers(-2, 2),  # candidate key
        ),
        max_size=40,
    )
)
def test_best_variant_equals_a_sort_of_the_pairs(pairs: list[tuple[int, int, float, int]]) -> None:
    block = np.array([p[0] for p in pairs], dtype=np.int64)
    candidate = np.array([p[1] for p in pairs], dtype=np.int64)
    similarity = np.array([p[2] for p in pairs], dtype=np.float64)
    key = np.array([p[3] for p in pairs], dtype=np.int64)
    best, score = best_variant(block, candidate, similarity, key, 5)
    want_best = np.full(5, -1, dtype=np.int64)
    want_score = np.zeros(5)
    if len(block):
        # Blocks in order, then highest similarity, smallest key, first row.
        order = np.lexsort((key, -similarity, block))
        heads = order[np.r_[True, block[order][1:] != block[order][:-1]]]
        want_best[block[heads]] = candidate[heads]
        want_score[block[heads]] = similarity[heads]
    np.testing.assert_array_equal(best, want_best)
    np.testing.assert_array_equal(score, want_score)


GLUED = "Subscribe to our newsletter for the morning news."


def cuts_of(texts: list[str], member: list[int], **cfg: int) -> list[tuple[int, str]]:
    words = word_rows(texts)
    runs = glued_runs(words, i64(*member), np.zeros(len(texts), np.int64), ScanConfig(**cfg))  # type: ignore[arg-type]
    found = glued_cuts([texts[b] for b in runs.block], runs, np.diff(words[1])[runs.block])
    return [
        (b, texts[b][s:e])
        for b, s, e in zip(
            found.block.tolist(), found.start.tolist(), found.end.tolist(), strict=True
        )
    ]


def test_a_glued_suffix_is_cut_with_its_punctuation() -> None:
    texts = [
        f"The bridge opens in May. {GLUED}",
        f"Farmers moved their herds uphill. {GLUED}",
    ]
    assert cuts_of(texts, [0, 1]) == [(0, GLUED), (1, GLUED)]


def test_a_glued_prefix_is_cut_too() -> None:
    texts = [f"{GLUED} The bridge opens in May.", f"{GLUED} Farmers moved their herds uphill."]
    assert cuts_of(texts, [0, 1]) == [(0, GLUED), (1, GLUED)]


def test_glued_passages_repeat_across_near_duplicate_groups() -> None:
    texts = [f"The bridge opens in May. {GLUED}", f"Farmers moved uphill. {GLUED}"]
    # Both documents in one near-duplicate group: one repetition only.
    assert cuts_of(texts, [3, 3]) == []


def test_short_repeats_and_whole_blocks_are_not_cut() -> None:
    texts = [
        "The bridge opens in May. Read more here right now.",
        "Farmers moved. Read more here right now.",
    ]
    assert cuts_of(texts, [0, 1]) == []  # 5 words, under --glue-words
    tail = "Read more here right now."
    assert cuts_of(texts, [0, 1], glue_words=5) == [(0, tail), (1, tail)]
    assert cuts_of([GLUED, GLUED], [0, 1]) == []
    assert cuts_of(texts, [0, 1], glue_words=0) == []


def test_a_long_shared_tail_is_prose_and_needs_more_documents() -> None:
    tail = " ".join([f"word{i}" for i in range(30)])
    texts = [f"First article starts here. {tail}", f"Second article is other. {tail}"]
    assert cuts_of(texts, [0, 1]) == []
    many = [f"Article {n} begins with its own words. {tail}" for n in "abcd"]
    assert [b for b, _ in cuts_of(many, [0, 1, 2, 3])] == [0, 1, 2, 3]


def test_a_cut_is_dropped_where_the_text_does_not_show_the_hashed_words() -> None:
    # Hashed words that the text does not show one by one (as when NFKC
    # splits a character): no cut rather than a cut in the wrong place.
    runs = GluedRuns(i64(0), i64(1), i64(2), i64(7))
    assert not len(glued_cuts(["a b"], runs, i64(3)).block)
    cut = glued_cuts(["a b c."], runs, i64(3))
    assert (cut.start.tolist(), cut.end.tolist()) == ([2], [6])


@pytest.mark.parametrize("seed", range(6))
def test_query_pairs_equal_a_plain_reading_of_the_cap_rule(seed: int) -> None:
    """Per band, a query meets the `cap` smallest index rows of its bucket."""
    rng = np.random.default_rng(seed)
    index = rng.integers(-3, 4, (int(rng.integers(0, 40)), 3)).astype(np.int64)
    queries = rng.integers(-4, 5, (int(rng.integers(0, 40)), 3)).astype(np.int64)
    cap = int(rng.integers(1, 5))
    want = set()
    for band in range(3):
        for q, key in enumerate(queries[:, band].tolist()):
            bucket = [row for row, k in enumerate(index[:, band].tolist()) if k == key]
            want.update((q, row) for row in bucket[:cap])
    query, hit = query_pairs(index, queries, cap=cap)
    assert list(zip(query.tolist(), hit.tolist(), strict=True)) == sorted(want)


@pytest.mark.parametrize("seed", range(4))
def test_query_batches_against_sorted_bands_give_the_pairs_of_all_queries(seed: int) -> None:
    rng = np.random.default_rng(seed)
    index = rng.integers(-3, 4, (int(rng.integers(1, 40)), 3)).astype(np.int64)
    queries = rng.integers(-4, 5, (int(rng.integers(1, 40)), 3)).astype(np.int64)
    bands = sorted_bands(index)
    want = query_pairs(index, queries, cap=2)
    for size in (1, 3, len(queries)):
        got = [
            query_sorted_bands(bands, queries[lo : lo + size], cap=2)
            for lo in range(0, len(queries), size)
        ]
        query = np.concatenate(
            [
                q + lo
                for q, lo in zip((g[0] for g in got), range(0, len(queries), size), strict=True)
            ]
        )
        hit = np.concatenate([g[1] for g in got])
        assert query.tolist() == want[0].tolist() and hit.tolist() == want[1].tolist()
    with pytest.raises(ValueError, match="bands"):
        query_sorted_bands(bands, queries[:, :2], cap=2)


def test_variant_pairs_in_query_batches_equal_all_at_once() -> None:
    # Lines of one template with one or two words changed, and lines of another.
    rng = np.random.default_rng(7)
    words = [a + b + "ing" for a in "bcdfgh" for b in "aeiouy"][:40]  # no digits: masked
    template = words[:10]
    lines = []
    for _ in range(60):
        line = list(template)
        for at in rng.choice(10, size=int(rng.integers(1, 3)), replace=False).tolist():
            line[at] = str(rng.choice(words))
        lines.append(" ".join(line))
    # Unrelated lines first: the last queries are variants, with pairs.
    lines = [" ".join(rng.choice(words, size=8).tolist()) for _ in range(20)] + lines
    queries, index = word_sets(lines[::2]), word_sets(lines[1::2])
    want = variant_pairs(queries, index, 0.5, 128, 1, batch=10**6)
    assert len(want[0]) > 100  # many pairs, from many queries
    for batch in (1, 7, 16):
        got = variant_pairs(queries, index, 0.5, 128, 1, batch=batch)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="batch"):
        variant_pairs(queries, index, 0.5, 128, 1, batch=0)


def test_splice_is_delete_then_place() -> None:
    rng = np.random.default_rng(4)
    for n, n_removed, n_added in ((0, 0, 0), (0, 0, 3), (5, 5, 0), (9, 3, 7), (200, 40, 90)):
        for dtype in (np.int64, np.float64, np.int32):
            column = rng.integers(0, 1000, n).astype(dtype)
            removed = np.sort(rng.choice(n, n_removed, replace=False)).astype(np.int64)
            n_out = n - n_removed + n_added
            at = np.sort(rng.choice(n_out, n_added, replace=False)).astype(np.int64)
            added = rng.integers(0, 1000, n_added).astype(dtype)
            expected = np.empty(n_out, dtype=dtype)
            kept = np.ones(n_out, dtype=bool)
            kept[at] = False
            expected[kept] = np.delete(column, removed)
            expected[at] = added
            got = splice(column, removed, at, added)
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, expected)


def test_splice_refuses_rows_out_of_order_or_range() -> None:
    column = np.arange(5, dtype=np.int64)
    one = np.array([1], dtype=np.int64)
    for removed, at, added in (
        (np.array([2, 1]), np.empty(0, np.int64), np.empty(0, np.int64)),
        (np.array([5]), np.empty(0, np.int64), np.empty(0, np.int64)),
        (np.array([1, 1]), np.empty(0, np.int64), np.empty(0, np.int64)),
        (np.empty(0, np.int64), np.array([6, 7]), np.array([7, 8])),
        (np.empty(0, np.int64), np.array([3, 3]), np.array([7, 8])),
        (np.empty(0, np.int64), np.array([6]), one),
        (np.empty(0, np.int64), one, np.array([7, 8])),
    ):
        with pytest.raises(ValueError):
            splice(column, removed, at, added)
