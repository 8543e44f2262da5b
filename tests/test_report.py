"""The report's pure figures: histogram, sample, segments, diffs, clusters (no files)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup import ConfigError
from dedup.report import (
    DiffRow,
    ReportLimits,
    Span,
    clusters,
    headline,
    histogram,
    line_diff,
    sample_documents,
    segments,
    word_changes,
)


def test_histogram_bins_are_half_open_and_the_last_holds_one() -> None:
    fractions = np.array([0.0, 0.05, 0.1, 0.45, 0.999, 1.0])
    assert histogram(fractions, bins=10) == [2, 1, 0, 0, 1, 0, 0, 0, 0, 2]
    assert histogram(np.array([]), bins=4) == [0, 0, 0, 0]
    with pytest.raises(ConfigError):
        histogram(fractions, bins=0)


def test_headline_counts_clusters_once() -> None:
    h = headline(
        n_chars=np.array([10, 20, 30, 40]),
        boilerplate_chars=np.array([5, 0, 30, 5]),
        cluster=np.array([7, 0, 7, 9]),
        in_cluster=np.array([True, False, True, False]),
        n_passages=3,
        n_problems=1,
    )
    assert (h.n_documents, h.n_chars, h.boilerplate_chars) == (4, 100, 40)
    assert (h.n_clusters, h.n_near_dup_documents) == (1, 2)
    assert h.boilerplate_share == pytest.approx(0.4)


def test_everything_is_shown_when_it_fits() -> None:
    ids = ["c", "a", "b"]
    assert sample_documents(ids, [1, 2, 3], [], 10, 100, 100) == ["a", "b", "c"]


def test_the_sample_takes_linked_documents_first_and_respects_both_caps() -> None:
    ids = [f"d{i:03}" for i in range(100)]
    sizes = [10] * 100
    picked = sample_documents(ids, sizes, ["d050", "d007", "nope"], 5, 1_000, 100)
    assert len(picked) == 5
    assert {"d050", "d007"} <= set(picked)
    assert picked == sorted(picked)
    by_chars = sample_documents(ids, sizes, [], 100, 35, 100)
    assert len(by_chars) == 3


def test_the_sample_is_the_same_whatever_the_order_of_the_rows() -> None:
    ids = [f"doc-{i}" for i in range(50)]
    once = sample_documents(ids, [1] * 50, [], 7, 1_000, 10)
    again = sample_documents(ids[::-1], [1] * 50, [], 7, 1_000, 10)
    assert once == again


def test_one_huge_document_is_still_shown_cut_to_its_share() -> None:
    assert sample_documents(["big", "small"], [10**9, 5], ["big"], 10, 100, 50) == [
        "big",
        "small",
    ]


def test_segments_follow_the_spans_and_stop_at_the_limit() -> None:
    text = "head\nbody text\nfoot"
    spans = [Span(0, 5, 11, 3, 1.0), Span(5, 15), Span(15, 19, 12, 2, 0.8)]
    cut = segments(text, spans, limit=100)
    assert [(s.text, s.passage_id) for s in cut] == [
        ("head\n", 11),
        ("body text\n", None),
        ("foot", 12),
    ]
    assert [s.text for s in segments(text, spans, limit=7)] == ["head\n", "bo"]


@given(
    text=st.text(max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
    limit=st.integers(min_value=0, max_value=80),
)
def test_segments_never_lose_or_add_a_character(text: str, cuts: list[int], limit: int) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    spans = [
        Span(a, b, passage_id=i if i % 2 else None)
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]
    # Every other span dropped: gaps must come back as unique text.
    assert "".join(s.text for s in segments(text, spans[::2], limit)) == text[:limit]
    assert "".join(s.text for s in segments(text, spans, limit)) == text[:limit]


def test_line_diff_pairs_changed_lines_and_skips_long_equal_runs() -> None:
    left = "\n".join(f"line {i}" for i in range(20))
    right = left.replace("line 10", "line ten") + "\nadded"
    rows = line_diff(left, right, context=1)
    kinds = [r.kind for r in rows]
    assert kinds == ["skip", "equal", "replace", "equal", "skip", "equal", "insert"]
    assert rows[0] == DiffRow("skip", skipped=9)
    assert rows[2] == DiffRow("replace", 11, "line 10", 11, "line ten")
    assert rows[-1] == DiffRow("insert", None, None, 21, "added")
    assert line_diff(left, left) == []


def test_line_diff_is_cut_at_its_row_limit() -> None:
    left = "\n".join(f"a{i}" for i in range(50))
    right = "\n".join(f"b{i}" for i in range(50))
    rows = line_diff(left, right, max_rows=10)
    assert len(rows) == 11
    assert rows[-1] == DiffRow("skip")


def test_word_changes_mark_what_differs_and_keep_every_character() -> None:
    a, b = word_changes("agree to the  Privacy Policy", "agree to a  Privacy Policy now")
    assert a == [("agree to ", False), ("the", True), ("  Privacy Policy", False)]
    assert b == [("agree to ", False), ("a", True), ("  Privacy Policy", False), (" now", True)]


def test_clusters_largest_first_with_their_representative() -> None:
    ids = ["a", "b", "c", "d", "e", "f"]
    found = clusters(
        ids,
        cluster=np.array([1, 2, 1, 0, 2, 2]),
        in_cluster=np.array([True, True, True, False, True, True]),
        is_representative=np.array([True, True, False, True, False, False]),
    )
    assert [(c.cluster_id, c.representative, c.members) for c in found] == [
        (2, "b", ["e", "f"]),
        (1, "a", ["c"]),
    ]
    unflagged = clusters(["x", "w"], np.array([3, 3]), np.array([True, True]), np.zeros(2, bool))
    assert [(c.representative, c.members) for c in unflagged] == [("w", ["x"])]


@pytest.mark.parametrize("field", ["max_docs", "max_chars", "doc_chars", "passages", "clusters"])
def test_report_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        ReportLimits(**{field: 0})
    with pytest.raises(ConfigError, match=field):
        ReportLimits(**{field: True})
