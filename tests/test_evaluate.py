"""The scorer: same definitions as ../shared/eval/score_spans.py, checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedup.errors import InputError
from dedup.evaluate import CharCounts, read_gold, score_document


def test_only_non_whitespace_characters_count() -> None:
    text = "ab cd\nef"
    # gold: "ab cd" ; predicted: "cd\nef" -> tp c,d ; fn a,b ; fp e,f
    counts = score_document(text, [(0, 5)], [(3, 8)])
    assert counts == CharCounts(tp=2, fp=2, fn=2, tn=0)
    assert counts.precision == counts.recall == counts.f1 == 0.5
    assert counts.content_kept == 0.0


def test_no_prediction_keeps_all_content() -> None:
    counts = score_document("hello world", [(0, 5)], [])
    assert counts == CharCounts(tp=0, fp=0, fn=5, tn=5)
    assert counts.content_kept == 1.0 and counts.recall == 0.0 and counts.precision == 1.0


def test_spans_are_clipped_to_the_text() -> None:
    assert score_document("abc", [(-5, 99)], [(2, 50)]) == CharCounts(tp=1, fp=0, fn=2, tn=0)


def test_counts_add_up() -> None:
    total = CharCounts(1, 2, 3, 4) + CharCounts(10, 20, 30, 40)
    assert total == CharCounts(11, 22, 33, 44)


def test_read_gold_reads_both_formats_and_skips_null(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    rows = [
        {"doc": "a.txt", "boilerplate": [[0, 3]]},
        {"file": "docs/sub/b.txt", "boilerplate_spans": [[1, 2], [4, 6]]},
        {"file": "docs/c.txt", "boilerplate_spans": None},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    assert read_gold(path) == {"a.txt": [(0, 3)], "sub/b.txt": [(1, 2), (4, 6)], "c.txt": None}


def test_read_gold_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text('{"doc": "a", "boilerplate": []}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"gold\.jsonl:2"):
        read_gold(path)
