"""The runners of `dedup report`, `show` and `passages`: read -> compute -> render.

They only wire: tables and texts come from `dedup.results`, figures from
the pure functions of `dedup.report`, HTML from `dedup.html_report`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from dedup.config import InputConfig
from dedup.errors import ConfigError, InputError, OutputError
from dedup.html_report import render_html
from dedup.report import (
    Cluster,
    ClusterView,
    DocumentView,
    Passage,
    PassageRow,
    ReportData,
    ReportLimits,
    Span,
    clusters,
    headline,
    histogram,
    line_diff,
    sample_documents,
    segments,
)
from dedup.results import (
    DocumentsTable,
    count_rows,
    read_config,
    read_documents_table,
    read_passage_documents,
    read_spans,
    read_texts,
    read_top_passages,
    recorded_inputs,
)

# How many ids `show` compares with a mistyped one to suggest a name.
_SUGGEST_FROM = 100_000


def _inputs(
    scan_dir: Path, docs: Sequence[str | Path]
) -> tuple[Sequence[str | Path], InputConfig | None]:
    """Where to read the texts: `docs` when given, else the inputs the scan recorded."""
    recorded = recorded_inputs(scan_dir)
    if docs:
        return docs, recorded[1] if recorded else None
    if recorded is None:
        raise ConfigError(
            f"{scan_dir}: the tables hold no document text; pass --docs with the paths "
            "that were given to dedup scan"
        )
    for path in recorded[0]:
        if not Path(path).exists():
            raise InputError(
                f"{path}: the scan read its documents here, and they are gone; "
                "pass --docs with where they are now",
                path,
            )
    return recorded


def _views(
    table: DocumentsTable,
    texts: dict[str, str],
    spans: dict[str, list[Span]],
    doc_chars: int,
) -> list[DocumentView]:
    views = []
    for doc in sorted(texts):
        row = table.row(doc)
        if row is None:  # every id here came from the table
            continue
        text = texts[doc]
        views.append(
            DocumentView(
                id=doc,
                n_chars=len(text),
                boilerplate_fraction=float(table.fraction[row]),
                cluster_id=int(table.cluster[row]) if table.in_cluster[row] else None,
                segments=segments(text, spans.get(doc, []), doc_chars),
                truncated=len(text) > doc_chars,
            )
        )
    return views


def _pick(
    folder: Path,
    table: DocumentsTable,
    top: list[Passage],
    shown: list[Cluster],
    limits: ReportLimits,
) -> list[str]:
    """The documents to show: those the diffs and passage links need first, then a sample."""
    holders = read_passage_documents(folder, [p.passage_id for p in top], per_passage=3)
    first = [c.representative for c in shown]
    first += [c.members[0] for c in shown if c.members]
    first += [doc for p in top for doc in holders.get(p.passage_id, [])]
    return sample_documents(
        table.ids,
        table.n_chars.tolist(),
        first,
        limits.max_docs,
        limits.max_chars,
        limits.doc_chars,
    )


def _passage_rows(
    top: list[Passage], picked: list[str], spans: dict[str, list[Span]]
) -> list[PassageRow]:
    rows = []
    for rank, passage in enumerate(top, 1):
        shown = [d for d in picked if any(s.passage_id == passage.passage_id for s in spans[d])]
        rows.append(PassageRow(rank, passage, shown, passage.n_documents - len(shown)))
    return rows


def _cluster_view(cluster: Cluster, texts: dict[str, str], max_rows: int) -> ClusterView:
    """A cluster with the diff of its first member, when both texts are in the sample."""
    member = cluster.members[0] if cluster.members else None
    if member is None or member not in texts or cluster.representative not in texts:
        return ClusterView(cluster, member, [])
    diff = line_diff(texts[cluster.representative], texts[member], max_rows=max_rows)
    return ClusterView(cluster, member, diff)


def build_report(
    scan_dir: str | Path, docs: Sequence[str | Path], limits: ReportLimits | None = None
) -> ReportData:
    """Read a scan's tables and a sample of its documents into what a report shows.

    Documents that the top passages or the cluster diffs point to are
    sampled first (see `sample_documents`).

    Raises:
        ConfigError: no `docs` given and none recorded by the scan.
        InputError: a table is missing or unreadable, or a document is
            missing or changed since the scan.
    """
    folder = Path(scan_dir)
    limits = limits or ReportLimits()
    table = read_documents_table(folder)
    paths, reading = _inputs(folder, docs)
    top = read_top_passages(folder, limits.passages)
    found = clusters(table.ids, table.cluster, table.in_cluster, table.is_representative)
    shown_clusters = found[: limits.clusters]
    picked = _pick(folder, table, top, shown_clusters, limits)
    lengths = dict(zip(table.ids, table.n_chars.tolist(), strict=True))
    texts = read_texts(paths, {d: lengths[d] for d in picked}, top, skip=[folder], inputs=reading)
    spans = read_spans(folder, picked)
    return ReportData(
        title=f"dedup report: {_names(paths)}",
        headline=headline(
            table.n_chars,
            table.boilerplate_chars,
            table.cluster,
            table.in_cluster,
            count_rows(folder, "passages"),
            count_rows(folder, "errors"),
        ),
        config=read_config(folder),
        histogram=histogram(table.fraction),
        passages=_passage_rows(top, picked, spans),
        documents=_views(table, texts, spans, limits.doc_chars),
        clusters=[_cluster_view(c, texts, limits.diff_rows) for c in shown_clusters],
        n_clusters=len(found),
        limits=limits,
    )


def _names(docs: Sequence[str | Path]) -> str:
    """The scanned folders' names, for a title: paths on the reader's machine say little."""
    names = [Path(os.path.normpath(d)).name or str(d) for d in docs]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def write_text_atomically(path: Path, text: str) -> None:
    """Write `path` under a temporary name, then rename: never a half-written file.

    Raises:
        OutputError: the file cannot be written (the message says why).
    """
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot write the report ({exc.strerror or exc}); check the folder "
            "exists and is writable, or choose another --html"
        ) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_report(
    scan_dir: str | Path,
    docs: Sequence[str | Path],
    html: str | Path,
    limits: ReportLimits | None = None,
) -> ReportData:
    """Write the HTML report of a scan to `html` (one self-contained file); return its data.

    Raises:
        ConfigError, InputError: as `build_report`.
        OutputError: `html` cannot be written.
    """
    data = build_report(scan_dir, docs, limits)
    write_text_atomically(Path(html), render_html(data))
    return data


def show_document(scan_dir: str | Path, doc_id: str, docs: Sequence[str | Path]) -> DocumentView:
    """One document of a scan, whole, cut into segments to highlight.

    Raises:
        ConfigError: no `docs` given.
        InputError: no such document in the scan (with close names, if any),
            or its file is missing or changed since the scan.
    """
    import difflib

    folder = Path(scan_dir)
    table = read_documents_table(folder)
    row = table.row(doc_id)
    if row is None:
        close = difflib.get_close_matches(doc_id, table.ids[:_SUGGEST_FROM], n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(
            f"{doc_id}: no such document in {folder}/documents.parquet{hint}; "
            "ids are paths relative to the scanned folder",
            doc_id,
        )
    paths, reading = _inputs(folder, docs)
    length = int(table.n_chars[row])
    texts = read_texts(paths, {doc_id: length}, skip=[folder], inputs=reading)
    return _views(table, texts, read_spans(folder, [doc_id]), max(length, 1))[0]


def list_passages(scan_dir: str | Path, limit: int) -> tuple[list[Passage], int]:
    """The `limit` most shared passages of a scan, and how many passages it has.

    Raises:
        ConfigError: `limit` is below 1.
        InputError: passages.parquet is missing or unreadable.
    """
    if limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    folder = Path(scan_dir)
    return read_top_passages(folder, limit), count_rows(folder, "passages")
