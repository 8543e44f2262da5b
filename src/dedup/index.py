"""The runner of the index: open it, check documents against it, add documents to it.

An output folder is an index: beside the scan's tables it holds DIR/index/
(the texts and the arrays of `IndexParts`) and, while a server has
documents not yet folded in, DIR/log/ (`dedup.wal`). This module only
wires: reading and writing go through `arrow_index` and `output`, labelling
through `dedup.core`.

`add` re-runs the whole analysis over the stored texts and the new ones and
replaces the folder atomically, so the tables are those of one scan of
everything (README, "What add costs"). `check` builds a `Lookup` once and
labels documents against it, changing nothing.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import fcntl
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from dedup.arrow import to_tables
from dedup.arrow_index import (
    INDEX_DIR,
    META_APPLIED,
    build_index_tables,
    checked_spans_table,
    near_duplicates_table,
    parts_from_tables,
)
from dedup.config import InputConfig, ScanConfig
from dedup.core.check import CheckResult, check_document
from dedup.core.groups import group_of
from dedup.core.lookup import Lookup, build_lookup
from dedup.core.pipeline import Analysis, analyze
from dedup.errors import ConfigError, DuplicateIdError, InputError, OutputError
from dedup.output import Writable, table_parts, write_output
from dedup.progress import ProgressFn, Tick, no_progress, tracked
from dedup.runner import (
    ScanSummary,
    _numba_threads,
    _set_numba_threads,
    summarize,
    use_workers,
)
from dedup.schemas import INDEX_TABLES, META_CONFIG, META_INPUTS
from dedup.sources import Problem, Provenance, list_sources, read_documents

LOG_DIR = "log"


@dataclass(frozen=True)
class Span:
    """One span of a checked document, as `/v1/check` returns it."""

    start: int
    end: int
    label: str
    passage_id: int | None
    doc_count: int | None
    score: float | None


@dataclass(frozen=True)
class Labels:
    """A checked document: its spans (they tile it) and its near-duplicates (id, similarity)."""

    id: str | None
    spans: list[Span]
    near_duplicates: list[tuple[str, float]]


@dataclass(frozen=True)
class IndexView:
    """An opened index, immutable: readers may share it across threads.

    `passages` and `documents` are the scan's tables, sorted by passage id
    and by id; `applied_seq` is the last log record folded in.
    """

    path: Path
    cfg: ScanConfig
    ids: list[str]
    lookup: Lookup
    applied_seq: int
    passages: pa.Table
    documents: pa.Table
    passage_keys: NDArray[np.int64]

    def row(self, doc_id: str) -> int | None:
        """Row of an indexed document, None when it is not in the index."""
        at = bisect.bisect_left(self.ids, doc_id)
        return at if at < len(self.ids) and self.ids[at] == doc_id else None

    def passage(self, passage_id: int) -> dict[str, Any] | None:
        """The passages.parquet row of a passage, None when unknown."""
        keys = self.passage_keys
        at = int(np.searchsorted(keys, passage_id))
        if at >= len(keys) or keys[at] != passage_id:
            return None
        row: dict[str, Any] = self.passages.slice(at, 1).to_pylist()[0]
        return row

    def document(self, doc_id: str) -> dict[str, Any] | None:
        """The documents.parquet row of a document, None when it is not in the index."""
        at = self.row(doc_id)
        if at is None:
            return None
        row: dict[str, Any] = self.documents.slice(at, 1).to_pylist()[0]
        return row

    def group(self, doc_id: str | None, group: str | None) -> str | None:
        """The `--group-by` group of a document: given, else from its id."""
        if self.cfg.group_by == "none":
            return None
        if group is not None:
            return group
        return group_of(doc_id, self.cfg.group_by) if doc_id is not None else ""

    def check(self, text: str, doc_id: str | None = None, group: str | None = None) -> Labels:
        """Labels of one document against this index (see `core.check`)."""
        result = check_document(self.lookup, text, self.group(doc_id, group))
        return labels(self, doc_id, result)


def labels(view: IndexView, doc_id: str | None, result: CheckResult) -> Labels:
    """A `CheckResult` with labels, passage ids and near-duplicate ids as plain values."""
    spans = [
        Span(s, e, "boilerplate", p, c, sc) if b else Span(s, e, "unique", None, None, None)
        for s, e, b, p, c, sc in zip(
            result.start.tolist(),
            result.end.tolist(),
            result.boilerplate.tolist(),
            result.passage.tolist(),
            result.doc_count.tolist(),
            result.score.tolist(),
            strict=True,
        )
    ]
    near = [
        (view.ids[d], s)
        for d, s in zip(result.near_doc.tolist(), result.near_similarity.tolist(), strict=True)
    ]
    return Labels(doc_id, spans, near)


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    if not path.is_file():
        raise InputError(
            f"{path}: missing; give the output folder of dedup scan (made without --no-index)",
            str(path),
        )
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read the table ({exc})", str(path)) from exc


def read_config(folder: Path) -> ScanConfig:
    """The config an index was made with (from its texts table's metadata)."""
    meta = pq.read_schema(_index_file(folder, "texts")).metadata or {}
    if META_CONFIG not in meta:
        raise InputError(f"{folder}: the index records no config; scan again", str(folder))
    return ScanConfig.from_json(meta[META_CONFIG].decode())


def _index_file(folder: Path, name: str) -> Path:
    path = folder / INDEX_DIR / f"{name}.parquet"
    if not path.is_file():
        raise InputError(
            f"{folder}: not an index ({INDEX_DIR}/{name}.parquet missing); "
            "scan into it with dedup scan (without --no-index) first",
            str(folder),
        )
    return path


def open_index(folder: str | Path) -> IndexView:
    """Read an index and build its lookup; it reads no document text.

    Raises:
        InputError: `folder` is not an index or a table cannot be read.
    """
    path = Path(folder)
    tables = {name: _read(_index_file(path, name)) for name in INDEX_TABLES if name != "texts"}
    meta = pq.read_schema(_index_file(path, "texts")).metadata or {}
    scan_tables = {
        "documents": _read(path / "documents.parquet"),
        "passages": _read(path / "passages.parquet"),
        "spans": _read(path / "spans.parquet", ["id", "passage_id"]),
    }
    return view_of(path, read_config(path), tables, scan_tables, _applied(meta))


def _applied(meta: dict[bytes, bytes]) -> int:
    return int(meta.get(META_APPLIED, b"0").decode())


def view_of(
    path: Path,
    cfg: ScanConfig,
    index: dict[str, pa.Table],
    scan_tables: dict[str, pa.Table],
    applied_seq: int,
) -> IndexView:
    """An `IndexView` from tables in memory (as read, or as just written)."""
    documents = scan_tables["documents"]
    ids: list[str] = documents.column("id").to_pylist()
    parts = parts_from_tables(index["contents"], index["holders"], index["docs"])
    if len(parts.doc_group) != len(ids):
        raise InputError(f"{path}: the index and documents.parquet disagree; scan again", str(path))
    spans = scan_tables["spans"].filter(scan_tables["spans"].column("passage_id").is_valid())
    span_doc = pc.index_in(spans.column("id"), value_set=documents.column("id"))
    groups = documents.column("group").to_pylist() if cfg.group_by != "none" else None
    names = sorted(set(groups)) if groups is not None else None
    lookup = build_lookup(
        parts,
        np.asarray(spans.column("passage_id").to_numpy(), dtype=np.int64),
        np.asarray(span_doc.to_numpy(zero_copy_only=False), dtype=np.int64),
        names,
        cfg,
    )
    passages = scan_tables["passages"].sort_by("passage_id")
    keys = np.asarray(passages.column("passage_id").to_numpy(), dtype=np.int64)
    return IndexView(path, cfg, ids, lookup, applied_seq, passages, documents, keys)


def stats(view: IndexView) -> dict[str, Any]:
    """Headline figures of an index."""
    docs = view.documents
    n_chars = int(pc.sum(docs.column("n_chars")).as_py() or 0)
    boiler = int(pc.sum(docs.column("boilerplate_chars")).as_py() or 0)
    clusters = docs.column("near_dup_cluster")
    return {
        "documents": len(view.ids),
        "passages": view.passages.num_rows,
        "characters": n_chars,
        "boilerplate_characters": boiler,
        "near_duplicate_documents": len(clusters) - clusters.null_count,
        "applied_seq": view.applied_seq,
    }


@contextlib.contextmanager
def writer_lock(folder: Path) -> Iterator[None]:
    """Hold the one-writer lock of an index (a lock file beside it) for the block.

    Raises:
        OutputError: another process (an add, a server) holds it.
    """
    lock = folder.parent / f".{folder.name}.lock"
    try:
        handle = open(lock, "a+")  # noqa: SIM115  (held for the whole block)
    except OSError as exc:
        raise OutputError(f"{lock}: cannot create the index lock ({exc.strerror})") from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(
                f"{folder}: another dedup process (add or serve) is writing this index; "
                "wait for it, or stop it, and try again"
            ) from None
        yield
    finally:
        handle.close()


def stored_texts(folder: Path) -> tuple[list[str], list[str]]:
    """(ids, texts) of every indexed document, in id order."""
    table = _read(_index_file(folder, "texts"))
    return table.column("id").to_pylist(), table.column("text").to_pylist()


def stored_provenance(folder: Path) -> Provenance | None:
    """Where the indexed documents were read from, as the tables record it (None: not recorded)."""
    path = folder / "documents.parquet"
    meta = pq.read_schema(table_parts(path)[0]).metadata or {}
    if META_INPUTS not in meta:
        return None
    roots, inputs = Provenance.parse(meta[META_INPUTS].decode())
    table = pq.read_table(path, columns=["id", "source", "row"])
    origins = {
        doc_id: (source, row)
        for doc_id, source, row in zip(
            table.column("id").to_pylist(),
            table.column("source").to_pylist(),
            table.column("row").to_pylist(),
            strict=True,
        )
        if source is not None
    }
    return Provenance(inputs, tuple(roots), origins)


def stored_problems(folder: Path) -> list[Problem]:
    """The rows of errors.parquet, as the problems of the documents indexed so far."""
    table = _read(folder / "errors.parquet")
    return [Problem(**row) for row in table.to_pylist()]


@dataclass(frozen=True)
class Rebuilt:
    """A re-analysed index, written: its summary and a view of it."""

    summary: ScanSummary
    view: IndexView


@dataclass(frozen=True)
class Staged:
    """The tables of an index with documents added, analysed but not written yet."""

    folder: Path
    cfg: ScanConfig
    result: Analysis
    tables: dict[str, Writable]
    applied_seq: int

    def write(self, keep: Callable[[Path], None] | None = None) -> Rebuilt:
        """Replace the index folder with these tables, atomically.

        `keep` is called with the staging folder before the swap, to put
        there what must survive it (a server's live log).
        """
        write_output(self.folder, self.tables, force=True, prepare=keep)
        index = {
            name.split("/", 1)[1]: table
            for name, table in self.tables.items()
            if name.startswith(f"{INDEX_DIR}/")
        }
        scans = {name: self.tables[name] for name in ("documents", "passages", "spans")}
        view = view_of(self.folder, self.cfg, index, scans, self.applied_seq)
        return Rebuilt(summarize(self.result, self.folder), view)


def stage(
    folder: Path,
    ids: Sequence[str],
    texts: Sequence[str],
    problems: Sequence[Problem],
    applied_seq: int,
    workers: int | None = None,
    origins: Mapping[str, tuple[str, int | None]] | None = None,
    roots: Sequence[str | Path] = (),
) -> Staged:
    """Analyse the stored texts with new documents; the tables of one scan of all of them.

    Args:
        folder: the index.
        ids, texts: the new documents; their ids must not be indexed yet.
        problems: new inputs skipped or altered (added to errors.parquet).
        applied_seq: the last log record these documents include.
        workers: threads of the compiled stages (every core by default).
        origins: the new documents' (source file, line or row), when read
            from files (documents sent over HTTP have none).
        roots: the paths the new documents were read from; the recorded
            inputs become the union with the indexed ones, as one scan of
            all the paths would record them.

    Raises:
        DuplicateIdError: a new id is indexed already or given twice.
        InputError: the index cannot be read.
    """
    cfg = read_config(folder)
    old_ids, old_texts = stored_texts(folder)
    known = set(old_ids)
    for doc_id in ids:
        if doc_id in known:
            raise DuplicateIdError(
                f"{doc_id}: already in the index {folder}; give new documents only", doc_id
            )
    all_problems = [*stored_problems(folder), *problems]
    previous = use_workers(workers)
    try:
        threads = _numba_threads()
        result = analyze(
            [*old_ids, *ids], [*old_texts, *texts], cfg, threads, keep_document_sets=True
        )
        extra = build_index_tables(result, cfg, threads, applied_seq)
    finally:
        _set_numba_threads(previous)
    old = stored_provenance(folder)
    provenance = None
    if old is not None:
        provenance = Provenance(
            old.inputs,
            tuple(sorted({*old.roots, *(os.path.abspath(p) for p in roots)})),
            {**old.origins, **(origins or {})},
        )
    tables = to_tables(result, cfg, list(all_problems), provenance) | extra
    return Staged(folder, cfg, result, tables, applied_seq)


def add(
    folder: str | Path,
    paths: Sequence[str | Path],
    on_decode_error: str = "replace",
    workers: int | None = None,
    progress: ProgressFn = no_progress,
) -> ScanSummary:
    """`dedup add`: read files and folders as `scan` does and add them to the index at `folder`.

    `progress` is told of the files read ("read" ticks) and of the analysis
    and the writing; it does not change the tables.

    Documents still in the log (acknowledged by a server that stopped) are
    folded in too. The tables become those of one scan of everything.

    Raises:
        InputError: a path is missing or holds no file, `folder` is no index.
        DuplicateIdError: a new document has the id of an indexed one.
        OutputError: another process writes the index, or it cannot be written.
    """
    from dedup import wal

    target = Path(folder)
    read_config(target)
    with writer_lock(target):
        problems: list[Problem] = []
        recorded = stored_provenance(target)
        # New documents are read as the indexed ones were (formats, fields).
        reading = dataclasses.replace(
            recorded.inputs if recorded else InputConfig(), on_decode_error=on_decode_error
        )
        docs = list(
            tracked(
                read_documents(paths, reading, [target], problems),
                list_sources(paths, reading, [target], []),
                progress,
            )
        )
        if not docs and not problems:
            raise ConfigError("nothing to add")
        applied = _applied(pq.read_schema(_index_file(target, "texts")).metadata or {})
        pending = [r for r in wal.read_log(target / LOG_DIR) if r.seq > applied]
        last = max([applied, *(r.seq for r in pending)])
        ids = [r.id for r in pending] + [d.id for d in docs]
        texts = [r.text for r in pending] + [d.text for d in docs]
        origins = {d.id: (d.source, d.row) for d in docs}
        progress(Tick("analyse", files_total=len(ids)))
        staged = stage(target, ids, texts, problems, last, workers, origins, paths)
        progress(Tick("analyse", files_done=len(ids), files_total=len(ids), finished=True))
        progress(Tick("write", files_total=1))
        rebuilt = staged.write()
        progress(Tick("write", files_done=1, files_total=1, finished=True))
    return replace(rebuilt.summary, problems=problems)


def check_paths(
    folder: str | Path, paths: Sequence[str | Path], on_decode_error: str = "replace"
) -> tuple[IndexView, list[Labels], list[str], list[Problem]]:
    """`dedup check`: label files against the index without adding them.

    Returns the view, the labels and texts of every usable document (ids as
    `scan` gives them) and the inputs that were skipped or altered.
    """
    view = open_index(folder)
    problems: list[Problem] = []
    reading = InputConfig(on_decode_error=on_decode_error)
    docs = list(read_documents(paths, reading, [Path(folder)], problems))
    return view, [view.check(d.text, d.id) for d in docs], [d.text for d in docs], problems


def write_checked(
    out: Path, view: IndexView, labelled: Sequence[Labels], texts: Sequence[str], force: bool
) -> None:
    """`dedup check --out`: spans.parquet and near_duplicates.parquet of checked documents.

    Raises:
        OutputError: `out` exists without `force`, or cannot be written.
    """
    spans = [
        [(s.start, s.end, s.label, s.passage_id, s.doc_count, s.score) for s in lab.spans]
        for lab in labelled
    ]
    ids = [lab.id or "" for lab in labelled]
    near = [(lab.id or "", i, sim) for lab in labelled for i, sim in lab.near_duplicates]
    tables = {
        "spans": checked_spans_table(ids, texts, spans, view.cfg.to_json()),
        "near_duplicates": near_duplicates_table(near),
    }
    write_output(out, tables, force)
