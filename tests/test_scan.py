"""Golden tests of a whole scan: the seed articles against hand-made gold labels."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dedup import ScanConfig, scan

SEED_002 = "002_a3aad72eae653e04.txt"
NEAR_COPY = "005_near_copy_of_002.txt"
# Gold offsets of document 002: the site header ends and the newsletter box begins.
BODY_002 = (25, 2127)
APPEAL_OPENING = "A Message from The Moscow Times:"


def _rows(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def _mask(length: int, spans: list[tuple[int, int]]) -> bytearray:
    mask = bytearray(length)
    for start, end in spans:
        start, end = max(0, start), min(length, end)
        if end > start:
            mask[start:end] = b"\x01" * (end - start)
    return mask


def score(
    docs: Path, gold: dict[str, list[tuple[int, int]]], spans: Path
) -> tuple[float, float, int]:
    """(F1, content_kept, missing documents), as ../shared/eval/score_spans.py counts them.

    Character level over the non-white-space characters of each gold document;
    content_kept is the share of gold non-boilerplate characters left unique.
    """
    predicted: dict[str, list[tuple[int, int]]] = defaultdict(list)
    seen: set[str] = set()
    for row in _rows(spans):
        seen.add(str(row["id"]))
        if row["label"] == "boilerplate":
            predicted[str(row["id"])].append((int(row["start"]), int(row["end"])))
    tp = fp = fn = tn = 0
    for doc, gold_spans in gold.items():
        text = (docs / doc).read_text(encoding="utf-8")
        g, p = _mask(len(text), gold_spans), _mask(len(text), predicted[doc])
        for i, ch in enumerate(text):
            if ch.isspace():
                continue
            tp += g[i] and p[i]
            fp += p[i] and not g[i]
            fn += g[i] and not p[i]
            tn += not g[i] and not p[i]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    kept = tn / (tn + fp) if tn + fp else 1.0
    return f1, kept, len(set(gold) - seen)


def test_scorer_counts_a_wrong_label(
    tmp_path: Path, seeds_dir: Path, seeds_out: Path, gold
) -> None:
    """The scorer itself can fail: every span relabelled boilerplate loses content."""
    table = pq.read_table(seeds_out / "spans.parquet")
    bad = table.set_column(
        table.schema.get_field_index("label"),
        "label",
        [["boilerplate"] * table.num_rows],
    )
    pq.write_table(bad, tmp_path / "spans.parquet")
    f1, kept, _ = score(seeds_dir, gold, tmp_path / "spans.parquet")
    assert kept == 0.0
    assert f1 < 0.99


def test_seeds_match_gold(seeds_dir: Path, seeds_out: Path, gold) -> None:
    f1, kept, missing = score(seeds_dir, gold, seeds_out / "spans.parquet")
    assert missing == 0
    assert f1 >= 0.99
    assert kept == 1.0


def _near_copy(text: str) -> tuple[str, tuple[int, int]]:
    """Document 002 with one body sentence changed and one body paragraph dropped.

    Returns the new text and the [start, end) offsets of its body.
    """
    start, end = BODY_002
    paragraphs = text[start:end].split("\n\n")
    dropped = paragraphs.pop(7)
    if not dropped.startswith("Syria was also high on"):
        pytest.fail(f"{SEED_002} changed; pick another paragraph to drop")
    old = "Islamic State now controls large swathes of\xa0Syria and\xa0the neighboring Iraq."
    new = "By then the group held wide areas of Syria and of neighbouring Iraq as well."
    body = "\n\n".join(paragraphs)
    if body.count(old) != 1:
        pytest.fail(f"{SEED_002} changed; pick another sentence to change")
    body = body.replace(old, new)
    return text[:start] + body + text[end:], (start, start + len(body))


@pytest.fixture
def near_copy_out(tmp_path: Path, seeds_copy: Path) -> tuple[Path, Path, tuple[int, int]]:
    """Seeds plus a near-copy of 002; (inputs, output, body offsets of the copy)."""
    original = (seeds_copy / SEED_002).read_text(encoding="utf-8")
    copy_text, copy_body = _near_copy(original)
    (seeds_copy / NEAR_COPY).write_text(copy_text, encoding="utf-8")
    out = tmp_path / "out"
    scan([seeds_copy], out, ScanConfig())
    return seeds_copy, out, copy_body


def test_near_copy_is_clustered_with_its_original(near_copy_out) -> None:
    _, out, _ = near_copy_out
    docs = {row["id"]: row for row in _rows(out / "documents.parquet")}
    original, copy = docs[SEED_002], docs[NEAR_COPY]
    assert original["near_dup_cluster"] is not None
    assert original["near_dup_cluster"] == copy["near_dup_cluster"]
    assert original["is_representative"] is True
    assert copy["is_representative"] is False
    others = [row for doc, row in docs.items() if doc not in (SEED_002, NEAR_COPY)]
    assert all(row["near_dup_cluster"] is None for row in others)
    assert all(row["is_representative"] for row in others)
    # Six documents hold the appeal, but the pair counts once.
    appeal = _rows(out / "passages.parquet")[0]
    assert str(appeal["text"]).startswith(APPEAL_OPENING)
    assert (appeal["doc_count"], appeal["n_documents"]) == (5, 6)


def _non_space_labels(text: str, rows: list[dict[str, object]], lo: int, hi: int) -> set[str]:
    labels = [""] * len(text)
    for row in rows:
        for i in range(int(row["start"]), int(row["end"])):
            labels[i] = str(row["label"])
    return {labels[i] for i in range(lo, hi) if not text[i].isspace()}


def test_near_copy_keeps_the_article_body_unique(near_copy_out) -> None:
    """A cluster counts once: the body shared by the pair is not boilerplate."""
    inputs, out, copy_body = near_copy_out
    spans = _rows(out / "spans.parquet")
    for doc, (lo, hi) in ((SEED_002, BODY_002), (NEAR_COPY, copy_body)):
        text = (inputs / doc).read_text(encoding="utf-8")
        rows = [row for row in spans if row["id"] == doc]
        assert _non_space_labels(text, rows, lo, hi) == {"unique"}, doc
        # The site's furniture stays boilerplate in both.
        assert _non_space_labels(text, rows, 0, lo) == {"boilerplate"}, doc
        assert _non_space_labels(text, rows, hi, len(text)) == {"boilerplate"}, doc


def test_appeal_is_the_top_passage(seeds_dir: Path, seeds_out: Path) -> None:
    passages = _rows(seeds_out / "passages.parquet")
    top = passages[0]
    assert str(top["text"]).startswith(APPEAL_OPENING)
    assert str(top["text"]).endswith("Remind me later.\n\nRead more")
    assert top["doc_count"] == 5
    assert top["n_documents"] == 5
    assert top["n_occurrences"] == 5
    counts = [int(p["doc_count"]) for p in passages]
    assert counts == sorted(counts, reverse=True)
    assert sum(APPEAL_OPENING in str(p["text"]) for p in passages) == 1
    for p in passages:
        text = (seeds_dir / str(p["id"])).read_text(encoding="utf-8")
        assert text[int(p["start"]) : int(p["end"])] == p["text"]


def test_documents_agree_with_spans(seeds_dir: Path, seeds_out: Path) -> None:
    spans = _rows(seeds_out / "spans.parquet")
    documents = _rows(seeds_out / "documents.parquet")
    assert [d["id"] for d in documents] == sorted(p.name for p in seeds_dir.iterdir())
    for doc in documents:
        text = (seeds_dir / str(doc["id"])).read_text(encoding="utf-8")
        rows = [r for r in spans if r["id"] == doc["id"]]
        # Spans tile the document: contiguous, from 0 to its length.
        bounds = [(int(r["start"]), int(r["end"])) for r in rows]
        assert bounds[0][0] == 0
        assert bounds[-1][1] == len(text) == doc["n_chars"]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        boiler = sum(
            e - s for (s, e), r in zip(bounds, rows, strict=True) if r["label"] == "boilerplate"
        )
        assert doc["boilerplate_chars"] == boiler
        assert doc["boilerplate_fraction"] == pytest.approx(boiler / len(text))


def test_span_passages_exist_with_their_doc_count(seeds_out: Path) -> None:
    passages = {p["passage_id"]: p for p in _rows(seeds_out / "passages.parquet")}
    for row in _rows(seeds_out / "spans.parquet"):
        if row["label"] == "unique":
            assert row["passage_id"] is None and row["doc_count"] is None
        else:
            assert row["label"] == "boilerplate"
            assert passages[row["passage_id"]]["doc_count"] == row["doc_count"]


@pytest.mark.parametrize("with_seeds", [True, False], ids=["beside articles", "alone"])
def test_empty_documents_get_a_row_and_no_span(
    tmp_path: Path, seeds_copy: Path, with_seeds: bool
) -> None:
    """An empty document is valid input: a documents row, no span, nothing shared."""
    docs = seeds_copy if with_seeds else tmp_path / "empties"
    docs.mkdir(exist_ok=True)
    for name in ("empty_1.txt", "empty_2.txt"):
        (docs / name).write_bytes(b"")
    summary = scan([docs], tmp_path / "out", ScanConfig())
    assert summary.n_documents == (7 if with_seeds else 2)
    rows = {r["id"]: r for r in _rows(tmp_path / "out" / "documents.parquet")}
    for name in ("empty_1.txt", "empty_2.txt"):
        assert rows[name]["n_chars"] == 0
        assert rows[name]["boilerplate_fraction"] == 0.0
        assert rows[name]["near_dup_cluster"] is None
    spans = _rows(tmp_path / "out" / "spans.parquet")
    assert not [r for r in spans if str(r["id"]).startswith("empty_")]
