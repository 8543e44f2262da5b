"""`dedup clean`: the scanned corpus with its boilerplate cut, ready for the next stage.

The scan's tables hold labels, not texts (labels live apart from the text,
as Dolma's attribute files do). Clean reads the inputs again, with the
paths and the reading options the scan recorded in its tables'
`dedup.inputs` metadata (or with paths given again, if the corpus moved),
in input order, joins each document to its labels by id, checks that its
text is the one scanned (length and `text_hash`), and writes one file (see
`dedup.clean_writers`) into an output folder that is replaced atomically.
Carried fields come from the inputs as they are read, so the scan never
holds them.

It only wires: cutting is `dedup.core.cleaning.cut_spans`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from dedup.clean_writers import CLEAN_FILES, CLEAN_FORMATS, open_writer
from dedup.config import InputConfig
from dedup.core.cleaning import cut_spans, text_hash
from dedup.errors import ConfigError, InputError
from dedup.output import check_target, staged, table_parts
from dedup.progress import ProgressFn, no_progress, tracked
from dedup.schemas import META_INPUTS, META_VERSION, SCHEMA_VERSION
from dedup.sources import Document, Problem, Provenance, list_sources, read_documents

I64 = NDArray[np.int64]


@dataclass(frozen=True)
class DocLabels:
    """What clean needs to know of one scanned document."""

    n_chars: int
    text_hash: int
    representative: bool
    near_duplicate: bool
    starts: I64
    ends: I64
    scores: NDArray[np.float64]


@dataclass(frozen=True)
class ScanLabels:
    """A scan's boilerplate spans per document id, and how its inputs were read."""

    roots: list[str]
    inputs: InputConfig
    docs: dict[str, DocLabels]


@dataclass(frozen=True)
class CleanSummary:
    """What clean wrote: counts of documents and characters, and the inputs' problems."""

    out: Path
    file: str
    n_documents: int
    n_written: int
    n_near_duplicates_dropped: int
    chars_in: int
    chars_cut: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return sum(p.action == "skipped" for p in self.problems)


def _scan_metadata(scan_dir: Path, name: str) -> dict[bytes, bytes]:
    """The metadata of a scan table, checked to be this version's."""
    path = scan_dir / f"{name}.parquet"
    if not path.exists():
        raise InputError(
            f"{scan_dir}: not a dedup scan folder (no {name}.parquet); give the --out of a scan",
            str(scan_dir),
        )
    meta: dict[bytes, bytes] = pq.read_schema(table_parts(path)[0]).metadata or {}
    version = meta.get(META_VERSION, b"?").decode()
    if version != SCHEMA_VERSION or META_INPUTS not in meta:
        raise InputError(
            f"{scan_dir}: written by schema version {version}, clean needs version "
            f"{SCHEMA_VERSION}; scan the inputs again with this dedup",
            str(scan_dir),
        )
    return meta


def load_labels(scan_dir: Path) -> ScanLabels:
    """The boilerplate spans and near-duplicate flags of a scan, per document id.

    Raises:
        InputError: `scan_dir` is not the output of a scan by this version.
    """
    meta = _scan_metadata(scan_dir, "documents")
    _scan_metadata(scan_dir, "spans")
    roots, inputs = Provenance.parse(meta[META_INPUTS].decode())
    documents = pq.read_table(
        scan_dir / "documents.parquet",
        columns=["id", "n_chars", "text_hash", "near_dup_cluster", "is_representative"],
    )
    spans = pq.read_table(
        scan_dir / "spans.parquet", columns=["id", "start", "end", "label", "score"]
    )
    spans = spans.filter(pc.equal(spans.column("label"), "boilerplate"))
    # Spans are sorted by (id, start): one slice per document.
    span_ids = spans.column("id").to_pylist()
    starts = spans.column("start").to_numpy()
    ends = spans.column("end").to_numpy()
    scores = spans.column("score").to_numpy(zero_copy_only=False)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, doc_id in enumerate(span_ids):
        first.setdefault(doc_id, i)
        last[doc_id] = i + 1
    docs: dict[str, DocLabels] = {}
    for row in documents.to_pylist():
        doc_id = str(row["id"])
        lo, hi = first.get(doc_id, 0), last.get(doc_id, 0)
        docs[doc_id] = DocLabels(
            n_chars=int(row["n_chars"]),
            text_hash=int(row["text_hash"]),
            representative=bool(row["is_representative"]),
            near_duplicate=row["near_dup_cluster"] is not None,
            starts=starts[lo:hi],
            ends=ends[lo:hi],
            scores=scores[lo:hi],
        )
    return ScanLabels(roots, inputs, docs)


def _labels_of(doc: Document, labels: ScanLabels, scan_dir: Path) -> DocLabels:
    """The scan's labels of `doc`, after checking that its text is the scanned one."""
    found = labels.docs.get(doc.id)
    if found is None:
        raise InputError(
            f"{doc.source}: document {doc.id!r} is not in the scan {scan_dir}; the inputs "
            "changed since the scan: scan them again, or give the scanned paths",
            doc.source,
        )
    if found.n_chars != len(doc.text) or found.text_hash != text_hash(doc.text):
        raise InputError(
            f"{doc.source}: the text of {doc.id!r} is not the one scanned in {scan_dir}; "
            "scan the inputs again",
            doc.source,
        )
    return found


def clean(
    scan_dir: str | Path,
    out: str | Path,
    fmt: str = "parquet",
    representatives_only: bool = False,
    paths: Sequence[str | Path] | None = None,
    force: bool = False,
    progress: ProgressFn = no_progress,
) -> CleanSummary:
    """Write the scanned documents with boilerplate cut, or their labels as Dolma attributes.

    Args:
        scan_dir: output folder of `dedup scan`.
        out: folder to write `clean.parquet`, `clean.jsonl` or `attributes.jsonl` into.
        fmt: "parquet", "jsonl" or "dolma" (see `dedup.clean_writers`).
        representatives_only: leave out documents that are near-duplicates of
            another (keeping each cluster's representative).
        paths: the scanned inputs, when they are no longer where the scan
            recorded them.
        force: replace an existing `out`.
        progress: told of the files and bytes read ("clean" ticks); it does
            not change the output.

    Raises:
        ConfigError: an unknown format, or `representatives_only` with "dolma".
        InputError: `scan_dir` is no scan, or the inputs are not the scanned ones.
        OutputError: `out` exists without `force`, or cannot be written.
    """
    if fmt not in CLEAN_FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(CLEAN_FORMATS)}, got {fmt!r}")
    if representatives_only and fmt == "dolma":
        raise ConfigError(
            "--representatives-only does not apply to --format dolma: its attribute file has "
            "one row per document and marks near-duplicates in dedup__near_duplicate"
        )
    scan_path, target = Path(scan_dir), Path(out)
    labels = load_labels(scan_path)
    roots: list[str | Path] = list(paths) if paths else list(labels.roots)
    name = CLEAN_FILES[fmt]
    # The scan folder counts as an input: --force must never replace it.
    check_target(target, force, [*roots, scan_path], allowed={name})
    problems: list[Problem] = []
    skip = [target, scan_path]
    sources = list_sources(roots, labels.inputs, skip, [])
    docs = tracked(
        read_documents(roots, labels.inputs, skip, problems, carry=fmt != "dolma"),
        sources,
        progress,
        "clean",
    )
    seen: set[str] = set()
    written = dropped = chars_in = chars_cut = 0
    with staged(target, force, allowed={name}) as staging:
        with open_writer(fmt, staging / name, labels.inputs, sources) as writer:
            for doc in docs:
                found = _labels_of(doc, labels, scan_path)
                seen.add(doc.id)
                chars_in += len(doc.text)
                if fmt == "dolma":
                    marked = found.near_duplicate and not found.representative
                    writer.attributes(doc, found.starts, found.ends, found.scores, marked)
                    written += 1
                    continue
                if representatives_only and not found.representative:
                    dropped += 1
                    continue
                kept = cut_spans(doc.text, found.starts, found.ends)
                chars_cut += len(doc.text) - len(kept)
                writer.document(doc, kept)
                written += 1
        missing = [doc_id for doc_id in labels.docs if doc_id not in seen]
        if missing:
            raise InputError(
                f"{len(missing)} scanned documents were not found in the inputs (first: "
                f"{missing[0]!r}); give the scanned paths, or scan again",
                missing[0],
            )
    return CleanSummary(target, name, len(seen), written, dropped, chars_in, chars_cut, problems)
