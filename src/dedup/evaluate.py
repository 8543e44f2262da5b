"""Scoring span labels against gold labels, character by character.

The definitions follow `../shared/eval/score_spans.py`, the project's
yardstick: only non-whitespace characters are scored; a document in the gold
set without predictions counts as all unique; `content_kept` is the share of
characters the gold set does not mark as boilerplate that the prediction
leaves unique.

Gold formats read by `read_gold`, one JSON object per line:
    {"doc": "<id>", "boilerplate": [[start, end], ...]}          (dedup's own)
    {"file": "docs/<id>", "<field>": [[start, end], ...] | null}  (corpora labels)
A null span list means "no ground truth" and the document is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dedup.errors import InputError

Span = tuple[int, int]


@dataclass(frozen=True)
class CharCounts:
    """Non-whitespace characters by (gold, predicted) label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: CharCounts) -> CharCounts:
        return CharCounts(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def content_kept(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else 1.0


def _mask(length: int, spans: Iterable[Span]) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    for start, end in spans:
        mask[max(0, int(start)) : min(length, int(end))] = True
    return mask


def score_document(text: str, gold: Sequence[Span], predicted: Sequence[Span]) -> CharCounts:
    """Counts over the non-whitespace characters of one document."""
    scored = ~np.array([ch.isspace() for ch in text], dtype=bool)
    g = _mask(len(text), gold)[scored]
    p = _mask(len(text), predicted)[scored]
    return CharCounts(
        tp=int(np.sum(g & p)),
        fp=int(np.sum(~g & p)),
        fn=int(np.sum(g & ~p)),
        tn=int(np.sum(~g & ~p)),
    )


def read_gold(path: str | Path, field: str | None = None) -> dict[str, list[Span] | None]:
    """Gold spans by document id from a JSONL file in either format above.

    Raises:
        InputError: a line is not JSON or lacks a document name.
    """
    gold: dict[str, list[Span] | None] = {}
    for number, line in _lines(path):
        try:
            row = json.loads(line)
            doc = str(row["doc"]) if "doc" in row else _doc_name(row["file"])
            key = field or ("boilerplate" if "boilerplate" in row else "boilerplate_spans")
            spans = row.get(key)
            gold[doc] = None if spans is None else [(int(s), int(e)) for s, e in spans]
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{path}:{number}: not a gold line ({exc})", str(path)) from exc
    return gold


def _lines(path: str | Path) -> list[tuple[int, str]]:
    """Numbered non-blank lines of a JSONL file; InputError when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [(n, line) for n, line in enumerate(handle, 1) if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the labels ({exc})", str(path)) from exc


@dataclass(frozen=True)
class PairCounts:
    """Near-duplicate pairs: predicted (same cluster) against gold pairs."""

    predicted: int
    gold: int
    correct: int
    negatives: int = 0
    negatives_merged: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _doc_name(value: str) -> str:
    path = Path(value)
    return path.relative_to("docs").as_posix() if path.parts[:1] == ("docs",) else value


def read_pairs(path: str | Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(duplicate pairs, labelled non-duplicate pairs), each pair sorted.

    Reads {"a", "b", "duplicate"} lines (a missing "duplicate" means true) or
    {"file", "cluster"} lines, where every two files of a cluster are a pair.
    Names may carry the corpora's "docs/" prefix.
    """
    positives: set[tuple[str, str]] = set()
    negatives: set[tuple[str, str]] = set()
    clusters: dict[str, list[str]] = {}
    for number, line in _lines(path):
        try:
            row = json.loads(line)
            if "cluster" in row:
                clusters.setdefault(str(row["cluster"]), []).append(_doc_name(row["file"]))
                continue
            a, b = sorted((_doc_name(row["a"]), _doc_name(row["b"])))
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{path}:{number}: not a pair line ({exc})", str(path)) from exc
        (positives if row.get("duplicate", True) else negatives).add((a, b))
    for members in clusters.values():
        ordered = sorted(members)
        positives.update((x, y) for i, x in enumerate(ordered) for y in ordered[i + 1 :])
    return positives, negatives


def score_pairs(
    cluster_of: dict[str, object],
    positives: set[tuple[str, str]],
    negatives: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
) -> PairCounts:
    """Pairwise counts; `cluster_of` maps every document id to its cluster.

    Predicted pairs are every two documents of one cluster, among the
    documents that occur in the gold pairs.
    """
    known = {d for pair in positives | negatives for d in pair}
    members: dict[object, list[str]] = {}
    for doc, cluster in cluster_of.items():
        if doc in known:
            members.setdefault(cluster, []).append(doc)
    predicted = {
        (x, y)
        for group in members.values()
        for i, x in enumerate(sorted(group))
        for y in sorted(group)[i + 1 :]
    }
    return PairCounts(
        predicted=len(predicted),
        gold=len(positives),
        correct=len(predicted & positives),
        negatives=len(negatives),
        negatives_merged=len(predicted & negatives),
    )


@dataclass(frozen=True)
class Evaluation:
    """Scores of one scan: characters against gold spans, pairs against gold pairs."""

    chars: CharCounts | None
    pairs: PairCounts | None
    documents: int
    missing: int


def evaluate_scan(
    scan_dir: str | Path,
    docs_dir: str | Path,
    gold: str | Path | None = None,
    field: str | None = None,
    pairs: str | Path | None = None,
) -> Evaluation:
    """Score the tables in `scan_dir` for the documents in `docs_dir`.

    Raises:
        InputError: a table, gold file or document is missing or unreadable.
    """
    import pyarrow.parquet as pq

    scan_dir, docs_dir = Path(scan_dir), Path(docs_dir)
    for name in ("spans.parquet", "documents.parquet"):
        if not (scan_dir / name).exists():
            raise InputError(f"{scan_dir / name}: missing; run dedup scan first", str(scan_dir))
    chars: CharCounts | None = None
    documents = missing = 0
    if gold is not None:
        spans = pq.read_table(scan_dir / "spans.parquet", columns=["id", "start", "end", "label"])
        predicted: dict[str, list[Span]] = {}
        seen = set(spans.column("id").to_pylist())
        for row in spans.to_pylist():
            if row["label"] == "boilerplate":
                predicted.setdefault(row["id"], []).append((row["start"], row["end"]))
        chars = CharCounts()
        for doc, spans_gold in read_gold(gold, field).items():
            if spans_gold is None:
                continue
            path = docs_dir / doc
            try:
                # As scan's default: bytes that are not UTF-8 became U+FFFD.
                text = path.read_bytes().decode("utf-8", errors="replace")
            except OSError as exc:
                raise InputError(f"{path}: cannot read the document ({exc})", str(path)) from exc
            documents += 1
            missing += doc not in seen
            chars += score_document(text, spans_gold, predicted.get(doc, []))
    pair_counts: PairCounts | None = None
    if pairs is not None:
        table = pq.read_table(scan_dir / "documents.parquet", columns=["id", "near_dup_cluster"])
        cluster_of: dict[str, object] = {
            row["id"]: row["near_dup_cluster"] if row["near_dup_cluster"] is not None else row["id"]
            for row in table.to_pylist()
        }
        pair_counts = score_pairs(cluster_of, *read_pairs(pairs))
    return Evaluation(chars, pair_counts, documents, missing)
