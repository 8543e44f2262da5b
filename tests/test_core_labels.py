"""Runs, passages and spans on small hand-made arrays; UTF-8 byte offsets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import ScanConfig
from dedup.core import labels
from dedup.core.labels import (
    Runs,
    Spans,
    count_distinct,
    group_starts,
    passage_table,
    tile_spans,
)
from dedup.core.lsh import GOLDEN, fmix64
from dedup.core.offsets import utf8_offsets


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def span_rows(spans: Spans) -> list[tuple[int, int, int, int]]:
    return list(
        zip(
            spans.doc.tolist(),
            spans.start.tolist(),
            spans.end.tolist(),
            spans.run.tolist(),
            strict=True,
        )
    )


def find_runs(
    doc: np.ndarray,
    cluster: np.ndarray,
    doc_group: np.ndarray,
    min_docs: int = 2,
    words: np.ndarray | None = None,
    user_group: np.ndarray | None = None,
    **rules: float,
) -> Runs:
    """`labels.find_runs` with one-word blocks and the evidence rules relaxed.

    Rules that a test does not name are set so they never fire, so each test
    sees only the behaviour it is about.
    """
    settings: dict[str, float] = {"common_fraction": 1.0, "absorb_words": 0}
    settings.update(rules)
    cfg = ScanConfig(min_docs=min_docs, prose_min_docs=max(4, min_docs), **settings)  # type: ignore[arg-type]
    if words is None:
        words = np.ones(len(doc), dtype=np.int64)
    return labels.find_runs(doc, cluster, words, doc_group, user_group, cfg)


# --- group_starts --------------------------------------------------------------


def test_group_starts_marks_a_change_in_any_key() -> None:
    first = group_starts(i64(0, 0, 0, 1, 1), i64(5, 5, 6, 6, 6))
    assert first.tolist() == [True, False, True, True, False]


def test_group_starts_of_nothing() -> None:
    assert group_starts(i64()).tolist() == []


# --- find_runs -----------------------------------------------------------------


def test_find_runs_joins_consecutive_shared_blocks_into_one_passage() -> None:
    # Three documents: [A, B, x], [A, B, y], [A, B]; x and y occur once.
    doc = i64(0, 0, 0, 1, 1, 1, 2, 2)
    cluster = i64(1, 2, 9, 1, 2, 8, 1, 2)
    runs = find_runs(doc, cluster, i64(0, 1, 2), min_docs=2)
    assert runs.block_run.tolist() == [0, 0, -1, 1, 1, -1, 2, 2]
    assert runs.first.tolist() == [0, 3, 6]
    assert runs.length.tolist() == [2, 2, 2]
    assert len(set(runs.passage.tolist())) == 1
    assert runs.doc_count.dtype == np.int32
    assert runs.doc_count.tolist() == [3, 3, 3]


def test_find_runs_split_where_support_changes() -> None:
    # [A, B], [A, B], [A]: A is in three documents, B in two, so A and B are
    # different runs in every document even though they are neighbours.
    doc = i64(0, 0, 1, 1, 2)
    cluster = i64(1, 2, 1, 2, 1)
    runs = find_runs(doc, cluster, i64(0, 1, 2), min_docs=2)
    assert runs.block_run.tolist() == [0, 1, 2, 3, 4]
    assert runs.length.tolist() == [1, 1, 1, 1, 1]
    assert runs.doc_count.tolist() == [3, 2, 3, 2, 3]
    passage = runs.passage.tolist()
    assert passage[0] == passage[2] == passage[4]
    assert passage[1] == passage[3]
    assert passage[0] != passage[1]


def test_find_runs_unique_block_between_shared_ones_breaks_the_run() -> None:
    doc = i64(0, 0, 0, 1, 1, 1)
    cluster = i64(1, 7, 2, 1, 8, 2)
    runs = find_runs(doc, cluster, i64(0, 1), min_docs=2)
    assert runs.block_run.tolist() == [0, -1, 1, 2, -1, 3]


def test_find_runs_split_a_sequence_shared_by_too_few_documents() -> None:
    # [A, B] and [B, A]: each block is shared, but neither sequence is.
    doc = i64(0, 0, 1, 1)
    cluster = i64(1, 2, 2, 1)
    runs = find_runs(doc, cluster, i64(0, 1), min_docs=2)
    assert runs.block_run.tolist() == [0, 1, 2, 3]
    assert runs.length.tolist() == [1, 1, 1, 1]
    assert runs.doc_count.tolist() == [2, 2, 2, 2]
    passage = runs.passage.tolist()
    assert passage[0] == passage[3]
    assert passage[1] == passage[2]
    assert passage[0] != passage[1]


def _runs_counted_twice(
    doc: np.ndarray, cluster: np.ndarray, words: np.ndarray, doc_group: np.ndarray, cfg: ScanConfig
) -> Runs:
    """`labels.find_runs` as it was: the runs' counts made again after the weak-run split."""
    block_group = doc_group[doc]
    repeated, block_count, support = labels.accept_blocks(
        doc, cluster, words, doc_group, None, cfg, block_group
    )
    alone = np.zeros(len(doc), dtype=bool)
    block_run = labels._run_ids(doc, repeated, support, alone)
    first, length, keys = labels._run_keys(block_run, cluster)
    counts, _ = count_distinct(keys, block_group[first])
    weak = (counts < cfg.min_docs) & (length > 1)
    if weak.any():
        alone[np.flatnonzero(block_run >= 0)[np.repeat(weak, length)]] = True
        block_run = labels._run_ids(doc, repeated, support, alone)
        first, length, keys = labels._run_keys(block_run, cluster)
        counts, _ = count_distinct(keys, block_group[first])
    counts = np.where(length == 1, block_count[first], counts)
    span_run = labels._absorb(doc, words, block_run, cfg.absorb_words)
    return Runs(block_run, span_run, first, length, keys, counts.astype(np.int32))


@settings(max_examples=150, deadline=None)
@given(
    docs=st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=8), min_size=1, max_size=12),
    groups=st.lists(st.integers(0, 5), min_size=12, max_size=12),
    min_docs=st.integers(2, 4),
)
def test_find_runs_counts_once_what_a_second_count_after_the_split_gives(
    docs: list[list[int]], groups: list[int], min_docs: int
) -> None:
    # Sequences of a few clusters in many documents: some runs are shared
    # by too few groups and fall apart into their blocks.
    doc = np.repeat(np.arange(len(docs)), [len(d) for d in docs]).astype(np.int64)
    cluster = np.array([c for d in docs for c in d], dtype=np.int64)
    doc_group = np.array(groups[: len(docs)], dtype=np.int64)
    words = np.ones(len(doc), dtype=np.int64)
    cfg = ScanConfig(min_docs=min_docs, prose_min_docs=max(4, min_docs), common_fraction=1.0)
    got = labels.find_runs(doc, cluster, words, doc_group, None, cfg)
    expected = _runs_counted_twice(doc, cluster, words, doc_group, cfg)
    for field in ("block_run", "span_run", "first", "length", "passage", "doc_count"):
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field), err_msg=field)


def test_find_runs_count_a_near_duplicate_cluster_once() -> None:
    # Documents 0 and 1 are near-duplicates (group 0); only they hold A.
    doc = i64(0, 1, 2)
    cluster = i64(1, 1, 5)
    runs = find_runs(doc, cluster, i64(0, 0, 2), min_docs=2)
    assert runs.block_run.tolist() == [-1, -1, -1]
    assert runs.first.tolist() == []
    # A third document outside the cluster makes A shared by two groups.
    runs = find_runs(i64(0, 1, 2), i64(1, 1, 1), i64(0, 0, 2), min_docs=2)
    assert runs.block_run.tolist() == [0, 1, 2]
    assert runs.doc_count.tolist() == [2, 2, 2]


def test_find_runs_respect_min_docs() -> None:
    doc, cluster, groups = i64(0, 1, 2), i64(1, 1, 1), i64(0, 1, 2)
    assert find_runs(doc, cluster, groups, min_docs=3).block_run.tolist() == [0, 1, 2]
    assert find_runs(doc, cluster, groups, min_docs=4).block_run.tolist() == [-1, -1, -1]


def test_find_runs_passage_keys_depend_on_the_cluster_sequence() -> None:
    # [A, B] x2 and [B, A] x2 are two different passages.
    doc = i64(0, 0, 1, 1, 2, 2, 3, 3)
    cluster = i64(1, 2, 1, 2, 2, 1, 2, 1)
    runs = find_runs(doc, cluster, i64(0, 1, 2, 3), min_docs=2)
    assert runs.length.tolist() == [2, 2, 2, 2]
    passage = runs.passage.tolist()
    assert passage[0] == passage[1]
    assert passage[2] == passage[3]
    assert passage[0] != passage[2]


def test_find_runs_without_blocks() -> None:
    runs = find_runs(i64(), i64(), i64(0, 1), min_docs=2)
    assert runs.block_run.tolist() == []
    assert runs.first.tolist() == []


# --- tile_spans ----------------------------------------------------------------


def test_tile_spans_boilerplate_takes_the_white_space_between_its_blocks() -> None:
    # "aa\n\nbb\ncc\n": unique "aa", then one run over "bb" and "cc".
    spans = tile_spans(i64(0, 0, 0), i64(0, 4, 7), i64(2, 6, 9), i64(-1, 0, 0), i64(10))
    assert span_rows(spans) == [(0, 0, 4, -1), (0, 4, 10, 0)]


def test_tile_spans_white_space_between_two_runs_joins_the_first() -> None:
    # "aa\n\nbb": two different boilerplate runs.
    spans = tile_spans(i64(0, 0), i64(0, 4), i64(2, 6), i64(0, 1), i64(6))
    assert span_rows(spans) == [(0, 0, 4, 0), (0, 4, 6, 1)]


def test_tile_spans_leading_white_space_joins_the_first_run() -> None:
    # "  aa\nbb": boilerplate "aa", unique "bb".
    spans = tile_spans(i64(0, 0), i64(2, 5), i64(4, 7), i64(0, -1), i64(7))
    assert span_rows(spans) == [(0, 0, 4, 0), (0, 4, 7, -1)]


def test_tile_spans_white_space_next_to_unique_text_is_unique() -> None:
    # "aa\nbb\ncc": boilerplate, unique, boilerplate.
    spans = tile_spans(i64(0, 0, 0), i64(0, 3, 6), i64(2, 5, 8), i64(0, -1, 1), i64(9))
    assert span_rows(spans) == [(0, 0, 2, 0), (0, 2, 6, -1), (0, 6, 9, 1)]


def test_tile_spans_unique_blocks_merge_into_one_span() -> None:
    spans = tile_spans(i64(0, 0), i64(1, 4), i64(2, 6), i64(-1, -1), i64(8))
    assert span_rows(spans) == [(0, 0, 8, -1)]


def test_tile_spans_empty_and_white_space_only_documents() -> None:
    # Document 0 is "", document 1 is " \n ", document 2 has no blocks either.
    spans = tile_spans(i64(), i64(), i64(), i64(), i64(0, 3, 1))
    assert span_rows(spans) == [(1, 0, 3, -1), (2, 0, 1, -1)]


def test_tile_spans_documents_without_blocks_between_others() -> None:
    # Documents: "" | "  \n" | " ab \nc  " with "ab" unique and "c" boilerplate.
    spans = tile_spans(i64(2, 2), i64(1, 5), i64(3, 6), i64(-1, 4), i64(0, 3, 8))
    assert span_rows(spans) == [(1, 0, 3, -1), (2, 0, 5, -1), (2, 5, 8, 4)]


def test_tile_spans_block_filling_the_whole_document() -> None:
    spans = tile_spans(i64(0, 1), i64(0, 0), i64(3, 2), i64(0, -1), i64(3, 2))
    assert span_rows(spans) == [(0, 0, 3, 0), (1, 0, 2, -1)]


# --- evidence rules ----------------------------------------------------------


def test_prose_shared_by_two_documents_is_not_boilerplate() -> None:
    # A 30-word paragraph (cluster 5) quoted in two documents, between unique lines.
    doc = i64(0, 0, 0, 1, 1, 1)
    cluster = i64(1, 5, 2, 3, 5, 4)
    words = i64(3, 30, 3, 3, 30, 3)
    runs = find_runs(doc, cluster, i64(0, 1), words=words)
    assert runs.block_run.tolist() == [-1] * 6


def test_prose_shared_by_prose_min_docs_documents_is_boilerplate() -> None:
    doc = i64(0, 1, 2, 3)
    runs = find_runs(doc, i64(5, 5, 5, 5), i64(0, 1, 2, 3), words=i64(30, 30, 30, 30))
    assert (runs.block_run >= 0).all()
    assert runs.doc_count.tolist() == [4, 4, 4, 4]


def test_prose_in_a_run_with_a_short_shared_line_is_boilerplate() -> None:
    # A newsletter box: a short title line and a long description, in three documents.
    doc = i64(0, 0, 0, 1, 1, 1, 2, 2, 2)
    cluster = i64(1, 7, 8, 2, 7, 8, 3, 7, 8)
    words = i64(3, 5, 30, 3, 5, 30, 3, 5, 30)
    runs = find_runs(doc, cluster, i64(0, 1, 2), words=words)
    assert runs.block_run.tolist() == [-1, 0, 0, -1, 1, 1, -1, 2, 2]


def test_prose_in_a_run_of_two_documents_stays_unique() -> None:
    # Two articles of one story share a caption line and the quote after it:
    # the caption counts, the quote needs a third document.
    doc = i64(0, 0, 0, 1, 1, 1)
    cluster = i64(1, 7, 8, 2, 7, 8)
    words = i64(3, 5, 30, 3, 5, 30)
    runs = find_runs(doc, cluster, i64(0, 1), words=words)
    assert runs.block_run.tolist() == [-1, 0, -1, -1, 1, -1]


def test_short_line_across_groups_counts_but_prose_needs_its_group() -> None:
    # Two documents share a short menu line (cluster 1) and, after a unique
    # line, a quoted paragraph (cluster 5).
    doc = i64(0, 0, 0, 1, 1, 1)
    cluster = i64(1, 20, 5, 1, 21, 5)
    words = i64(2, 3, 30, 2, 3, 30)
    # Two sites: the menu line counts across sites, the paragraph does not.
    runs = find_runs(doc, cluster, i64(0, 1), words=words, user_group=i64(0, 1))
    assert runs.block_run.tolist() == [0, -1, -1, 1, -1, -1]
    # Both pages of one site: the same paragraph is that site's boilerplate.
    runs = find_runs(doc, cluster, i64(0, 1), words=words, user_group=i64(0, 0))
    assert runs.block_run.tolist() == [0, -1, 1, 2, -1, 3]


def test_a_common_line_alone_among_unique_lines_is_not_boilerplate() -> None:
    # `return None` (cluster 7) in the middle of four of five files, unique lines around it.
    doc = np.repeat(np.arange(5), 3)
    cluster = i64(10, 7, 11, 12, 7, 13, 14, 7, 15, 16, 7, 17, 18, 19, 20)
    runs = find_runs(doc, cluster, np.arange(5), common_fraction=0.5)
    assert (runs.block_run == -1).all()
    # Below the common share (4 of 5 < 0.9) it stays a shared line.
    runs = find_runs(doc, cluster, np.arange(5), common_fraction=0.9)
    assert (runs.block_run[cluster == 7] >= 0).all()
    # Below prose_min_docs documents a share means little: two of two files.
    runs = find_runs(doc[:6], cluster[:6], i64(0, 1), common_fraction=0.5)
    assert runs.block_run.tolist() == [-1, 0, -1, -1, 1, -1]


def test_a_common_line_first_or_last_in_its_document_is_still_boilerplate() -> None:
    # "Support us!" opens five of five documents: a banner, not structure.
    doc = np.repeat(np.arange(5), 2)
    cluster = i64(7, 10, 7, 11, 7, 12, 7, 13, 7, 14)
    runs = find_runs(doc, cluster, np.arange(5), common_fraction=0.5)
    assert runs.block_run.tolist() == [0, -1, 1, -1, 2, -1, 3, -1, 4, -1]


def test_a_menu_with_one_item_added_is_boilerplate_throughout() -> None:
    # Menu [A, B, C] then an article, in two documents; the second adds item x
    # between B and C. The sequences differ, so each item is its own passage,
    # and x, a short unique line between two of them, joins the one before.
    doc = i64(0, 0, 0, 0, 1, 1, 1, 1, 1)
    cluster = i64(1, 2, 3, 50, 1, 2, 99, 3, 51)
    words = i64(1, 1, 1, 30, 1, 1, 1, 1, 30)
    runs = find_runs(doc, cluster, i64(0, 1), words=words, absorb_words=8)
    assert runs.block_run.tolist() == [0, 1, 2, -1, 3, 4, -1, 5, -1]
    assert runs.span_run.tolist() == [0, 1, 2, -1, 3, 4, 4, 5, -1]
    # Blocks of one character, one newline apart.
    start = i64(0, 2, 4, 6, 0, 2, 4, 6, 8)
    spans = tile_spans(doc, start, start + 1, runs.span_run, i64(7, 9))
    assert [row for row in span_rows(spans) if row[0] == 1] == [
        (1, 0, 2, 3),
        (1, 2, 6, 4),
        (1, 6, 7, 5),
        (1, 7, 9, -1),
    ]
    # Turned off, x stays unique.
    runs = find_runs(doc, cluster, i64(0, 1), words=words, absorb_words=0)
    assert runs.span_run.tolist() == runs.block_run.tolist()


# --- passage_table -------------------------------------------------------------


def test_passage_table_counts_occurrences_and_documents() -> None:
    doc = i64(0, 0, 0, 1, 1, 2, 2)
    runs = Runs(
        block_run=i64(0, -1, 1, 2, 2, 3, 4),
        span_run=i64(0, -1, 1, 2, 2, 3, 4),
        first=i64(0, 2, 3, 5, 6),
        length=i64(1, 1, 2, 1, 1),
        passage=i64(50, 50, -7, 50, 10),
        doc_count=np.array([2, 2, 3, 2, 2], dtype=np.int32),
    )
    table = passage_table(runs, doc)
    # Most shared first, then by passage key.
    assert table.passage.tolist() == [-7, 10, 50]
    assert table.doc_count.tolist() == [3, 2, 2]
    assert table.n_occurrences.tolist() == [1, 1, 3]
    assert table.n_documents.tolist() == [1, 1, 2]
    # The representative is the first occurrence in document order.
    assert table.run.tolist() == [2, 4, 0]


def test_passage_table_of_no_runs() -> None:
    runs = find_runs(i64(0), i64(1), i64(0), min_docs=2)
    table = passage_table(runs, i64(0))
    assert table.passage.tolist() == []
    assert table.run.tolist() == []


# --- utf8_offsets --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "plain ascii", "é", "aé😀b", "日本語 text", "\u2028x\xa0y", "😀😀", "a\r\nü\n"],
)
def test_utf8_offsets_equal_the_length_of_the_encoded_prefix(text: str) -> None:
    positions = np.arange(len(text) + 1, dtype=np.int64)
    expected = [len(text[:i].encode("utf-8")) for i in range(len(text) + 1)]
    got = utf8_offsets(text, positions)
    assert got.dtype == np.int64
    assert got.tolist() == expected


def test_utf8_offsets_by_hand() -> None:
    # a: 1 byte, é: 2, 😀: 4, b: 1.
    assert utf8_offsets("aé😀b", i64(0, 1, 2, 3, 4)).tolist() == [0, 1, 3, 7, 8]
    assert utf8_offsets("aé😀b", i64(4, 2, 2)).tolist() == [8, 3, 3]


def test_utf8_offsets_of_ascii_do_not_alias_the_input() -> None:
    positions = i64(0, 2)
    got = utf8_offsets("abc", positions)
    got[0] = 99
    assert positions.tolist() == [0, 2]


def test_utf8_offsets_count_a_lone_surrogate_as_three_bytes() -> None:
    text = "a\udcff\u00e9"
    assert utf8_offsets(text, i64(0, 1, 2, 3)).tolist() == [0, 1, 4, 6]
    assert len(text.encode("utf-8", "surrogatepass")) == 6


@settings(max_examples=150, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1) | st.integers(-3, 3),
            # Members of a narrow range (counted by offset) and of any (by rank).
            st.integers(-3, 3) | st.integers(-(2**63), 2**63 - 1),
        ),
        max_size=200,
    )
)
def test_count_distinct_counts_and_hashes_each_keys_members(pairs: list[tuple[int, int]]) -> None:
    key = np.array([k for k, _ in pairs], dtype=np.int64)
    member = np.array([m for _, m in pairs], dtype=np.int64)
    counts, hashes = count_distinct(key, member)
    members: dict[int, set[int]] = {}
    for k, m in pairs:
        members.setdefault(k, set()).add(m)
    expected_hash = {
        k: int(np.sum(fmix64(np.array(sorted(ms), dtype=np.int64).astype(np.uint64) + GOLDEN)))
        for k, ms in members.items()
    }
    assert counts.tolist() == [len(members[k]) for k, _ in pairs]
    assert hashes.tolist() == [expected_hash[k] for k, _ in pairs]


def _passage_table_by_sort(runs: Runs, doc: np.ndarray) -> labels.Passages:
    """passage_table as it was before the partitioned summaries: one lexsort of all runs."""
    run_doc = doc[runs.first]
    order = np.lexsort((runs.first, runs.passage))
    keys = runs.passage[order]
    heads = np.flatnonzero(group_starts(keys)) if len(keys) else np.empty(0, np.int64)
    occurrences = np.diff(np.append(heads, len(keys)))
    new_doc = group_starts(keys, run_doc[order]) if len(keys) else np.empty(0, bool)
    n_documents = np.add.reduceat(new_doc.astype(np.int64), heads) if len(heads) else heads
    rep = order[heads]
    counts = runs.doc_count[rep]
    final = np.lexsort((keys[heads], -counts.astype(np.int64)))
    return labels.Passages(
        passage=keys[heads][final],
        doc_count=counts[final],
        n_occurrences=occurrences[final].astype(np.int64),
        n_documents=n_documents[final].astype(np.int64),
        run=rep[final],
    )


@settings(max_examples=100, deadline=None)
@given(
    blocks=st.lists(
        st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 3), st.integers(0, 1)),
        max_size=120,
    ),
    per_partition=st.sampled_from([1, 4, 1 << 13]),
)
def test_passage_table_equals_a_sort_of_all_runs(
    blocks: list[tuple[int, bool, int, int]], per_partition: int
) -> None:
    from dedup.core import fastops, keyed

    doc = np.cumsum([step for step, *_ in blocks], dtype=np.int64)
    repeated = np.array([b[1] for b in blocks], dtype=bool)
    cluster = np.array([b[2] for b in blocks], dtype=np.int64)  # few clusters: keys repeat
    support = np.array([b[3] for b in blocks], dtype=np.uint64)
    block_run = fastops.run_ids(doc, repeated, support, np.zeros(len(doc), dtype=bool))
    first, length, keys = fastops.run_keys(block_run, cluster)
    counts = (np.arange(len(first)) % 3).astype(np.int32)  # ties of doc_count too
    runs = Runs(block_run, block_run, first, length, keys, counts)
    saved = keyed._PER_PARTITION
    keyed._PER_PARTITION = per_partition
    try:
        ours = passage_table(runs, doc)
    finally:
        keyed._PER_PARTITION = saved
    want = _passage_table_by_sort(runs, doc)
    for field in ("passage", "doc_count", "n_occurrences", "n_documents", "run"):
        got, expected = getattr(ours, field), getattr(want, field)
        assert got.dtype == expected.dtype, field
        np.testing.assert_array_equal(got, expected, err_msg=field)


def test_accept_blocks_takes_the_blocks_groups_when_given() -> None:
    rng = np.random.default_rng(5)
    doc = np.sort(rng.integers(0, 30, 400)).astype(np.int64)
    cluster = rng.integers(0, 12, 400).astype(np.int64)
    words = rng.integers(1, 20, 400).astype(np.int64)
    doc_group = np.minimum(np.arange(30), rng.integers(0, 30, 30)).astype(np.int64)
    cfg = ScanConfig()
    for user_group in (None, (np.arange(30) % 3).astype(np.int64)):
        plain = labels.accept_blocks(doc, cluster, words, doc_group, user_group, cfg)
        given = labels.accept_blocks(
            doc, cluster, words, doc_group, user_group, cfg, doc_group[doc]
        )
        for a, b in zip(plain, given, strict=True):
            np.testing.assert_array_equal(a, b)
        assert plain[0].any()
    with pytest.raises(ValueError, match="399 near-duplicate groups for 400 blocks"):
        labels.accept_blocks(doc, cluster, words, doc_group, None, cfg, doc_group[doc][1:])
