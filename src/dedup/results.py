"""Reading a scan's output folder back, and the documents it was made from.

The one place where the report, `show` and `passages` meet Parquet: tables
come out as numpy arrays and small frozen records, so that `dedup.report`
and the renderers never see Arrow. Large tables are read by column and
filtered on read (the spans of a few documents, the rows of a few
passages), so a report on a big scan reads little.

The tables hold no document text (labels live apart from the text), so
texts are read again from the paths given to the scan (`read_texts`), and
checked against the lengths the scan recorded.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dedup.config import InputConfig
from dedup.errors import InputError
from dedup.output import table_parts
from dedup.report import Passage, Span
from dedup.schemas import META_CONFIG, META_INPUTS, TABLES
from dedup.sources import Provenance, read_documents


@dataclass(frozen=True)
class DocumentsTable:
    """documents.parquet as arrays, one entry per document in id order."""

    ids: list[str]
    n_chars: np.ndarray  # int64
    boilerplate_chars: np.ndarray  # int64
    fraction: np.ndarray  # float64
    cluster: np.ndarray  # int64, meaningful where in_cluster
    in_cluster: np.ndarray  # bool
    is_representative: np.ndarray  # bool

    def row(self, doc_id: str) -> int | None:
        """Row of `doc_id`, or None when the scan has no such document."""
        at = bisect.bisect_left(self.ids, doc_id)
        return at if at < len(self.ids) and self.ids[at] == doc_id else None


def _path(scan_dir: Path, name: str) -> Path:
    path = scan_dir / f"{name}.parquet"
    if not table_parts(path) or not table_parts(path)[0].is_file():
        raise InputError(
            f"{path}: missing; give the output folder of dedup scan (it holds "
            f"{', '.join(sorted(TABLES))} .parquet files)",
            str(path),
        )
    return path


def _read(scan_dir: Path, name: str, columns: list[str], filters: Any = None) -> pa.Table:
    path = _path(scan_dir, name)
    try:
        return pq.read_table(path, columns=columns, filters=filters)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read the table ({exc})", str(path)) from exc


def _ints(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.fill_null(0).to_numpy(), dtype=np.int64)


def read_config(scan_dir: Path) -> dict[str, Any]:
    """The scan's config as recorded in documents.parquet's metadata (empty when absent)."""
    path = _path(scan_dir, "documents")
    try:
        meta = pq.read_schema(table_parts(path)[0]).metadata or {}
        raw = meta.get(META_CONFIG)
        config: dict[str, Any] = json.loads(raw) if raw else {}
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise InputError(f"{path}: cannot read the scan's config ({exc})", str(path)) from exc
    return config


def read_documents_table(scan_dir: Path) -> DocumentsTable:
    """Every row of documents.parquet, sorted by id."""
    table = _read(
        scan_dir,
        "documents",
        [
            "id",
            "n_chars",
            "boilerplate_chars",
            "boilerplate_fraction",
            "near_dup_cluster",
            "is_representative",
        ],
    ).sort_by("id")
    cluster = table.column("near_dup_cluster")
    return DocumentsTable(
        ids=table.column("id").to_pylist(),
        n_chars=_ints(table.column("n_chars")),
        boilerplate_chars=_ints(table.column("boilerplate_chars")),
        fraction=np.asarray(table.column("boilerplate_fraction").to_numpy(), dtype=np.float64),
        cluster=_ints(cluster),
        in_cluster=np.asarray(cluster.is_valid().to_numpy(zero_copy_only=False), dtype=bool),
        is_representative=np.asarray(
            table.column("is_representative").to_numpy(zero_copy_only=False), dtype=bool
        ),
    )


def count_rows(scan_dir: Path, name: str) -> int:
    """Rows of a table, from its footer (nothing else is read)."""
    path = _path(scan_dir, name)
    try:
        return sum(int(pq.ParquetFile(part).metadata.num_rows) for part in table_parts(path))
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read the table ({exc})", str(path)) from exc


def read_top_passages(scan_dir: Path, limit: int) -> list[Passage]:
    """The first `limit` rows of passages.parquet: the most shared passages.

    The scan writes the table sorted by document count, most first.
    """
    path = _path(scan_dir, "passages")
    columns = ["passage_id", "doc_count", "n_documents", "n_occurrences", "text", "id"]
    columns += ["start", "end"]
    rows: list[dict[str, Any]] = []
    try:
        for part in table_parts(path):
            for batch in pq.ParquetFile(part).iter_batches(
                batch_size=max(limit, 1), columns=columns
            ):
                rows.extend(batch.to_pylist()[: limit - len(rows)])
                if len(rows) >= limit:
                    break
            if len(rows) >= limit:
                break
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read the table ({exc})", str(path)) from exc
    return [
        Passage(
            passage_id=r["passage_id"],
            doc_count=r["doc_count"],
            n_documents=r["n_documents"],
            n_occurrences=r["n_occurrences"],
            text=r["text"],
            id=r["id"],
            start=r["start"],
            end=r["end"],
        )
        for r in rows
    ]


def read_spans(scan_dir: Path, ids: Iterable[str]) -> dict[str, list[Span]]:
    """The spans of the documents `ids`, in order, read with a filter on id."""
    wanted = sorted(set(ids))
    found: dict[str, list[Span]] = {doc: [] for doc in wanted}
    if not wanted:
        return found
    table = _read(
        scan_dir,
        "spans",
        ["id", "start", "end", "label", "passage_id", "doc_count", "score"],
        filters=[("id", "in", wanted)],
    )
    for row in table.to_pylist():
        boilerplate = row["label"] == "boilerplate"
        found[row["id"]].append(
            Span(
                start=row["start"],
                end=row["end"],
                passage_id=row["passage_id"] if boilerplate else None,
                doc_count=row["doc_count"] if boilerplate else None,
                score=row["score"] if boilerplate else None,
            )
        )
    for spans in found.values():
        spans.sort(key=lambda s: s.start)
    return found


def read_passage_documents(
    scan_dir: Path, passage_ids: Iterable[int], per_passage: int
) -> dict[int, list[str]]:
    """The first `per_passage` ids (sorted) of documents where each passage is a span.

    Computed in Arrow: a passage of a big corpus can sit in millions of documents.
    """
    wanted = sorted(set(passage_ids))
    if not wanted:
        return {}
    table = _read(scan_dir, "spans", ["id", "passage_id"], filters=[("passage_id", "in", wanted)])
    found: dict[int, list[str]] = {}
    for passage in wanted:
        ids = pc.unique(table.column("id").filter(pc.equal(table.column("passage_id"), passage)))
        found[passage] = ids.take(pc.array_sort_indices(ids)[:per_passage]).to_pylist()
    return found


def recorded_inputs(scan_dir: Path) -> tuple[list[str], InputConfig] | None:
    """The input paths and reading options a scan recorded, or None (an older scan)."""
    meta = pq.read_schema(table_parts(scan_dir / "documents.parquet")[0]).metadata or {}
    if META_INPUTS not in meta:
        return None
    return Provenance.parse(meta[META_INPUTS].decode())


def read_texts(
    docs: Sequence[str | Path],
    lengths: Mapping[str, int],
    passages: Sequence[Passage] = (),
    skip: Sequence[str | Path] = (),
    inputs: InputConfig | None = None,
) -> dict[str, str]:
    """Texts of the documents `lengths` names, read from the paths given to the scan.

    Documents are read as the scan read them (`inputs`: formats, fields,
    decode policy; default `InputConfig()`). Each text must have the length
    the scan recorded, and a passage's representative occurrence must still
    read the same, so that highlighted offsets land on the characters they
    labelled. `skip`: folders the scan left out (its output folder).

    Raises:
        InputError: a document is not under `docs`, cannot be read, or has
            changed since the scan (the message names the file).
    """
    wanted = set(lengths)
    texts: dict[str, str] = {}
    where: dict[str, str] = {}
    for doc in read_documents(docs, inputs or InputConfig(), skip, []):
        if doc.id in wanted:
            texts[doc.id], where[doc.id] = doc.text, doc.source
    shown = ", ".join(str(d) for d in docs)
    for doc_id, length in sorted(lengths.items()):
        if doc_id not in texts:
            raise InputError(
                f"{doc_id}: no such document under {shown}; pass --docs with the same paths "
                "that were given to dedup scan",
                doc_id,
            )
        if len(texts[doc_id]) != length:
            path = where[doc_id]
            raise InputError(
                f"{path}: has {len(texts[doc_id])} characters, the scan recorded {length}; the "
                "file changed since the scan: scan it again, or pass --docs with the files it "
                "scanned",
                path,
            )
    for passage in passages:
        held = texts.get(passage.id)
        if held is not None and held[passage.start : passage.end] != passage.text:
            path = where[passage.id]
            raise InputError(
                f"{path}: characters {passage.start}-{passage.end} no longer hold the passage "
                "the scan recorded there; the file changed since the scan: scan it again",
                str(path),
            )
    return texts
