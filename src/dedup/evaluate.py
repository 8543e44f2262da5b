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
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if "doc" in row:
                    doc = str(row["doc"])
                else:
                    doc = Path(row["file"]).relative_to("docs").as_posix()
            except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
                raise InputError(f"{path}:{number}: not a gold line ({exc})", str(path)) from exc
            key = field or ("boilerplate" if "boilerplate" in row else "boilerplate_spans")
            spans = row.get(key)
            gold[doc] = None if spans is None else [(int(s), int(e)) for s, e in spans]
    return gold
