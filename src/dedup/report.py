"""What a report shows, computed from plain values: no files, no Arrow, no HTML.

The figures of `dedup report`, `show` and `passages` come from these pure
functions over lists and numpy arrays (the histogram of boilerplate
fractions, the deterministic sample of documents, the segments to
highlight, the line diff of a near-duplicate against its representative);
`dedup.results` reads the tables into these records, `dedup.report_runner`
wires the steps, and the renderers (`html_report`, `terminal`) only draw.

Offsets are half-open code-point offsets, as in the tables: `text[start:end]`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from dedup.errors import ConfigError

_TOKENS = re.compile(r"\s+|\S+")


@dataclass(frozen=True)
class ReportLimits:
    """How much a report shows, so that it opens quickly whatever the corpus size.

    Attributes:
        max_docs: documents shown in full (a deterministic sample beyond that).
        max_chars: characters of document text in the whole page.
        doc_chars: characters shown of one document (the rest is cut, and says so).
        passages: top passages listed.
        passage_chars: characters shown of one passage's text.
        clusters: near-duplicate clusters listed, each with one diff.
        diff_rows: rows of one diff.
    """

    max_docs: int = 200
    max_chars: int = 2_000_000
    doc_chars: int = 50_000
    passages: int = 25
    passage_chars: int = 3_000
    clusters: int = 20
    diff_rows: int = 300

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(
                    f"report limit {name!r} must be a positive integer, got {value!r}"
                )


@dataclass(frozen=True)
class Span:
    """One labelled span of a document; the passage fields are None for unique text."""

    start: int
    end: int
    passage_id: int | None = None
    doc_count: int | None = None
    score: float | None = None

    @property
    def boilerplate(self) -> bool:
        return self.passage_id is not None


@dataclass(frozen=True)
class Passage:
    """A row of passages.parquet: counts and its representative occurrence."""

    passage_id: int
    doc_count: int
    n_documents: int
    n_occurrences: int
    text: str
    id: str
    start: int
    end: int


@dataclass(frozen=True)
class Headline:
    """The figures at the top of a report."""

    n_documents: int
    n_chars: int
    boilerplate_chars: int
    n_passages: int
    n_clusters: int
    n_near_dup_documents: int
    n_problems: int

    @property
    def boilerplate_share(self) -> float:
        return self.boilerplate_chars / self.n_chars if self.n_chars else 0.0


def headline(
    n_chars: np.ndarray,
    boilerplate_chars: np.ndarray,
    cluster: np.ndarray,
    in_cluster: np.ndarray,
    n_passages: int,
    n_problems: int,
) -> Headline:
    """Totals over documents: per-document int64 counts, cluster ids where `in_cluster`."""
    return Headline(
        n_documents=len(n_chars),
        n_chars=int(n_chars.sum()),
        boilerplate_chars=int(boilerplate_chars.sum()),
        n_passages=n_passages,
        n_clusters=len(np.unique(cluster[in_cluster])),
        n_near_dup_documents=int(in_cluster.sum()),
        n_problems=n_problems,
    )


def histogram(fractions: np.ndarray, bins: int = 10) -> list[int]:
    """Documents per boilerplate-fraction bin: bin i is [i/bins, (i+1)/bins), the last holds 1.0."""
    if bins < 1:
        raise ConfigError(f"histogram bins must be at least 1, got {bins}")
    index = np.clip((np.asarray(fractions, dtype=np.float64) * bins).astype(np.int64), 0, bins - 1)
    return [int(c) for c in np.bincount(index, minlength=bins)]


def _shuffle_key(doc_id: str) -> bytes:
    # A hash of the id alone: the pick does not depend on the order of the
    # rows or on the other documents, so adding files keeps earlier picks.
    return hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()


def sample_documents(
    ids: Sequence[str],
    n_chars: Sequence[int],
    first: Sequence[str],
    max_docs: int,
    max_chars: int,
    doc_chars: int,
) -> list[str]:
    """Ids of the documents a report shows, sorted; all of them when they fit.

    `first` (documents a passage or diff links to) are taken first, in their
    order, then the others in a fixed pseudo-random order (a hash of the
    id), until `max_docs` documents or `max_chars` characters (each document
    counted up to `doc_chars`) are reached. The first document is always
    taken, whatever its size. Unknown ids in `first` are ignored.
    """
    length = dict(zip(ids, (int(n) for n in n_chars), strict=True))
    wanted = list(dict.fromkeys(d for d in first if d in length))
    chosen = set(wanted)
    rest = sorted((d for d in ids if d not in chosen), key=_shuffle_key)
    picked: list[str] = []
    used = 0
    for doc in wanted + rest:
        size = min(length[doc], doc_chars)
        if picked and (len(picked) >= max_docs or used + size > max_chars):
            break
        picked.append(doc)
        used += size
    return sorted(picked)


@dataclass(frozen=True)
class Segment:
    """A run of text to draw: boilerplate when `passage_id` is set."""

    text: str
    passage_id: int | None = None
    doc_count: int | None = None
    score: float | None = None


def segments(text: str, spans: Sequence[Span], limit: int) -> list[Segment]:
    """The first `limit` characters of `text` cut at span bounds, unique text plain.

    Spans cover a document in order; any gap between them (there is none in
    a well-formed table) is drawn as unique text, so no character is lost.
    """
    shown = min(len(text), limit)
    out: list[Segment] = []
    at = 0
    for span in sorted(spans, key=lambda s: s.start):
        start, end = max(span.start, at), min(span.end, shown)
        if start >= shown:
            break
        if start > at:
            out.append(Segment(text[at:start]))
        if end > start:
            out.append(Segment(text[start:end], span.passage_id, span.doc_count, span.score))
            at = end
    if at < shown:
        out.append(Segment(text[at:shown]))
    return out


DiffKind = Literal["equal", "replace", "delete", "insert", "skip"]


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff; line numbers are 1-based, None where a side is empty.

    A "skip" row stands for `skipped` equal lines left out (or, with no line
    numbers, for the rest of a diff cut at its row limit).
    """

    kind: DiffKind
    left_no: int | None = None
    left: str | None = None
    right_no: int | None = None
    right: str | None = None
    skipped: int = 0


def line_diff(
    left: str, right: str, context: int = 2, max_rows: int = 300, max_lines: int = 5_000
) -> list[DiffRow]:
    """Side-by-side rows of a line diff of `right` against `left`.

    Unchanged stretches longer than `context` lines on each side of a change
    become one "skip" row. Each side is cut at `max_lines` lines (the
    matcher's cost grows with their product) and the result at `max_rows`.
    """
    a, b = left.splitlines()[:max_lines], right.splitlines()[:max_lines]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    rows: list[DiffRow] = []
    at_a = 0
    for group in matcher.get_grouped_opcodes(context):
        first = group[0]
        if first[1] > at_a:
            rows.append(DiffRow("skip", skipped=first[1] - at_a))
        for tag, i1, i2, j1, j2 in group:
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                rows.append(
                    DiffRow(
                        tag,  # type: ignore[arg-type]  # difflib's tags are DiffKind's
                        i + 1 if i < i2 else None,
                        a[i] if i < i2 else None,
                        j + 1 if j < j2 else None,
                        b[j] if j < j2 else None,
                    )
                )
        at_a = group[-1][2]
    if rows and at_a < len(a):
        rows.append(DiffRow("skip", skipped=len(a) - at_a))
    if len(rows) > max_rows:
        rows = [*rows[:max_rows], DiffRow("skip")]
    return rows


def word_changes(left: str, right: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Both lines cut into (piece, changed) runs: what a changed line pair differs in.

    Words and the white space between them are compared as separate tokens,
    so joining a side's pieces gives its line back exactly.
    """
    a, b = _words(left), _words(right)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    out_a: list[tuple[str, bool]] = []
    out_b: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = tag != "equal"
        if i2 > i1:
            out_a.append(("".join(a[i1:i2]), changed))
        if j2 > j1:
            out_b.append(("".join(b[j1:j2]), changed))
    return out_a, out_b


def _words(line: str) -> list[str]:
    """`line` as alternating runs of non-space and space characters."""
    return _TOKENS.findall(line)


@dataclass(frozen=True)
class Cluster:
    """A near-duplicate cluster: its representative and the other members, sorted."""

    cluster_id: int
    representative: str
    members: list[str]


def clusters(
    ids: Sequence[str], cluster: np.ndarray, in_cluster: np.ndarray, is_representative: np.ndarray
) -> list[Cluster]:
    """Every near-duplicate cluster, largest first, then by representative id.

    Per-document arrays: cluster ids (meaningful where `in_cluster`) and the
    scan's representative flags.
    """
    rows_of: dict[int, list[int]] = {}
    for row in np.flatnonzero(in_cluster).tolist():
        rows_of.setdefault(int(cluster[row]), []).append(row)
    out = []
    for key, rows in rows_of.items():
        flagged = [r for r in rows if is_representative[r]]
        # The scan flags the smallest id; a table without the flag gets the same.
        rep = flagged[0] if flagged else min(rows, key=lambda r: ids[r])
        out.append(Cluster(key, ids[rep], sorted(ids[r] for r in rows if r != rep)))
    out.sort(key=lambda c: (-len(c.members), c.representative))
    return out


@dataclass(frozen=True)
class DocumentView:
    """A document as shown: its figures and its text cut into segments."""

    id: str
    n_chars: int
    boilerplate_fraction: float
    cluster_id: int | None
    segments: list[Segment]
    truncated: bool


@dataclass(frozen=True)
class PassageRow:
    """A top passage with the shown documents that contain it."""

    rank: int
    passage: Passage
    documents: list[str]
    n_not_shown: int


@dataclass(frozen=True)
class ClusterView:
    """A cluster with the diff of one member against its representative."""

    cluster: Cluster
    member: str | None
    diff: list[DiffRow]


@dataclass(frozen=True)
class ReportData:
    """Everything a rendered report shows; `sampled` when not every document is shown."""

    title: str
    headline: Headline
    config: dict[str, Any]
    histogram: list[int]
    passages: list[PassageRow]
    documents: list[DocumentView]
    clusters: list[ClusterView]
    n_clusters: int
    limits: ReportLimits = field(default_factory=ReportLimits)

    @property
    def sampled(self) -> bool:
        return len(self.documents) < self.headline.n_documents

    def passage_rank(self) -> dict[int, int]:
        """Rank (1 = most shared) of every listed passage, by passage id."""
        return {row.passage.passage_id: row.rank for row in self.passages}
