"""The HTML renderer on hand-made report data: folding, notes, escaping of diffs."""

from __future__ import annotations

from dedup.html_report import render_html
from dedup.report import (
    Cluster,
    ClusterView,
    DiffRow,
    DocumentView,
    Headline,
    Passage,
    PassageRow,
    ReportData,
    ReportLimits,
    Segment,
)


def _data(**changes: object) -> ReportData:
    ids = [f"d{i}" for i in range(8)]
    passage = Passage(42, 8, 8, 9, "Short banner", "d0", 0, 12)
    fields: dict[str, object] = {
        "title": "dedup report: t",
        "headline": Headline(20, 1_000, 250, 1, 0, 0, 0),
        "config": {"ngram": 5, "normalize": {"casefold": True}},
        "histogram": [20, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "passages": [PassageRow(1, passage, ids, 0)],
        "documents": [
            DocumentView(
                d, 20, 0.6, None, [Segment("Short banner", 42, 8, 1.0), Segment(" x")], False
            )
            for d in ids
        ],
        "clusters": [],
        "n_clusters": 0,
        "limits": ReportLimits(),
    }
    fields.update(changes)
    return ReportData(**fields)  # type: ignore[arg-type]


def test_long_link_lists_fold_and_short_texts_get_no_full_text_box() -> None:
    page = render_html(_data())
    assert page.count('href="#doc-') == 8
    assert "<summary>3 more on this page</summary>" in page
    assert "full text" not in page
    assert "normalize.casefold=true" in page
    assert "Showing a sample of 8 of 20 documents" in page
    assert 'title="passage #1 (id 42) · in 8 documents · score 1.00"' in page


def test_empty_sections_say_so() -> None:
    page = render_html(_data(passages=[], headline=Headline(8, 160, 0, 0, 0, 0, 0)))
    assert "No boilerplate passage was found." in page
    assert "No near-duplicate documents were found." in page
    assert "All 8 documents are shown." in page


def test_diffs_escape_text_and_mark_changed_words() -> None:
    view = ClusterView(
        Cluster(7, "d0", ["d1"]),
        "d1",
        [
            DiffRow("skip", skipped=4),
            DiffRow("replace", 5, "a <b> c", 5, "a <i> c"),
            DiffRow("insert", None, None, 6, "new & line"),
            DiffRow("skip"),
        ],
    )
    page = render_html(_data(clusters=[view], n_clusters=1))
    assert "… 4 unchanged lines …" in page
    assert "a <del>&lt;b&gt;</del> c" in page
    assert "a <ins>&lt;i&gt;</ins> c" in page
    assert "new &amp; line" in page
    assert "… diff cut here …" in page
    assert "1 cluster;" in page
